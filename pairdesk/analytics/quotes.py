"""Quote bars at a timeframe from the store's one-second quote bars, and a pair's quotes on its panel
rows: the book standing at each bar's close, and the quoted spread over the bar.

``quotes_1s`` is one symbol's ``store.read_quotes`` frame: ts_ms (second start), bid, ask, bid_qty,
ask_qty (the book after the second's last update), mean_spread, max_spread (ask - bid in price
units, over the part of the second a quote was known), updates (``pairdesk.quote_bars``). A second
without a row saw no update: the book stood still, so the previous row's last quote is in force
through it, unless a quote gap (``store.read_quote_gaps``: from_ms, to_ms) intervenes: nothing is
carried across a gap. Carried quotes count in whole seconds: a second the gap starts inside is not
covered.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pairdesk.analytics.common import timeframe_ms
from pairdesk.analytics.fills import BPS
from pairdesk.quote_bars import SECOND_MS

QUOTE_1S_COLUMNS = ["ts_ms", "bid", "ask", "bid_qty", "ask_qty", "mean_spread", "max_spread", "updates"]
QUOTE_BAR_COLUMNS = [*QUOTE_1S_COLUMNS, "spread_bps", "mean_spread_bps"]
PAIR_QUOTE_FIELDS = ("bid", "ask", "bid_qty", "ask_qty", "spread_bps")  # per leg in ``pair_quotes``, suffix _a / _b
_NEVER = np.iinfo(np.int64).max // 4  # "no end": later than any time in ms


def spread_bps(spread: np.ndarray | float, bid: np.ndarray | float, ask: np.ndarray | float) -> np.ndarray:
    """A spread in basis points of the mid: spread / ((bid + ask) / 2) * 10 000 (NaN where the mid is not > 0)."""
    mid = (np.asarray(bid, np.float64) + np.asarray(ask, np.float64)) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mid > 0, np.asarray(spread, np.float64) / mid * BPS, np.nan)


def _checked(quotes_1s: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in QUOTE_1S_COLUMNS if c not in quotes_1s.columns]
    if missing:
        raise ValueError(f"quote bars need columns {', '.join(QUOTE_1S_COLUMNS)}; missing {', '.join(missing)}")
    if not quotes_1s["ts_ms"].is_monotonic_increasing:
        quotes_1s = quotes_1s.sort_values("ts_ms", kind="stable")
    ts = quotes_1s["ts_ms"].to_numpy(np.int64)
    if np.any(ts % SECOND_MS):
        raise ValueError("quote bars must start on whole seconds (the store's quotes_1s rows)")
    if np.any(ts[1:] == ts[:-1]):
        raise ValueError("quote bars hold more than one row for some second; give one symbol's quotes_1s")
    return quotes_1s


def _gap_cut(own_end: np.ndarray, gaps: pd.DataFrame | None) -> np.ndarray:
    """Per row (its second ends at ``own_end``): when a quote gap cuts its carry, the start of the
    first gap still open after the row's second (clamped to that second's end), else _NEVER."""
    if gaps is None or len(gaps) == 0:
        return np.full(len(own_end), _NEVER, np.int64)
    missing = [c for c in ("from_ms", "to_ms") if c not in gaps.columns]
    if missing:
        raise ValueError(f"quote gaps need columns from_ms, to_ms; missing {', '.join(missing)}")
    order = np.argsort(gaps["to_ms"].to_numpy(np.int64), kind="stable")
    to = gaps["to_ms"].to_numpy(np.int64)[order]
    first_from = np.minimum.accumulate(gaps["from_ms"].to_numpy(np.int64)[order][::-1])[::-1]  # over gaps k..
    k = np.searchsorted(to, own_end, side="right")  # gaps k.. end after the row's second
    return np.where(k < len(to), np.maximum(first_from[np.minimum(k, len(to) - 1)], own_end), _NEVER)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("ts_ms", "updates") else "float64")
                         for c in QUOTE_BAR_COLUMNS})


def quote_bars_at(quotes_1s: pd.DataFrame, timeframe: str, gaps: pd.DataFrame | None = None) -> pd.DataFrame:
    """One symbol's quote bars at ``timeframe``, labelled by their start like trade bars: one row per
    bar from the first quote second's bar to the last one's (``gaps``: that symbol's quote gaps,
    columns from_ms, to_ms; None: no gaps). Columns QUOTE_BAR_COLUMNS:
      bid, ask, bid_qty, ask_qty  the book standing at the bar's close ts_ms + tf: the last quote
                         second that started before it, if no quote gap began between that second's
                         end and the close; NaN otherwise (a bar inside a gap)
      mean_spread        the mean spread over the bar's seconds where a quote is known, each second
                         weighing the same: a row's own ``mean_spread``, or in a second without a
                         row the spread (ask - bid) the previous row closed with; NaN if none is known
      max_spread         the largest of the rows' ``max_spread`` and of a spread carried into the bar
      updates            the sum of the rows' updates (0 in a bar without rows)
      spread_bps         (ask - bid) / mid * 10 000 at the close, mid = (bid + ask) / 2
      mean_spread_bps    the same mean as mean_spread of each second's spread in bps of that second's mid
    Causal: a row uses only quote seconds that ended by its close (and the quote gaps begun by
    then: the feed knew it was down). The last bar is provisional until its close, like a trade bar.
    """
    tf_ms = timeframe_ms(timeframe)
    q = _checked(quotes_1s)
    if len(q) == 0:
        return _empty()
    ts = q["ts_ms"].to_numpy(np.int64)
    bid, ask = q["bid"].to_numpy(np.float64), q["ask"].to_numpy(np.float64)
    close_spread = ask - bid
    own_end = ts + SECOND_MS
    # the row's quote is in force over whole seconds [ts, carry_stop): its own and the carried ones
    carry_end = np.minimum(np.r_[ts[1:], _NEVER], _gap_cut(own_end, gaps))
    carry_stop = own_end + np.maximum(carry_end - own_end, 0) // SECOND_MS * SECOND_MS
    grid = np.arange(ts[0] - ts[0] % tf_ms, ts[-1] - ts[-1] % tf_ms + 1, tf_ms, dtype=np.int64)
    bar_end = grid + tf_ms

    # per bar: the last row started before its close (``last``) and before its start (``before``)
    last = np.searchsorted(ts, bar_end, side="left") - 1
    before = np.searchsorted(ts, grid, side="left") - 1
    carried_s = (np.maximum(carry_stop - own_end, 0) // SECOND_MS).astype(np.float64)

    def seconds_before(x: np.ndarray, i: np.ndarray, own: np.ndarray, carried: np.ndarray) -> np.ndarray:
        """Sum over the seconds before each (second-aligned) time x of the per-second value: ``own``
        in a row's second, ``carried`` in the seconds it carries, 0 where nothing is known; ``i``:
        the last row started before x (-1: none)."""
        totals = own + np.where(carried_s > 0, carried * carried_s, 0.0)
        done = np.r_[0.0, np.cumsum(totals[:-1])]  # rows before row j, whole
        j = np.maximum(i, 0)
        partial = own[j] + carried[j] * (np.maximum(np.minimum(x, carry_stop[j]) - own_end[j], 0) // SECOND_MS)
        return np.where(i >= 0, done[j] + partial, 0.0)

    def over_bars(own: np.ndarray, carried: np.ndarray) -> np.ndarray:
        return seconds_before(bar_end, last, own, carried) - seconds_before(grid, before, own, carried)

    covered = over_bars(np.ones(len(ts)), np.ones(len(ts)))
    mean_bps_of_row = spread_bps(q["mean_spread"].to_numpy(np.float64), bid, ask)
    close_bps_of_row = spread_bps(close_spread, bid, ask)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_spread = np.where(covered > 0, over_bars(q["mean_spread"].to_numpy(np.float64), close_spread) / covered,
                               np.nan)
        mean_bps = np.where(covered > 0, over_bars(mean_bps_of_row, close_bps_of_row) / covered, np.nan)
    known = bar_end <= carry_stop[last]  # the last row's quote still in force at the close
    # the spread carried into each bar from the row before it (in force during the bar's first second)
    carried_in = np.where((before >= 0) & (grid + SECOND_MS <= carry_stop[np.maximum(before, 0)]),
                          close_spread[np.maximum(before, 0)], np.nan)
    bucket = (ts - ts % tf_ms - grid[0]) // tf_ms
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    row_max = np.full(len(grid), np.nan)
    row_max[bucket[starts]] = np.maximum.reduceat(q["max_spread"].to_numpy(np.float64), starts)
    updates = np.zeros(len(grid), np.int64)
    updates[bucket[starts]] = np.add.reduceat(q["updates"].to_numpy(np.int64), starts)

    def at_close(column: str) -> np.ndarray:
        return np.where(known, q[column].to_numpy(np.float64)[last], np.nan)

    out = pd.DataFrame({"ts_ms": grid, "bid": at_close("bid"), "ask": at_close("ask"),
                        "bid_qty": at_close("bid_qty"), "ask_qty": at_close("ask_qty"),
                        "mean_spread": mean_spread, "max_spread": np.fmax(row_max, carried_in), "updates": updates})
    out["spread_bps"] = spread_bps(out["ask"] - out["bid"], out["bid"], out["ask"])
    out["mean_spread_bps"] = mean_bps
    return out[QUOTE_BAR_COLUMNS]


def pair_quotes(quotes_a: pd.DataFrame, quotes_b: pd.DataFrame, panel: pd.DataFrame) -> pd.DataFrame:
    """Both legs' quote bars (``quote_bars_at`` at the panel's timeframe) on the rows of ``panel``
    (ts_ms): columns ts_ms, then bid, ask, bid_qty, ask_qty, spread_bps with suffixes _a and _b
    (NaN where a leg has no quote bar or no book at that row). This is the ``quotes`` frame of
    ``backtest_zscore`` and the input of ``pair_costs``.

    Timing: row t holds the bars labelled ts_ms[t], i.e. the book standing at that bar's close
    ts_ms[t] + tf. That is the moment the backtest fills at row t (a signal read at row t - 1 fills
    at row t at that row's prices, which are its bar's closes: ``pairdesk.analytics.fills``) and the
    moment a position is marked there (the panel's prices are closes too). The book at a moment is
    known at that moment: causal.
    """
    out = pd.DataFrame({"ts_ms": panel["ts_ms"].to_numpy(np.int64)})
    for suffix, quotes in (("_a", quotes_a), ("_b", quotes_b)):
        if quotes["ts_ms"].duplicated().any():
            raise ValueError("quote bars hold more than one row for some ts_ms; give quote_bars_at() output")
        aligned = quotes.set_index("ts_ms").reindex(out["ts_ms"].to_numpy())
        for field in PAIR_QUOTE_FIELDS:
            out[field + suffix] = aligned[field].to_numpy(np.float64)
    return out
