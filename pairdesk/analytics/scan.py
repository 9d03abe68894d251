"""The pair scanner's figures: every pair of a universe of symbols tested at once, each symbol's
closes aligned and logged once.

For symbols s_1..s_N (in the given order) every pair (s_i, s_j), i < j, is scanned with A = s_i
regressed on B = s_j, on the pair's aligned bars (exactly ``align_closes`` of the two: a close
carried at most ``max_stale`` seconds, a bar kept when both have a close and one of them traded),
and, as every test of the desk, on the last contiguous segment of those rows only (``rows`` of
them; nothing reaches across a hole). Per pair (SCAN_FIGURE_COLUMNS):

  p_value                 the larger of the Engle-Granger p-values of A on B and of B on A
                          (``p_a_on_b``, ``p_b_on_a``; ``engle_granger_fast``: the numbers of
                          ``cointegration.engle_granger_test``), and eg_statistic, A on B's ADF
                          statistic. Both orderings must reject: a leg that is a random walk plus
                          strong stationary noise (B = beta A + e, e fast mean-reverting) makes the
                          fixed-lag ADF of "B on an unrelated C" reject far above its level (the
                          residual is B itself, whose unit root the noise almost cancels:
                          Schwert 1989), while "C on B" leaves C's random walk and does not. The
                          larger of two valid p-values is a valid p-value, so the false-discovery
                          control over it still holds; a cointegrated pair rejects both ways.
                          The ADF takes Schwert's l12 lag rule (``scan_adf_lags``: 38 lagged
                          differences at 10,080 rows) where the desk's verdict takes l4 (7): the
                          same noise shortens the unit root's memory only for a test that looks far
                          enough back. On 12 simulated universes of 30 symbols (6 planted pairs,
                          10,080 bars) the share of false discoveries among the significant pairs
                          fell from 8.4 % (l4) to 2.4 %, every planted pair still found.
  johansen_rank           Johansen's trace-test rank at 5 % (``johansen_test``)
  half_life, half_life_low, half_life_high
                          the AR(1) half-life of the Engle-Granger residual and its interval, in
                          bars (``half_life``; NaN without significant mean reversion)
  p_first_half, p_second_half
                          the same two-way p-value on the first and the second half of the rows
  return_corr             Pearson correlation of the two legs' log returns between consecutive rows
  spread_vol_bps          standard deviation (ddof 1) of the Engle-Granger residual in bps of A,
                          residual_t / a_t * 1e4: the size of the spread's swings
  beta, alpha, zscore     the causal hedge and z-score of the pair's last row, exactly the
                          ``pair_panel`` values of that row (``segment_signal`` on the rows it
                          depends on)
  last_ms                 start of the pair's last row
  reason                  why the tests could not run (empty: they did)

These are statistics of the lookback block (research figures about the recent past, like the
dashboard's mean-reversion tests); the z-score is the causal signal of the last bar. Ranking and the
false-discovery control are ``pairdesk.analytics.scan_rank``.
"""
from __future__ import annotations

import ctypes
import math
import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pairdesk.analytics.bars import _as_of, _check_max_stale, segment_ids
from pairdesk.analytics.blas_threads import limit_blas_threads, single_blas_thread
from pairdesk.analytics.common import (
    DEFAULT_HEDGE,
    DEFAULT_HEDGE_WINDOW_ROWS,
    DEFAULT_MAX_STALE_S,
    DEFAULT_WINDOW_ROWS,
    timeframe_ms,
)
from pairdesk.analytics.engle_granger_fast import engle_granger_fast
from pairdesk.analytics.half_life import half_life
from pairdesk.analytics.johansen import johansen_test
from pairdesk.analytics.signal import CAUSAL_HEDGES, segment_signal, warmup_rows

SCAN_FIGURE_COLUMNS = ["symbol_a", "symbol_b", "rows", "p_value", "p_a_on_b", "p_b_on_a", "eg_statistic",
                       "johansen_rank", "half_life",
                       "half_life_low", "half_life_high", "p_first_half", "p_second_half", "return_corr",
                       "spread_vol_bps", "beta", "alpha", "zscore", "last_ms", "reason"]
PARALLEL_MIN_PAIRS = 200  # below this a process pool costs more than it saves
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class PairSignal:
    """How the scan computes a pair's current signal: the panel's parameters."""

    timeframe: str = "1m"
    max_stale: float = DEFAULT_MAX_STALE_S
    hedge: str = DEFAULT_HEDGE
    window: int = DEFAULT_WINDOW_ROWS
    hedge_window: int = DEFAULT_HEDGE_WINDOW_ROWS


@dataclass(frozen=True)
class Universe:
    """Every symbol's closes on one grid of bar starts: ``closes[k]`` carried as of each grid time
    (NaN when older than ``max_stale``), ``log_closes`` their logarithms, ``traded[k]`` whether
    symbol k has a bar at that time."""

    symbols: tuple[str, ...]
    grid: np.ndarray
    closes: np.ndarray
    log_closes: np.ndarray
    traded: np.ndarray


def build_universe(bars_by_symbol: Mapping[str, pd.DataFrame], timeframe: str,
                   max_stale: float = DEFAULT_MAX_STALE_S) -> Universe:
    """The ``Universe`` of bars at ``timeframe`` (columns ts_ms, close; ts_ms on the timeframe's grid),
    with the carry rule of ``align_closes``."""
    tf_ms = timeframe_ms(timeframe)
    max_age_ms = _check_max_stale(max_stale) * 1000.0
    series = {}
    for symbol, bars in bars_by_symbol.items():
        bars = bars if bars["ts_ms"].is_monotonic_increasing else bars.sort_values("ts_ms", kind="stable")
        ts = bars["ts_ms"].to_numpy(np.int64)
        if np.any(ts % tf_ms):
            raise ValueError(f"bars of {symbol} are not on the {timeframe} grid; resample_bars() them first")
        series[symbol] = (ts, bars["close"].to_numpy(np.float64))
    stamps = [ts for ts, _ in series.values() if len(ts)]
    grid = (np.arange(min(t[0] for t in stamps), max(t[-1] for t in stamps) + 1, tf_ms, dtype=np.int64)
            if stamps else np.zeros(0, np.int64))
    closes = np.array([_as_of(ts, close, grid, max_age_ms) for ts, close in series.values()]).reshape(-1, len(grid))
    traded = np.array([np.isin(grid, ts, assume_unique=True) for ts, _ in series.values()]).reshape(-1, len(grid))
    with np.errstate(invalid="ignore", divide="ignore"):
        logs = np.log(closes)
    return Universe(tuple(series), grid, closes, logs, traded)


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of the finite pairs (NaN with fewer than 3 or no variation)."""
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3:
        return math.nan
    x, y = x[keep] - x[keep].mean(), y[keep] - y[keep].mean()
    denominator = math.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y) / denominator if denominator > 0 else math.nan


def scan_adf_lags(nobs: int) -> int:
    """Lagged differences of the scan's Engle-Granger ADF: floor(12 (nobs / 100) ^ (1/4)) (Schwert's
    l12; 38 at 10,080 rows), where the desk's verdict takes l4 (7 there): see the module docstring."""
    return math.floor(12.0 * (nobs / 100.0) ** 0.25)


def both_ways_p_value(a: np.ndarray, b: np.ndarray) -> float:
    """The larger of the Engle-Granger p-values of a on b and of b on a (``scan_adf_lags``; NaN when
    either cannot run)."""
    lags = scan_adf_lags(len(a))
    forward, reverse = engle_granger_fast(a, b, lags)[0], engle_granger_fast(b, a, lags)[0]
    return max(forward.pvalue, reverse.pvalue) if not (forward.reason or reverse.reason) else math.nan


def scan_pair(universe: Universe, i: int, j: int, signal: PairSignal) -> dict:
    """The figures (SCAN_FIGURE_COLUMNS) of the pair (symbols[i], symbols[j]); see the module docstring."""
    keep = np.isfinite(universe.closes[i]) & np.isfinite(universe.closes[j]) & (universe.traded[i] | universe.traded[j])
    ts = universe.grid[keep]
    segments = segment_ids(ts, signal.timeframe, signal.max_stale)
    first = int(np.searchsorted(segments, segments[-1])) if len(ts) else 0
    ts = ts[first:]
    a, b = universe.closes[i][keep][first:], universe.closes[j][keep][first:]
    row = dict.fromkeys(SCAN_FIGURE_COLUMNS, math.nan)
    row.update(symbol_a=universe.symbols[i], symbol_b=universe.symbols[j], rows=len(a), johansen_rank=pd.NA,
               last_ms=int(ts[-1]) if len(ts) else pd.NA, reason="")
    eg, residual, _, _ = engle_granger_fast(a, b, scan_adf_lags(len(a)))
    reverse = engle_granger_fast(b, a, scan_adf_lags(len(a)))[0]
    if eg.reason or reverse.reason:
        row["reason"] = eg.reason or reverse.reason
        return row
    half = len(a) // 2
    spread_half_life = half_life(residual, n_series=2)
    row.update(p_value=max(eg.pvalue, reverse.pvalue), p_a_on_b=eg.pvalue, p_b_on_a=reverse.pvalue,
               eg_statistic=eg.statistic, johansen_rank=johansen_test(np.column_stack([a, b])).rank_95,
               half_life=spread_half_life.half_life_bars, half_life_low=spread_half_life.ci_low_bars,
               half_life_high=spread_half_life.ci_high_bars,
               p_first_half=both_ways_p_value(a[:half], b[:half]), p_second_half=both_ways_p_value(a[half:], b[half:]),
               return_corr=_correlation(np.diff(universe.log_closes[i][keep][first:]),
                                        np.diff(universe.log_closes[j][keep][first:])),
               spread_vol_bps=float(np.std(residual / a, ddof=1) * 1e4))
    warmup = warmup_rows(signal.hedge, signal.window, signal.hedge_window)
    tail = len(a) if warmup is None else min(len(a), warmup + 1)
    bar_index = ts[-tail:] // timeframe_ms(signal.timeframe)
    now = segment_signal(a[-tail:], b[-tail:], signal.hedge, signal.window, signal.hedge_window, bar_index)
    row.update(beta=float(now["beta"][-1]), alpha=float(now["alpha"][-1]), zscore=float(now["zscore"][-1]))
    return row


_WORKER: tuple[Universe, PairSignal] | None = None


def _start_worker(universe: Universe, signal: PairSignal) -> None:
    """A pool process: the universe, one BLAS thread, and SIGKILL when the scanning process dies (a
    scan killed with kill -9 leaves no worker behind; Linux's PR_SET_PDEATHSIG, elsewhere nothing)."""
    global _WORKER
    _WORKER = (universe, signal)
    limit_blas_threads(1)
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, 9)
    except OSError:
        pass


def _scan_chunk(pairs: Sequence[tuple[int, int]]) -> list[dict]:
    universe, signal = _WORKER
    return [scan_pair(universe, i, j, signal) for i, j in pairs]


def scan_pairs(bars_by_symbol: Mapping[str, pd.DataFrame], signal: PairSignal = PairSignal(),
               workers: int = 1) -> pd.DataFrame:
    """The figures (SCAN_FIGURE_COLUMNS) of every pair of ``bars_by_symbol``'s symbols (bars at
    ``signal.timeframe``: ts_ms, close), pairs in the order (0, 1), (0, 2), ..., (1, 2), ...
    ``workers`` > 1 spreads the pairs over that many processes when there are enough of them."""
    if signal.hedge not in CAUSAL_HEDGES:
        raise ValueError(f"the scan needs a causal hedge, one of {', '.join(CAUSAL_HEDGES)}; got {signal.hedge!r}")
    with single_blas_thread():
        return _scan_universe(build_universe(bars_by_symbol, signal.timeframe, signal.max_stale), signal, workers)


def _scan_universe(universe: Universe, signal: PairSignal, workers: int) -> pd.DataFrame:
    count = len(universe.symbols)
    pairs = [(i, j) for i in range(count) for j in range(i + 1, count)]
    if workers > 1 and len(pairs) >= PARALLEL_MIN_PAIRS:
        chunks = [pairs[k::workers * 4] for k in range(workers * 4)]
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"), initializer=_start_worker,
                                 initargs=(universe, signal)) as pool:
            by_pair = {(row["symbol_a"], row["symbol_b"]): row
                       for rows in pool.map(_scan_chunk, chunks) for row in rows}
        rows = [by_pair[universe.symbols[i], universe.symbols[j]] for i, j in pairs]
    else:
        rows = [scan_pair(universe, i, j, signal) for i, j in pairs]
    frame = pd.DataFrame(rows, columns=SCAN_FIGURE_COLUMNS)
    frame["rows"] = frame["rows"].astype("int64")
    frame["johansen_rank"] = frame["johansen_rank"].astype("Int64")
    frame["last_ms"] = frame["last_ms"].astype("Int64")
    return frame
