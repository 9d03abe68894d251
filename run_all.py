"""Start the whole desk: python run_all.py [--demo]"""
import sys

from pairdesk.launcher import main

if __name__ == "__main__":
    sys.exit(main())
