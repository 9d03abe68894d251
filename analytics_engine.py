"""Export a pair's analytics to CSV: python analytics_engine.py --db ticks.db --symbols BTCUSDT,ETHUSDT --out pair.csv
or scan every pair of the watchlist: python analytics_engine.py scan --db ticks.db --timeframe 1m --lookback 7d --out scan.csv"""
import sys

from pairdesk.analytics_cli import main

if __name__ == "__main__":
    sys.exit(main())
