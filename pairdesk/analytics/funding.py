"""Funding of USD-M perpetual positions: what a pair position paid or earned at each settlement, and
what it is expected to carry per day at the current rates. Spot positions pay no funding.

At each settlement a position of q units (q > 0 long, q < 0 short) receives
    payment = -rate * q * mark
in quote currency: longs pay a positive rate, shorts receive it (a negative rate the other way
round). ``mark`` is the settlement's own mark price where the funding row has one (REST), else the
last mark (or price) known at the settlement time. A position is held at a settlement when it was
opened at or before the settlement time and not closed by then.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pairdesk.analytics.backtest_report import DAY_MS
from pairdesk.analytics.bars import _as_of, _check_max_stale
from pairdesk.analytics.common import DEFAULT_MAX_STALE_S, HOUR_MS
from pairdesk.analytics.fills import BPS

FUNDING_INTERVAL_MS = 8 * HOUR_MS  # Binance's usual settlement interval: 00:00, 08:00, 16:00 UTC
CARRY_COLUMNS = ["funding_time_ms", "rate_a", "mark_a", "payment_a", "rate_b", "mark_b", "payment_b", "payment",
                 "cumulative"]
EXPECTED_CARRY_COLUMNS = ["ts_ms", "rate_a", "mark_a", "next_funding_ms_a", "rate_b", "mark_b", "next_funding_ms_b",
                          "carry_per_day", "carry_bps_per_day"]


def funding_payment(rate: np.ndarray | float, qty: np.ndarray | float, mark: np.ndarray | float) -> np.ndarray:
    """What a position of ``qty`` units receives at a settlement: -rate * qty * mark (< 0: paid)."""
    return -np.asarray(rate, np.float64) * np.asarray(qty, np.float64) * np.asarray(mark, np.float64)


def checked_funding(funding: pd.DataFrame) -> pd.DataFrame:
    """``funding`` (funding_time_ms, rate, optional mark_price: ``store.read_funding``) sorted by time;
    ValueError naming what is missing or repeated."""
    missing = [c for c in ("funding_time_ms", "rate") if c not in funding.columns]
    if missing:
        raise ValueError(f"funding needs columns funding_time_ms, rate (and mark_price); missing {', '.join(missing)}")
    if not funding["funding_time_ms"].is_monotonic_increasing:
        funding = funding.sort_values("funding_time_ms", kind="stable")
    if funding["funding_time_ms"].duplicated().any():
        raise ValueError("funding holds more than one row for some settlement; give one symbol's funding")
    return funding


def settlement_marks(funding: pd.DataFrame, mark_ts: np.ndarray, marks: np.ndarray, max_age_ms: float) -> np.ndarray:
    """Per settlement of ``funding`` (checked): its mark_price where known, else the last of ``marks``
    (times ``mark_ts``, sorted) at or before the settlement time, at most ``max_age_ms`` old; NaN otherwise."""
    times = funding["funding_time_ms"].to_numpy(np.int64)
    own = (funding["mark_price"].to_numpy(np.float64) if "mark_price" in funding.columns
           else np.full(len(times), np.nan))
    known = np.isfinite(own)
    if known.all() or len(mark_ts) == 0:
        return own
    return np.where(known, own, _as_of(np.asarray(mark_ts, np.int64), np.asarray(marks, np.float64), times,
                                       max_age_ms))


def held_settlements(funding: pd.DataFrame, qty: float, opened_ms: int, closed_ms: int, mark_ts: np.ndarray,
                     marks: np.ndarray, max_age_ms: float = math.inf) -> tuple[np.ndarray, np.ndarray]:
    """(settlement times, payments) of a position of ``qty`` units opened at ``opened_ms`` and closed
    at ``closed_ms``: the settlements of ``funding`` (checked) with opened_ms <= time < closed_ms,
    priced by ``settlement_marks``."""
    times = funding["funding_time_ms"].to_numpy(np.int64)
    held = funding.iloc[int(np.searchsorted(times, opened_ms, side="left")):
                        int(np.searchsorted(times, closed_ms, side="left"))]
    mark = settlement_marks(held, mark_ts, marks, max_age_ms)
    return held["funding_time_ms"].to_numpy(np.int64), funding_payment(held["rate"].to_numpy(np.float64), qty, mark)


def _sorted_marks(marks: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """``marks`` by time, checked to hold ``columns``."""
    missing = [c for c in columns if c not in marks.columns]
    if missing:
        raise ValueError(f"marks need columns {', '.join(columns)} (store.read_marks; or prices renamed to mark); "
                         f"missing {', '.join(missing)}")
    return marks if marks["ts_ms"].is_monotonic_increasing else marks.sort_values("ts_ms", kind="stable")


def _marks(marks: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """(times, marks) of a marks frame (none: empty)."""
    if marks is None:
        return np.zeros(0, np.int64), np.zeros(0)
    marks = _sorted_marks(marks, ("ts_ms", "mark"))
    return marks["ts_ms"].to_numpy(np.int64), marks["mark"].to_numpy(np.float64)


def _known_at(marks: pd.DataFrame, column: str, at: np.ndarray, max_age_ms: float) -> np.ndarray:
    """``column`` of the last (sorted) ``marks`` row at or before each time, at most ``max_age_ms`` old; else NaN."""
    return _as_of(marks["ts_ms"].to_numpy(np.int64), marks[column].to_numpy(np.float64), at, max_age_ms)


def funding_carry(funding_a: pd.DataFrame, funding_b: pd.DataFrame, qty_a: float, qty_b: float,
                  marks_a: pd.DataFrame | None = None, marks_b: pd.DataFrame | None = None, *,
                  max_stale: float = DEFAULT_MAX_STALE_S) -> pd.DataFrame:
    """The funding a pair position received at each settlement of either leg, and cumulatively.

    ``qty_a``, ``qty_b``: signed units held of each leg (long the spread: qty_a > 0, qty_b = -beta *
    qty_a), held through every settlement of ``funding_a`` / ``funding_b`` (``store.read_funding``
    rows of the period held). ``marks_a`` / ``marks_b`` (ts_ms, mark: ``store.read_marks``, or a
    price series renamed to mark) price the settlements whose row has no mark_price, with the last
    mark at most ``max_stale`` seconds old. Columns CARRY_COLUMNS, one row per settlement time: each
    leg's rate, mark and payment (rate NaN and payment 0 where that leg did not settle then; payment
    NaN where the mark is unknown), payment = their sum, cumulative = the running sum (NaN from an
    unknown payment on: nothing is invented).
    """
    max_age_ms = _check_max_stale(max_stale) * 1000.0
    legs = []
    for funding, qty, marks in ((funding_a, qty_a, marks_a), (funding_b, qty_b, marks_b)):
        if isinstance(qty, bool) or not isinstance(qty, (int, float, np.integer, np.floating)) \
                or not math.isfinite(qty):
            raise ValueError(f"quantities must be finite numbers of units, got {qty!r}")
        funding = checked_funding(funding)
        mark = settlement_marks(funding, *_marks(marks), max_age_ms)
        rate = funding["rate"].to_numpy(np.float64)
        legs.append(pd.DataFrame({"rate": rate, "mark": mark, "payment": funding_payment(rate, qty, mark)},
                                 index=funding["funding_time_ms"].to_numpy(np.int64)))
    times = np.union1d(legs[0].index.to_numpy(np.int64), legs[1].index.to_numpy(np.int64))
    out = pd.DataFrame({"funding_time_ms": times})
    for suffix, leg in zip(("_a", "_b"), legs):
        aligned = leg.reindex(times)
        out["rate" + suffix] = aligned["rate"].to_numpy()
        out["mark" + suffix] = aligned["mark"].to_numpy()
        settled = np.isin(times, leg.index.to_numpy(np.int64))
        out["payment" + suffix] = np.where(settled, aligned["payment"].to_numpy(), 0.0)
    out["payment"] = out["payment_a"] + out["payment_b"]
    out["cumulative"] = out["payment"].cumsum(skipna=False)
    return out[CARRY_COLUMNS]


def settlement_interval_ms(funding: pd.DataFrame) -> int:
    """The interval between ``funding``'s last two settlements, in whole hours (at least one), or
    FUNDING_INTERVAL_MS with fewer than two settlements."""
    times = checked_funding(funding)["funding_time_ms"].to_numpy(np.int64)
    if len(times) < 2:
        return FUNDING_INTERVAL_MS
    return max(1, round(int(times[-1] - times[-2]) / HOUR_MS)) * HOUR_MS


def expected_carry_per_day(marks_a: pd.DataFrame, marks_b: pd.DataFrame, qty_a: float | np.ndarray,
                           qty_b: float | np.ndarray, at_ms: np.ndarray, *,
                           interval_ms_a: int = FUNDING_INTERVAL_MS, interval_ms_b: int = FUNDING_INTERVAL_MS,
                           max_stale: float = DEFAULT_MAX_STALE_S) -> pd.DataFrame:
    """What a position (signed units ``qty_a``, ``qty_b``: numbers, or arrays one per time) would
    receive per day at the funding rates known at each time of ``at_ms`` (UTC ms, e.g. the panel's
    bar closes ts_ms + tf). Each leg's last ``marks_x`` row (``store.read_marks``: ts_ms, mark,
    funding_rate = the rate of the coming settlement, next_funding_ms) at or before the time and at
    most ``max_stale`` seconds old gives rate and mark; the leg settles DAY_MS / interval_ms_x times a
    day (``settlement_interval_ms`` of its funding history; 3 by default):
      carry_per_day = sum over legs of funding_payment(rate, qty, mark) * settlements per day
      carry_bps_per_day = carry_per_day / (|qty_a| * mark_a + |qty_b| * mark_b) * 10 000
    Columns EXPECTED_CARRY_COLUMNS (ts_ms = at_ms); NaN where a leg's mark row is missing or stale.
    """
    max_age_ms = _check_max_stale(max_stale) * 1000.0
    at = np.asarray(at_ms, np.int64)
    out = pd.DataFrame({"ts_ms": at})
    carry = np.zeros(len(at))
    gross = np.zeros(len(at))
    for suffix, marks, qty, interval in (("_a", marks_a, qty_a, interval_ms_a), ("_b", marks_b, qty_b, interval_ms_b)):
        if not (isinstance(interval, (int, np.integer)) and interval > 0):
            raise ValueError(f"a settlement interval is a positive number of ms, got {interval!r}")
        marks = _sorted_marks(marks, ("ts_ms", "mark", "funding_rate", "next_funding_ms"))
        rate, mark = (_known_at(marks, column, at, max_age_ms) for column in ("funding_rate", "mark"))
        out["rate" + suffix], out["mark" + suffix] = rate, mark
        out["next_funding_ms" + suffix] = pd.Series(_known_at(marks, "next_funding_ms", at, max_age_ms)).astype("Int64")
        q = np.broadcast_to(np.asarray(qty, np.float64), at.shape)
        carry = carry + funding_payment(rate, q, mark) * (DAY_MS / interval)
        gross = gross + np.abs(q) * mark
    out["carry_per_day"] = carry
    with np.errstate(invalid="ignore", divide="ignore"):
        out["carry_bps_per_day"] = np.where(gross > 0, carry / gross * BPS, np.nan)
    return out[EXPECTED_CARRY_COLUMNS]
