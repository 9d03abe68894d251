"""Bars at a timeframe read from the stored one-second bars: the newest ones (``/api/ohlc``,
``/api/stats``) and the bounds of a whole range (``/api/export/ohlc.csv``)."""
from __future__ import annotations

import sqlite3

import pandas as pd

from pairdesk import analytics, store
from pairdesk.api.params import TimeRange


def bar_window(conn: sqlite3.Connection, symbol: str, timeframe: str, span: TimeRange) -> tuple[int, int] | None:
    """One-second bar bounds [lo, hi) holding every whole ``timeframe`` bar of ``symbol`` that starts in
    ``span``, narrowed to the bars stored; None when the symbol has no bar."""
    extent = store.bar_time_range(conn, symbol)
    if extent is None:
        return None
    tf_ms = analytics.timeframe_ms(timeframe)
    first, last = extent
    stored_lo, stored_hi = first - first % tf_ms, last - last % tf_ms + tf_ms
    lo, hi = span.bar_bounds(timeframe)
    return max(stored_lo, lo or 0), min(stored_hi, stored_hi if hi is None else hi)


def empty_bars(timeframe: str) -> pd.DataFrame:
    """No bars, with the columns and types of ``analytics.resample_bars``."""
    return analytics.resample_bars(pd.DataFrame(columns=store.BAR_COLUMNS), timeframe)


def recent_bars(conn: sqlite3.Connection, symbol: str, timeframe: str, count: int, span: TimeRange) -> pd.DataFrame:
    """The last ``count`` ``timeframe`` bars of ``symbol`` starting in ``span`` (whole bars), oldest first.

    Reads back from the end of the range only as far as needed (a stretch four times wider each
    time), so the last 1000 bars of a month-long database cost about what they cost on an hour.
    """
    window = bar_window(conn, symbol, timeframe, span)
    if window is None:
        return empty_bars(timeframe)
    lowest, hi = window
    stretch = count * analytics.timeframe_ms(timeframe)
    while True:
        lo = max(hi - stretch, lowest)
        bars = analytics.resample_bars(store.read_bars_1s(conn, symbol, lo, hi), timeframe)
        if len(bars) >= count or lo <= lowest:
            return bars.tail(count).reset_index(drop=True)
        stretch *= 4
