"""Bars from trades, resampling, and alignment of several symbols' closes on one time grid."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pairdesk.analytics.common import BAR_COLUMNS, DEFAULT_MAX_STALE_S, _as_float_array, _like_input, timeframe_ms


def _empty_bars() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("ts_ms", "trades") else "float64")
                         for c in BAR_COLUMNS})


def _vwap(quote_volume: np.ndarray, volume: np.ndarray) -> np.ndarray:
    """quote_volume / volume, NaN where nothing traded."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(volume > 0, quote_volume / volume, np.nan)


def _aggregate_bars(bucket: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                    close: np.ndarray, volume: np.ndarray, quote_volume: np.ndarray,
                    trades: np.ndarray) -> pd.DataFrame:
    """Bars of rows already in (time, id) order, grouped by their bucket start ``bucket``."""
    if len(bucket) == 0:
        return _empty_bars()
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(bucket)] - 1
    volume_sum = np.add.reduceat(volume, starts)
    quote_sum = np.add.reduceat(quote_volume, starts)
    return pd.DataFrame({
        "ts_ms": bucket[starts].astype(np.int64),
        "open": open_[starts],
        "high": np.maximum.reduceat(high, starts),
        "low": np.minimum.reduceat(low, starts),
        "close": close[ends],
        "volume": volume_sum,
        "quote_volume": quote_sum,
        "trades": np.add.reduceat(trades.astype(np.int64), starts),
        "vwap": _vwap(quote_sum, volume_sum),
    })


def bars_from_trades(trades: pd.DataFrame, timeframe: str) -> pd.DataFrame:
    """OHLCV bars of one symbol's trades at ``timeframe``.

    ``trades`` has columns trade_id, ts_ms (exchange time, UTC ms), price, qty. A bar starts at
    floor(ts_ms / tf_ms) * tf_ms and is labelled by that start; open and close are the first and
    last trade by (ts_ms, trade_id); volume = sum(qty), quote_volume = sum(price * qty),
    trades = count, vwap = quote_volume / volume (NaN when volume is 0). Buckets without trades
    have no row. Columns: BAR_COLUMNS, sorted by ts_ms.
    """
    tf_ms = timeframe_ms(timeframe)
    ts = trades["ts_ms"].to_numpy(np.int64)
    order = np.lexsort((trades["trade_id"].to_numpy(np.int64), ts))
    ts = ts[order]
    price = trades["price"].to_numpy(np.float64)[order]
    qty = trades["qty"].to_numpy(np.float64)[order]
    return _aggregate_bars((ts // tf_ms) * tf_ms, price, price, price, price, qty, price * qty,
                           np.ones(len(ts), np.int64))


def resample_bars(bars: pd.DataFrame, timeframe: str) -> pd.DataFrame:
    """Bars at ``timeframe`` built from finer bars (typically tickstore's 1-second bars).

    The input's bar length must divide ``timeframe`` (1s bars do for every timeframe). open is
    the first bar's open, close the last bar's close, high/low the extremes, volume,
    quote_volume and trades the sums, vwap = quote_volume / volume. This equals
    ``bars_from_trades`` on the underlying trades: OHLC and trade counts exactly, volumes up to
    floating-point summation order (~1e-15 relative).
    """
    tf_ms = timeframe_ms(timeframe)
    if len(bars) == 0:
        return _empty_bars()
    if not bars["ts_ms"].is_monotonic_increasing:
        bars = bars.sort_values("ts_ms", kind="stable")
    ts = bars["ts_ms"].to_numpy(np.int64)

    def col(name: str) -> np.ndarray:
        return bars[name].to_numpy(np.float64)

    if np.all(ts % tf_ms == 0) and np.all(ts[1:] > ts[:-1]):  # already one bar per bucket
        out = pd.DataFrame({c: col(c) for c in BAR_COLUMNS[1:-2]})
        out.insert(0, "ts_ms", ts)
        out["trades"] = bars["trades"].to_numpy(np.int64)
        out["vwap"] = _vwap(out["quote_volume"].to_numpy(), out["volume"].to_numpy())
        return out
    return _aggregate_bars((ts // tf_ms) * tf_ms, col("open"), col("high"), col("low"), col("close"),
                           col("volume"), col("quote_volume"), bars["trades"].to_numpy(np.int64))


def _as_of(ts: np.ndarray, values: np.ndarray, grid_ts: np.ndarray, max_age_ms: float) -> np.ndarray:
    """For each grid time, the value of the last bar at or before it (``ts`` sorted), if that
    bar is at most ``max_age_ms`` older; NaN otherwise."""
    last = np.searchsorted(ts, grid_ts, side="right") - 1
    out = np.full(len(grid_ts), np.nan)
    ok = last >= 0
    ok[ok] = grid_ts[ok] - ts[last[ok]] <= max_age_ms
    out[ok] = values[last[ok]]
    return out


def _check_max_stale(max_stale_s: float) -> float:
    if isinstance(max_stale_s, bool) or not isinstance(max_stale_s, (int, float, np.integer, np.floating)) \
            or not max_stale_s >= 0 or not np.isfinite(max_stale_s):
        raise ValueError(f"max_stale must be a number of seconds >= 0, got {max_stale_s!r}")
    return float(max_stale_s)


def align_closes(bars_by_symbol: Mapping[str, pd.DataFrame], timeframe: str,
                 max_stale: float = DEFAULT_MAX_STALE_S) -> pd.DataFrame:
    """Closes of several symbols on one time grid, aligned in time.

    Each DataFrame holds bars at ``timeframe`` (columns ts_ms, close; ts_ms a multiple of the
    timeframe). On the grid of bar starts, each symbol's close is carried forward (as of) while it
    is at most ``max_stale_s`` SECONDS old, whatever the timeframe (0 = no carry-forward). A row is
    kept when every symbol has a close and at least one of them traded in that bar: a bar where
    nobody traded is no observation (it would only add zero returns). Columns: ts_ms then one float
    column per symbol, in the mapping's order. Empty when any symbol has no bars.
    """
    tf_ms = timeframe_ms(timeframe)
    max_age_ms = _check_max_stale(max_stale) * 1000.0
    columns: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for symbol, bars in bars_by_symbol.items():
        if not bars["ts_ms"].is_monotonic_increasing:
            bars = bars.sort_values("ts_ms", kind="stable")
        ts = bars["ts_ms"].to_numpy(np.int64)
        if np.any(ts % tf_ms):
            raise ValueError(f"bars of {symbol} are not on the {timeframe} grid; resample_bars() them first")
        columns[symbol] = (ts, bars["close"].to_numpy(np.float64))
    empty = pd.DataFrame({"ts_ms": pd.Series(dtype="int64"), **{s: pd.Series(dtype="float64") for s in columns}})
    if not columns or any(len(ts) == 0 for ts, _ in columns.values()):
        return empty
    # Rows before the latest first bar, or past the earliest last bar + max_stale, always miss a
    # symbol: skip them rather than allocate them (the result is the same).
    start = max(ts[0] for ts, _ in columns.values())
    end = min(max(ts[-1] for ts, _ in columns.values()), min(ts[-1] for ts, _ in columns.values()) + max_age_ms)
    if end < start:
        return empty
    grid = np.arange(start, end + 1, tf_ms, dtype=np.int64)
    aligned = {s: _as_of(ts, close, grid, max_age_ms) for s, (ts, close) in columns.items()}
    traded = np.logical_or.reduce([np.isin(grid, ts, assume_unique=True) for ts, _ in columns.values()])
    keep = traded & np.logical_and.reduce([~np.isnan(v) for v in aligned.values()])
    out = pd.DataFrame({"ts_ms": grid[keep]})
    for symbol, values in aligned.items():
        out[symbol] = values[keep]
    return out


def segment_ids(ts_ms: np.ndarray, timeframe: str, max_stale: float = DEFAULT_MAX_STALE_S) -> np.ndarray:
    """0, 0, ..., 1, 1, ...: a new segment starts after a hole longer than ``max_stale_s`` seconds
    (consecutive rows more than one bar plus max_stale apart). Windows, returns and statistics
    restart at each segment, so nothing reaches across a hole."""
    ts = np.asarray(ts_ms, dtype=np.int64)
    if len(ts) == 0:
        return np.zeros(0, dtype=np.int64)
    limit = timeframe_ms(timeframe) + _check_max_stale(max_stale) * 1000.0
    return np.concatenate([[0], np.cumsum(np.diff(ts) > limit)]).astype(np.int64)


def align_pair(bars_a: pd.DataFrame, bars_b: pd.DataFrame, timeframe: str,
               max_stale: float = DEFAULT_MAX_STALE_S) -> pd.DataFrame:
    """Two symbols' closes aligned in time (see ``align_closes``): columns ts_ms, price_a,
    price_b, segment (``segment_ids``)."""
    aligned = align_closes({"price_a": bars_a, "price_b": bars_b}, timeframe, max_stale).reset_index(drop=True)
    aligned["segment"] = segment_ids(aligned["ts_ms"].to_numpy(), timeframe, max_stale)
    return aligned


def log_returns(prices: pd.Series | np.ndarray) -> pd.Series:
    """ln(p_t / p_{t-1}) between consecutive rows; NaN on the first row (and around NaN/<= 0 prices)."""
    p = _as_float_array(prices)
    out = np.full(len(p), np.nan)
    if len(p) > 1:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[1:] = np.log(p[1:] / p[:-1])
    out[~np.isfinite(out)] = np.nan
    return _like_input(out, prices, "log_return")

