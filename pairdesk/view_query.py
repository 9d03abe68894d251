"""The dashboard's query string: which key carries which setting, and the names of the live tabs.

A link to the page names its view in the query string, e.g.
``http://127.0.0.1:8501/?a=BTCUSDT&b=ETHUSDT&tf=1s&tab=spread``. The dashboard reads and writes these
keys (``pairdesk.dashboard.url_state``: what each value may be, the fallback), the alert
notifications build their links with them (``pairdesk.alerts.links``); this module is the one place
their names live. Keys are the ``Settings`` field names of the dashboard, short where a link gets long.
"""
from __future__ import annotations

# Settings field -> query key, in the order a link lists them.
SETTING_KEYS = {
    "symbol_a": "a",            # the dependent leg
    "symbol_b": "b",            # the hedge leg
    "timeframe": "tf",          # 1s, 5s, ... 1h
    "lookback": "lookback",     # 5min, 15min, 1h, 4h, 12h, 24h
    "window": "window",         # bars of the z-score's and the correlations' windows
    "z_threshold": "z",         # the chart's ± bands
    "hedge": "hedge",           # rolling, expanding, kalman, huber, theilsen, ols_insample
    "hedge_window": "hw",       # bars the hedge is estimated on
    "spread_kind": "kind",      # price, log, ratio
    "notional": "notional",     # quote currency of leg A
    "correlation": "corr",      # returns, prices: what the correlations are of
    "tz": "tz",                 # display time zone (IANA name)
}
TAB_KEY = "tab"  # the live view's tab, by one of LIVE_TABS

# The live view's tabs, as a link names them (the page shows them with their labels).
PAIR_TAB, SYMBOL_TAB = "spread", "prices"  # a pair's spread and z-score; one symbol's prices
LIVE_TABS = (PAIR_TAB, SYMBOL_TAB, "costs", "funding", "correlation", "downloads")
