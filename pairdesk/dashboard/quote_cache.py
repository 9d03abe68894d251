"""Each symbol's recent quote seconds in memory, shared by every session, brought up to date
incrementally (as ``data.BarCache`` does for bars), and the quotes of the charted window cut from them.

A stored quote second never changes (``store.store_quote_bars`` ignores a second already stored), so
a refresh reads only the seconds after the newest one held, then checks with one count that no
older second was added meanwhile (an import of a period the live feed missed); if one was, it reads
the retained stretch again. The frame handed out is never modified afterwards.
"""
from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pandas as pd
import streamlit as st

from pairdesk import store
from pairdesk.quote_data import LegQuotes

RETAIN_MS = 26 * 3_600_000  # as the bars: the longest lookback plus its warm-up


class QuoteCache:
    """One symbol's quote seconds of the last ``retain_ms`` (and the one before them: the book standing
    at the retained stretch's start)."""

    def __init__(self, symbol: str, retain_ms: int = RETAIN_MS) -> None:
        self.symbol = symbol
        self.retain_ms = retain_ms
        self.seconds = pd.DataFrame(columns=store.QUOTE_COLUMNS)
        self.loaded = False
        self.full_reads = 0  # how often the retained stretch was read whole (the first refresh, an import)
        self._lock = threading.Lock()

    def _read_all(self, conn: sqlite3.Connection) -> pd.DataFrame:
        self.full_reads += 1
        newest = store.last_quote_ms(conn, self.symbol)
        if newest is None:
            return store.read_quotes(conn, self.symbol, 0, 0)
        seconds, _gaps = store.read_standing_quotes(conn, self.symbol, newest - self.retain_ms, None)
        return seconds

    def refresh(self, conn: sqlite3.Connection) -> pd.DataFrame:
        """The retained quote seconds, after reading what is new since the last refresh."""
        with self._lock:
            held = self.seconds
            if not self.loaded or len(held) == 0:
                self.seconds, self.loaded = self._read_all(conn), True
                return self.seconds
            first, last = int(held["ts_ms"].iloc[0]), int(held["ts_ms"].iloc[-1])
            fresh = store.read_quotes(conn, self.symbol, last + 1)
            if store.count_quotes(conn, self.symbol, first) != len(held) + len(fresh):
                self.seconds = self._read_all(conn)  # an older second was added: read again
                return self.seconds
            if len(fresh):
                merged = pd.concat([held, fresh], ignore_index=True)
                ts = merged["ts_ms"].to_numpy(np.int64)
                keep_from = max(int(np.searchsorted(ts, ts[-1] - self.retain_ms)) - 1, 0)  # and the one before
                self.seconds = merged.iloc[keep_from:].reset_index(drop=True) if keep_from else merged
            return self.seconds


@st.cache_resource(max_entries=64, show_spinner=False)
def quote_cache(db_key: str, symbol: str) -> QuoteCache:
    """The shared ``QuoteCache`` of one symbol of one database."""
    return QuoteCache(symbol)


def window_quotes(seconds: pd.DataFrame, gaps: pd.DataFrame, symbol: str, start_ms: int) -> LegQuotes:
    """The quotes of a window from ``start_ms`` on, as ``quote_data.read_leg_quotes`` reads them: the
    last second starting before ``start_ms`` and every later one, with ``symbol``'s rows of ``gaps``."""
    ts = seconds["ts_ms"].to_numpy(np.int64)
    first = max(int(np.searchsorted(ts, start_ms)) - 1, 0)
    own = gaps[gaps["symbol"] == symbol].reset_index(drop=True) if len(gaps) else gaps
    return LegQuotes(symbol, seconds.iloc[first:].reset_index(drop=True), own)
