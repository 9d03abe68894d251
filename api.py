"""The REST API: python api.py --db ticks.db --port 8000"""
import sys

from pairdesk.api.cli import main

if __name__ == "__main__":
    sys.exit(main())
