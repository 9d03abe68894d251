"""The ingestor: python data_ingestor.py --db ticks.db --symbols btcusdt,ethusdt (see README)"""
import sys

from pairdesk.ingest.cli import main

if __name__ == "__main__":
    sys.exit(main())
