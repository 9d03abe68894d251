"""Export a pair's analytics to CSV: python analytics_engine.py --db ticks.db --symbols BTCUSDT,ETHUSDT --out pair.csv"""
import sys

from pairdesk.analytics_cli import main

if __name__ == "__main__":
    sys.exit(main())
