"""A symbol's and a pair's executable prices as the API and the dashboard show them: quote bars at a
timeframe, the pair's costs on its panel, the book the backtest fills at, and the funding state of a
USD-M perpetual (the rate known now, the next settlement, the carry of a position).

One place for both readers. The API reads the store here (``read_leg_quotes``, ``read_pair_quotes``,
``read_funding_state``); the dashboard hands in the same frames from its incremental cache
(``LegQuotes`` built from cached rows). Both compute through the functions below, so a number is the
same on the page and in the API.

The book standing at a moment comes from the last quote second started before it (a second without
a row: the book stood still), so a leg's quotes over a span are read with that one earlier row
(``LegQuotes.seconds``) and the quote gaps from it on: the first bar of a span then has the same
book and spreads as it has inside a longer span (``analytics.quote_bars_at`` on the span alone would
start from nothing).
"""
from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pairdesk import analytics, store

SECOND_MS = 1000


@dataclass(frozen=True)
class LegQuotes:
    """One symbol's quote seconds for a span: ``seconds`` (``store.read_quotes`` columns) holds the last
    row starting before the span, then the span's rows; ``gaps`` (``store.read_quote_gaps`` columns) the
    quote gaps overlapping the time from that first row on."""

    symbol: str
    seconds: pd.DataFrame
    gaps: pd.DataFrame

    @property
    def empty(self) -> bool:
        return len(self.seconds) == 0


def no_quote_gaps() -> pd.DataFrame:
    """An empty frame of ``store.read_quote_gaps`` columns."""
    return pd.DataFrame({"symbol": pd.Series(dtype=object), "from_ms": pd.Series(dtype="int64"),
                         "to_ms": pd.Series(dtype="int64"), "reason": pd.Series(dtype=object)})


def read_leg_quotes(conn: sqlite3.Connection, symbol: str, start_ms: int | None, end_ms: int | None) -> LegQuotes:
    """``symbol``'s quote seconds starting in [start_ms, end_ms), with the last one before start_ms, and
    the quote gaps overlapping that stretch."""
    return LegQuotes(symbol, *store.read_standing_quotes(conn, symbol, start_ms, end_ms))


def leg_quote_bars(leg: LegQuotes, timeframe: str, start_ms: int | None = None,
                   end_ms: int | None = None) -> pd.DataFrame:
    """``analytics.quote_bars_at`` of the leg's seconds and gaps, the bars starting in [start_ms, end_ms)
    (None: open), one row per bar (NaN book where none stood at the close: inside a quote gap)."""
    bars = analytics.quote_bars_at(leg.seconds, timeframe, leg.gaps)
    return bars[_within(bars["ts_ms"], start_ms, end_ms)].reset_index(drop=True)


def _within(times: pd.Series, start_ms: int | None, end_ms: int | None) -> np.ndarray:
    """start_ms <= t < end_ms for each time (None: that end open)."""
    ts = times.to_numpy(np.int64)
    keep = np.ones(len(ts), bool)
    if start_ms is not None:
        keep &= ts >= start_ms
    if end_ms is not None:
        keep &= ts < end_ms
    return keep


def known_bars(bars: pd.DataFrame, timeframe: str) -> pd.DataFrame:
    """The quote bars that hold something: at 1 s the stored seconds themselves (updates > 0; a second
    without a row only carries the book), at coarser timeframes every bar with a book at its close or a
    quote known within it. Bars wholly inside a quote gap are left out (never invented)."""
    if analytics.timeframe_ms(timeframe) == SECOND_MS:
        keep = bars["updates"].to_numpy() > 0
    else:
        keep = (np.isfinite(bars["bid"].to_numpy(np.float64)) | np.isfinite(bars["mean_spread"].to_numpy(np.float64))
                | (bars["updates"].to_numpy() > 0))
    return bars[keep].reset_index(drop=True)


def recent_quote_bars(conn: sqlite3.Connection, symbol: str, timeframe: str, count: int,
                      start_ms: int | None = None, end_ms: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the last ``count`` ``known_bars`` of ``symbol`` at ``timeframe`` starting in [start_ms, end_ms),
    oldest first; the quote gaps overlapping them). ``start_ms`` / ``end_ms`` are bar bounds (whole
    bars). Reads back from the end only as far as needed (a stretch four times wider each time)."""
    tf_ms = analytics.timeframe_ms(timeframe)
    newest = store.last_quote_ms(conn, symbol)
    if newest is None:
        empty = LegQuotes(symbol, store.read_quotes(conn, symbol, 0, 0), no_quote_gaps())
        return leg_quote_bars(empty, timeframe), no_quote_gaps()
    hi = newest - newest % tf_ms + tf_ms if end_ms is None else end_ms
    stretch = count * tf_ms
    while True:
        lo = hi - stretch if start_ms is None else max(hi - stretch, start_ms)
        leg = read_leg_quotes(conn, symbol, lo, hi)
        bars = known_bars(leg_quote_bars(leg, timeframe, lo, hi), timeframe).tail(count).reset_index(drop=True)
        if len(bars) >= count or (start_ms is not None and lo <= start_ms) \
                or store.quote_ms_before(conn, symbol, lo) is None:
            break
        stretch *= 4
    first = int(bars["ts_ms"].iloc[0]) if len(bars) else lo
    gaps = leg.gaps[(leg.gaps["to_ms"] > first) & (leg.gaps["from_ms"] < hi)].reset_index(drop=True)
    return bars, gaps


# --------------------------------------------------------------------------- a pair on its panel


def panel_span(panel: pd.DataFrame, timeframe: str) -> tuple[int | None, int | None]:
    """[first bar start, last bar end) of a pair panel (None, None when it is empty)."""
    if len(panel) == 0:
        return None, None
    return int(panel["ts_ms"].iloc[0]), int(panel["ts_ms"].iloc[-1]) + analytics.timeframe_ms(timeframe)


def read_pair_quotes(conn: sqlite3.Connection, pair: Sequence[str], panel: pd.DataFrame,
                     timeframe: str) -> tuple[LegQuotes, LegQuotes]:
    """Both legs' quotes over the panel's span (the API's reading; the page has them cached)."""
    start, end = panel_span(panel, timeframe)
    if start is None:
        start = end = 0
    a, b = (read_leg_quotes(conn, symbol, start, end) for symbol in pair)
    return a, b


def pair_quote_bars(panel: pd.DataFrame, legs: tuple[LegQuotes, LegQuotes],
                    timeframe: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both legs' quote bars at the panel's timeframe over its span."""
    start, end = panel_span(panel, timeframe)
    bars_a, bars_b = (leg_quote_bars(leg, timeframe, start, end) for leg in legs)
    return bars_a, bars_b


def pair_cost_rows(panel: pd.DataFrame, legs: tuple[LegQuotes, LegQuotes], timeframe: str, notional: float,
                   fee_bps: float = analytics.BACKTEST_FEE_BPS) -> pd.DataFrame:
    """``analytics.pair_costs`` on every panel row (COST_COLUMNS), for ``notional`` of leg A."""
    return analytics.pair_costs(*pair_quote_bars(panel, legs, timeframe), panel, notional, fee_bps)


def latest_cost_row(costs: pd.DataFrame) -> pd.DataFrame:
    """The pair's costs now: the newest row of ``pair_cost_rows`` that has both legs' books (the last
    bar is provisional until its close), as a one-row frame (empty when no row has them)."""
    return costs[costs["round_trip_bps"].notna()].tail(1) if len(costs) else costs


def latest_costs(costs: pd.DataFrame) -> dict | None:
    """``latest_cost_row`` as a dict, None when no row has both books."""
    row = latest_cost_row(costs)
    return None if len(row) == 0 else row.iloc[0].to_dict()


def backtest_quotes(panel: pd.DataFrame, legs: tuple[LegQuotes, LegQuotes], timeframe: str) -> pd.DataFrame | None:
    """The ``quotes`` frame of ``analytics.backtest_zscore`` (``analytics.pair_quotes`` on the panel), or
    None when neither leg has a quote in the span: the backtest then fills at its model."""
    if all(leg.empty for leg in legs):
        return None
    return analytics.pair_quotes(*pair_quote_bars(panel, legs, timeframe), panel)


# --------------------------------------------------------------------------- funding


@dataclass(frozen=True)
class FundingState:
    """A perpetual's funding as known now: ``settled`` (``store.read_funding`` rows, by time), ``mark``
    (the newest ``store.read_marks`` row, or none), ``interval_ms`` (``analytics.settlement_interval_ms``
    of every stored settlement)."""

    symbol: str
    settled: pd.DataFrame
    mark: pd.DataFrame
    interval_ms: int

    def mark_value(self, column: str) -> float | None:
        """``column`` of the newest mark-price second (None: no mark, or not finite)."""
        if len(self.mark) == 0:
            return None
        value = float(self.mark[column].iloc[-1])
        return value if math.isfinite(value) else None

    @property
    def rate(self) -> float | None:
        """The rate of the coming settlement, from the newest mark-price second (a fraction, per settlement)."""
        return self.mark_value("funding_rate")

    @property
    def next_funding_ms(self) -> int | None:
        value = self.mark_value("next_funding_ms")
        return None if value is None else int(value)

    @property
    def mark_ms(self) -> int | None:
        """Start of the newest mark-price second."""
        value = self.mark_value("ts_ms")
        return None if value is None else int(value)

    @property
    def empty(self) -> bool:
        return len(self.settled) == 0 and len(self.mark) == 0


def read_funding_state(conn: sqlite3.Connection, symbol: str, start_ms: int | None = None,
                       end_ms: int | None = None) -> FundingState:
    """``symbol``'s settlements in [start_ms, end_ms), its newest mark-price second and its settlement
    interval (from every stored settlement)."""
    every = store.read_funding(conn, symbol)
    keep = _within(every["funding_time_ms"], start_ms, end_ms)
    newest = store.last_mark_ms(conn, symbol)
    mark = store.read_marks(conn, symbol, newest, newest + SECOND_MS) if newest is not None \
        else store.read_marks(conn, symbol, 0, 0)
    return FundingState(symbol, every[keep].reset_index(drop=True), mark, analytics.settlement_interval_ms(every))


@dataclass(frozen=True)
class Carry:
    """The funding a pair position is expected to receive at the current rates (< 0: it pays), in quote
    currency: ``side`` +1 long the spread (qty_a > 0, qty_b = -beta qty_a), -1 short, 0 flat (then
    every amount is 0); ``per_settlement`` one settlement of each leg; NaN where a leg's rate or mark
    is unknown or stale at ``at_ms``."""

    side: int
    qty_a: float
    qty_b: float
    at_ms: int | None
    per_day: float
    per_settlement: float
    bps_per_day: float


def spread_side(z: float, threshold: float) -> int:
    """The side the live z-score calls for: -1 short the spread at z >= threshold (rich), +1 long at
    z <= -threshold (cheap), 0 flat inside the bands or without a z."""
    if not math.isfinite(z) or abs(z) < threshold:
        return 0
    return -1 if z > 0 else 1


def position_carry(side: int, beta: float, notional: float, a: FundingState, b: FundingState,
                   max_stale: float = analytics.DEFAULT_MAX_STALE_S) -> Carry:
    """The carry of ``side`` (``spread_side``) for ``notional`` of A at A's mark, beta units of B per A,
    at the rates of the two legs' newest mark seconds (``analytics.expected_carry_per_day``, at the
    later of the two mark times; a leg's mark older than ``max_stale`` seconds then is unknown)."""
    times = [t for t in (a.mark_ms, b.mark_ms) if t is not None]
    at_ms = max(times) if times else None
    mark_a = a.mark_value("mark")
    if side == 0 or at_ms is None or mark_a is None or not math.isfinite(beta) or mark_a <= 0:
        nan = 0.0 if side == 0 else math.nan
        return Carry(side, 0.0, 0.0, at_ms, nan, nan, nan)
    qty_a = side * notional / mark_a
    qty_b = -beta * qty_a
    expected = analytics.expected_carry_per_day(a.mark, b.mark, qty_a, qty_b, np.array([at_ms]),
                                                interval_ms_a=a.interval_ms, interval_ms_b=b.interval_ms,
                                                max_stale=max_stale).iloc[0]
    per_settlement = float(analytics.funding_payment(expected["rate_a"], qty_a, expected["mark_a"])
                           + analytics.funding_payment(expected["rate_b"], qty_b, expected["mark_b"]))
    return Carry(side, qty_a, qty_b, at_ms, float(expected["carry_per_day"]), per_settlement,
                 float(expected["carry_bps_per_day"]))
