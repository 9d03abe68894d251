"""The local Binance-format exchange: python exchange_sim.py --port 9000"""
import sys

from pairdesk.sim import main

if __name__ == "__main__":
    sys.exit(main())
