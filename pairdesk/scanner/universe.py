"""What a scan reads: each symbol's closes at the timeframe over the lookback, and the round-trip cost
of each scanned pair where both legs have quote bars, all through the store's readers."""
from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pairdesk import analytics, store
from pairdesk.scanner.settings import MAX_SCAN_SYMBOLS, ScanSettings

QUOTE_SPAN_BARS = 10  # quote bars read back from the newest bar: a pair's cost is its last row's


class ScanError(ValueError):
    """A scan that cannot run (no symbols, too many, unknown ones): a one-line reason."""


@dataclass(frozen=True)
class ScanInput:
    """The closes of every scanned symbol (``store.read_closes`` frames), over [from_ms, to_ms)."""

    symbols: tuple[str, ...]
    closes: dict[str, pd.DataFrame]
    from_ms: int
    to_ms: int


def scan_symbols(conn: sqlite3.Connection, requested: Sequence[str] | None) -> tuple[str, ...]:
    """The symbols to scan: ``requested`` (each must have bars), else the watchlist's with bars, else
    every symbol with bars; ScanError when fewer than two or more than MAX_SCAN_SYMBOLS remain."""
    with_bars = store.list_symbols(conn)
    if requested is not None:
        missing = [s for s in requested if s not in with_bars]
        if missing:
            raise ScanError(f"no bars for {', '.join(missing)} in the database")
        chosen = tuple(dict.fromkeys(requested))
    else:
        watched = [symbol for symbol, _ in store.read_watchlist(conn) if symbol in with_bars]
        chosen = tuple(watched or with_bars)
    if len(chosen) < 2:
        raise ScanError(f"a scan needs at least two symbols with bars, the database has {len(chosen)}")
    if len(chosen) > MAX_SCAN_SYMBOLS:
        raise ScanError(f"a scan takes at most {MAX_SCAN_SYMBOLS} symbols, the watchlist has {len(chosen)}; "
                        "pass --symbols")
    return chosen


def read_scan_input(conn: sqlite3.Connection, settings: ScanSettings) -> ScanInput:
    """Every scanned symbol's closes at the timeframe over the lookback ending at the newest bar."""
    with store.snapshot(conn):
        symbols = scan_symbols(conn, settings.symbols)
        bounds = store.bar_bounds_by_symbol(conn)
        tf_ms = analytics.timeframe_ms(settings.timeframe)
        newest = max(bounds[s][1] for s in symbols)
        to_ms = newest - newest % tf_ms + tf_ms
        from_ms = to_ms - settings.lookback_ms
        from_ms -= from_ms % tf_ms
        closes = {s: store.read_closes(conn, s, tf_ms, from_ms, to_ms) for s in symbols}
    return ScanInput(symbols, closes, from_ms, to_ms)


def _quote_bars(conn: sqlite3.Connection, symbol: str, timeframe: str, start_ms: int,
                end_ms: int) -> pd.DataFrame | None:
    """``symbol``'s quote bars over [start_ms, end_ms) from the last quote second before it on (the book
    standing at the first bar: ``store.read_standing_quotes``), None without quotes."""
    seconds, gaps = store.read_standing_quotes(conn, symbol, start_ms, end_ms)
    if len(seconds) == 0:
        return None
    return analytics.quote_bars_at(seconds, timeframe, gaps)


def round_trip_costs(conn: sqlite3.Connection, figures: pd.DataFrame, settings: ScanSettings, to_ms: int) -> np.ndarray:
    """Each pair's round trip at the touch in bps (``analytics.pair_costs`` on its last row, with that
    row's causal beta, for ``settings.notional`` on leg A and ``settings.fee_bps``); NaN where a leg
    has no quote bar there."""
    tf_ms = analytics.timeframe_ms(settings.timeframe)
    start = to_ms - QUOTE_SPAN_BARS * tf_ms
    symbols = set(figures["symbol_a"]) | set(figures["symbol_b"])
    with store.snapshot(conn):
        bars = {s: _quote_bars(conn, s, settings.timeframe, start, to_ms) for s in symbols}
    out = np.full(len(figures), np.nan)
    for k, (a, b, last_ms, beta) in enumerate(zip(figures["symbol_a"], figures["symbol_b"], figures["last_ms"],
                                                   figures["beta"])):
        if bars[a] is None or bars[b] is None or pd.isna(last_ms) or not math.isfinite(beta):
            continue
        panel = pd.DataFrame({"ts_ms": [int(last_ms)], "hedge_ratio": [float(beta)]})
        out[k] = analytics.pair_costs(bars[a], bars[b], panel, settings.notional, settings.fee_bps)[
            "round_trip_bps"].iloc[0]
    return out
