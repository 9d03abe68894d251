"""Pairs-trading statistics on pandas objects: bars, alignment, hedge ratios, spread, z-score,
correlation, mean-reversion tests, summaries, a z-score backtest and hourly summaries.

Pure: DataFrames and arrays in, DataFrames, arrays and small frozen dataclasses out; no I/O, no
asyncio, sqlite3 or streamlit. The CSV export CLI lives in ``pairdesk.analytics_cli``.

Conventions
-----------
* Times are integers, UTC epoch milliseconds. A bar is labelled by its start.
* ``price_a`` is the dependent leg: hedge ratios regress ``price_a`` on ``price_b``, and
  spread = price_a - hedge_ratio * price_b (the intercept is never part of the spread).
* Trailing windows are counted in rows and include the current row (no look-ahead); a rolling
  statistic is NaN until ``window`` rows are available, and NaN whenever its window holds a NaN.
* NaN in an output means "not defined here" (too few rows, zero variance, missing input);
  statistical tests return a result object whose ``reason`` says why a figure is missing
  (``reason is None`` means every figure was computed).

The README section "Analytics definitions" documents every formula; keep the two in step.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import numpy as np
import pandas as pd

__all__ = [
    "TIMEFRAME_MS", "HEDGE_METHODS", "HEAVY_TEST_WINDOW_ROWS", "DEFAULT_MAX_STALE_STEPS", "BAR_COLUMNS",
    "PANEL_COLUMNS", "timeframe_ms", "annualisation_factor",
    "bars_from_trades", "resample_bars", "align_closes", "align_pair", "log_returns",
    "HedgeFit", "hedge_ratio_ols", "hedge_ratio_huber", "hedge_ratio_theilsen", "rolling_ols", "kalman_hedge",
    "spread_series", "rolling_mean_std", "rolling_zscore", "rolling_correlation", "pair_panel",
    "AdfResult", "CointResult", "JohansenResult", "HalfLifeResult", "HurstResult", "MeanReversionReport",
    "adf_test", "engle_granger_test", "johansen_test", "half_life", "hurst_exponent", "mean_reversion_tests",
    "SymbolSummary", "symbol_summary", "summary_table", "correlation_matrix",
    "BacktestResult", "backtest_zscore", "hourly_summary",
]

# --------------------------------------------------------------------------- constants

TIMEFRAME_MS: dict[str, int] = {
    "1s": 1_000, "5s": 5_000, "10s": 10_000, "30s": 30_000,
    "1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000,
}
HOUR_MS = 3_600_000
SECONDS_PER_YEAR = 365 * 24 * 3600  # crypto trades every day of the year
HEDGE_METHODS = ("ols", "rolling", "huber", "theilsen", "kalman")
DEFAULT_MAX_STALE_STEPS = 60  # carry a close forward at most this many grid steps
DEFAULT_WINDOW_ROWS = 60

# A standard deviation is treated as zero (statistic -> NaN) when
# std <= ZERO_STD_RTOL * max(1, |mean|): rounding noise in a window of equal values, never real
# variation (one 0.01 tick in 60 rows of a 60 000 price has std ~1e-3, far above 6e-8).
ZERO_STD_RTOL = 1e-12

MIN_ROWS_FOR_FIT = 3  # a line and a residual degree of freedom
MIN_ROWS_FOR_TESTS = 20  # ADF, Engle-Granger, Johansen, half-life, Hurst
HEAVY_TEST_WINDOW_ROWS = 2_000  # the dashboard runs the heavy tests on the last this many aligned rows
THEILSEN_MAX_ROWS = 2_000  # Theil-Sen is O(n^2) in time and memory: above this, an even subsample
HURST_MAX_LAG = 100  # lags 2..min(HURST_MAX_LAG, n // 2)

# Kalman filter defaults, in normalised units (prices divided by their first aligned value):
# state noise variance per bar W = delta / (1 - delta) for beta' and alpha', observation noise
# variance V (1e-6 = a residual of about 10 bp). The filter adapts over roughly
# sqrt(V / W) ~ 316 bars; raise delta to follow the hedge ratio faster.
KALMAN_DELTA = 1e-11
KALMAN_OBSERVATION_VAR = 1e-6
KALMAN_PRIOR_VAR = 1.0  # prior variance of beta' and alpha' (prior mean: beta' = 1, alpha' = 0)

# Backtest defaults: z thresholds and Binance spot's standard taker fee, per leg per fill.
BACKTEST_ENTRY_Z = 2.0
BACKTEST_EXIT_Z = 0.5
BACKTEST_STOP_Z = 4.0
BACKTEST_FEE_BPS = 10.0

BAR_COLUMNS = ["ts_ms", "open", "high", "low", "close", "volume", "quote_volume", "trades", "vwap"]
PANEL_COLUMNS = ["ts_ms", "price_a", "price_b", "hedge_ratio", "spread", "zscore", "corr", "alpha", "return_corr"]

Hedge = Literal["ols", "rolling", "huber", "theilsen", "kalman"]
T = TypeVar("T")


def timeframe_ms(timeframe: str) -> int:
    """Length of ``timeframe`` (one of TIMEFRAME_MS's keys) in milliseconds; ValueError otherwise."""
    try:
        return TIMEFRAME_MS[timeframe]
    except (KeyError, TypeError):
        raise ValueError(f"unknown timeframe {timeframe!r}; use one of {', '.join(TIMEFRAME_MS)}") from None


def _check_window(window: int) -> int:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 2:
        raise ValueError(f"window must be an integer >= 2 rows, got {window!r}")
    return int(window)


def _as_float_array(values: pd.Series | np.ndarray | Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _like_input(values: np.ndarray, template: object, name: str | None = None) -> pd.Series:
    """``values`` as a Series carrying ``template``'s index when it is a Series."""
    index = template.index if isinstance(template, pd.Series) else None
    return pd.Series(values, index=index, name=name)


def _is_zero_std(std: np.ndarray | float, mean: np.ndarray | float) -> np.ndarray | bool:
    """The ZERO_STD_RTOL rule: std <= ZERO_STD_RTOL * max(1, |mean|) (NaN std: False)."""
    with np.errstate(invalid="ignore"):
        return std <= ZERO_STD_RTOL * np.maximum(1.0, np.abs(mean))


# --------------------------------------------------------------------------- bars


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


# --------------------------------------------------------------------------- alignment


def _as_of(ts: np.ndarray, values: np.ndarray, grid_ts: np.ndarray, max_age_ms: float) -> np.ndarray:
    """For each grid time, the value of the last bar at or before it (``ts`` sorted), if that
    bar is at most ``max_age_ms`` older; NaN otherwise."""
    last = np.searchsorted(ts, grid_ts, side="right") - 1
    out = np.full(len(grid_ts), np.nan)
    ok = last >= 0
    ok[ok] = grid_ts[ok] - ts[last[ok]] <= max_age_ms
    out[ok] = values[last[ok]]
    return out


def align_closes(bars_by_symbol: Mapping[str, pd.DataFrame], timeframe: str,
                 max_stale: int = DEFAULT_MAX_STALE_STEPS) -> pd.DataFrame:
    """Closes of several symbols on one regular time grid.

    Each DataFrame holds bars at ``timeframe`` (columns ts_ms, close; ts_ms a multiple of the
    timeframe). The grid runs at the timeframe from the first to the last bar of any symbol;
    each symbol's close is carried forward (as of) at most ``max_stale`` grid steps
    (0 = no carry-forward); rows where any symbol is still missing are dropped. Columns: ts_ms
    then one float column per symbol, in the mapping's order. Empty when any symbol has no bars.
    """
    tf_ms = timeframe_ms(timeframe)
    if isinstance(max_stale, bool) or not isinstance(max_stale, (int, np.integer)) or max_stale < 0:
        raise ValueError(f"max_stale must be an integer >= 0 grid steps, got {max_stale!r}")
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
    end = min(max(ts[-1] for ts, _ in columns.values()), min(ts[-1] for ts, _ in columns.values()) + max_stale * tf_ms)
    if end < start:
        return empty
    grid = np.arange(start, end + 1, tf_ms, dtype=np.int64)
    aligned = {s: _as_of(ts, close, grid, max_stale * tf_ms) for s, (ts, close) in columns.items()}
    keep = np.logical_and.reduce([~np.isnan(v) for v in aligned.values()])
    out = pd.DataFrame({"ts_ms": grid[keep]})
    for symbol, values in aligned.items():
        out[symbol] = values[keep]
    return out


def align_pair(bars_a: pd.DataFrame, bars_b: pd.DataFrame, timeframe: str,
               max_stale: int = DEFAULT_MAX_STALE_STEPS) -> pd.DataFrame:
    """Two symbols' closes on one grid (see ``align_closes``): columns ts_ms, price_a, price_b."""
    aligned = align_closes({"price_a": bars_a, "price_b": bars_b}, timeframe, max_stale)
    return aligned.reset_index(drop=True)


def log_returns(prices: pd.Series | np.ndarray) -> pd.Series:
    """ln(p_t / p_{t-1}) between consecutive rows; NaN on the first row (and around NaN/<= 0 prices)."""
    p = _as_float_array(prices)
    out = np.full(len(p), np.nan)
    if len(p) > 1:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[1:] = np.log(p[1:] / p[:-1])
    out[~np.isfinite(out)] = np.nan
    return _like_input(out, prices, "log_return")


# --------------------------------------------------------------------------- rolling moments


@dataclass(frozen=True)
class _Moments:
    """Trailing-window moments, one value per row (NaN until the window is full / has a NaN).

    The window mean of x is ref_x + mean_dev_x: a value of the window plus a small offset, so
    that x_t - mean can be formed as (x_t - ref_x) - mean_dev_x without losing digits. m2 is the
    sum of squared deviations from the window mean, c_xy the sum of cross products.
    """

    ref_x: np.ndarray
    mean_dev_x: np.ndarray
    m2_x: np.ndarray
    ref_y: np.ndarray | None = None
    mean_dev_y: np.ndarray | None = None
    m2_y: np.ndarray | None = None
    c_xy: np.ndarray | None = None

    @property
    def mean_x(self) -> np.ndarray:
        return self.ref_x + self.mean_dev_x

    @property
    def mean_y(self) -> np.ndarray:
        return self.ref_y + self.mean_dev_y


@dataclass(frozen=True)
class _Prefixes:
    """Running moments of every prefix of every row of a (blocks x window) array.

    Vectorised Welford: deviations are taken from the row's first value ``ref`` (it lies in any
    window the prefix is used for, so no large offset is ever subtracted), running means come
    from a cumulative sum of those deviations, and M2 is the cumulative sum of Welford's
    non-negative increments (x_j - mean_{j-1}) (x_j - mean_j): no cancellation between large
    running sums.
    """

    ref: np.ndarray  # (blocks, 1)
    dev: np.ndarray  # x - ref
    mean_dev: np.ndarray  # prefix mean - ref
    prev_mean_dev: np.ndarray  # the same one element earlier (0 before the first)
    m2: np.ndarray

    @classmethod
    def of(cls, blocks: np.ndarray) -> _Prefixes:
        ref = blocks[:, :1]
        dev = blocks - ref
        mean_dev = np.cumsum(dev, axis=1) / np.arange(1, blocks.shape[1] + 1, dtype=np.float64)
        prev = np.concatenate([np.zeros((len(blocks), 1)), mean_dev[:, :-1]], axis=1)
        return cls(ref, dev, mean_dev, prev, np.cumsum((dev - prev) * (dev - mean_dev), axis=1))

    def comoment(self, other: _Prefixes) -> np.ndarray:
        """Welford's running co-moment sum (x_j - mean_x,{j-1}) (y_j - mean_y,j) of two series."""
        return np.cumsum((self.dev - self.prev_mean_dev) * (other.dev - other.mean_dev), axis=1)


def _fill_gaps(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Non-finite entries replaced by the nearest earlier (else later) finite one. The windows
    that hold them are masked anyway; this only keeps block offsets small."""
    if valid.all():
        return values
    if not valid.any():
        return np.zeros(len(values))
    idx = np.where(valid, np.arange(len(values)), -1)
    np.maximum.accumulate(idx, out=idx)
    idx[idx < 0] = int(np.argmax(valid))
    return values[idx]


def _window_moments(blocks: np.ndarray) -> tuple[np.ndarray, ...]:
    """Moments of the trailing window ending at every cell of a (blocks x window) array.

    The window ending at block k, position p is the whole block when p = window - 1, else the
    suffix of block k - 1 from position p + 1 (n_a = window - 1 - p rows) followed by the prefix
    of block k up to p (n_b = p + 1 rows); block 0's partial windows are NaN. Returns ref,
    mean - ref, M2 (each blocks x window), the two parts' mean difference delta and their
    weight n_a n_b / n (for co-moments), and the prefix summaries of the blocks and of the
    reversed blocks.
    """
    n_blocks, window = blocks.shape
    pre = _Prefixes.of(blocks)
    suf = _Prefixes.of(np.ascontiguousarray(blocks[:, ::-1]))

    def suffix_from_next(values: np.ndarray) -> np.ndarray:  # suffix stats starting at p + 1
        return values[:-1, ::-1][:, 1:]

    n_b = np.arange(1, window, dtype=np.float64)
    weight = (window - n_b) * n_b / window
    ref, mean_dev, m2 = (np.full((n_blocks, window), np.nan) for _ in range(3))
    ref[:, -1], mean_dev[:, -1], m2[:, -1] = pre.ref[:, 0], pre.mean_dev[:, -1], pre.m2[:, -1]
    ref_a, md_a = suf.ref[:-1], suffix_from_next(suf.mean_dev)
    delta = (pre.ref[1:] - ref_a) + (pre.mean_dev[1:, :-1] - md_a)
    ref[1:, :-1] = ref_a
    mean_dev[1:, :-1] = md_a + delta * (n_b / window)
    m2[1:, :-1] = suffix_from_next(suf.m2) + pre.m2[1:, :-1] + delta * delta * weight
    return ref, mean_dev, np.maximum(m2, 0.0), delta, weight, pre, suf


def _rolling_moments(x: np.ndarray, y: np.ndarray | None, window: int) -> _Moments:
    """Trailing-window moments in O(n) with the accuracy of the centred two-pass formula.

    The series is cut into blocks of ``window`` rows; prefix and suffix moments of each block
    come from ``_Prefixes`` and the two parts of a window are merged (``_window_moments``) with
    Chan, Golub & LeVeque's pairwise formula
        M2 = M2_a + M2_b + delta^2 n_a n_b / n,   C = C_a + C_b + delta_x delta_y n_a n_b / n.
    Rounding error is relative to the window's own spread whatever the price level; a window of
    equal values gives exactly M2 = 0. Windows holding a non-finite value are NaN.
    """
    n = len(x)
    if n < window:
        nan = np.full(n, np.nan)
        return _Moments(nan, nan, nan, *((nan, nan, nan, nan) if y is not None else ()))
    valid = np.isfinite(x) if y is None else np.isfinite(x) & np.isfinite(y)
    n_bad = np.concatenate([[0], np.cumsum(~valid)])
    has_nan = np.zeros(n, dtype=bool)
    has_nan[window - 1:] = (n_bad[window:] - n_bad[:-window]) > 0
    n_blocks = -(-n // window)

    def blocks_of(values: np.ndarray) -> np.ndarray:
        filled = _fill_gaps(values, valid)
        padding = np.repeat(filled[-1:], n_blocks * window - n)  # never inside a returned window
        return np.concatenate([filled, padding]).reshape(n_blocks, window)

    def rows(values: np.ndarray) -> np.ndarray:
        out = values.reshape(-1)[:n]
        out[has_nan] = np.nan
        return out

    bx = blocks_of(x)
    ref_x, md_x, m2_x, delta_x, weight, pre_x, suf_x = _window_moments(bx)
    if y is None:
        return _Moments(rows(ref_x), rows(md_x), rows(m2_x))
    ref_y, md_y, m2_y, delta_y, _, pre_y, suf_y = _window_moments(blocks_of(y))
    c_xy = np.full((n_blocks, window), np.nan)
    pre_c, suf_c = pre_x.comoment(pre_y), suf_x.comoment(suf_y)
    c_xy[:, -1] = pre_c[:, -1]
    c_xy[1:, :-1] = suf_c[:-1, ::-1][:, 1:] + pre_c[1:, :-1] + delta_x * delta_y * weight
    return _Moments(rows(ref_x), rows(md_x), rows(m2_x), rows(ref_y), rows(md_y), rows(m2_y), rows(c_xy))


def rolling_mean_std(values: pd.Series | np.ndarray, window: int) -> tuple[pd.Series, pd.Series]:
    """Trailing mean and standard deviation (ddof = 1) over the last ``window`` rows including
    the current one; NaN until ``window`` rows exist and for windows holding a NaN. Same
    definition as pandas ``rolling(window).mean()/.std()``, computed without cancellation."""
    window = _check_window(window)
    moments = _rolling_moments(_as_float_array(values), None, window)
    std = np.sqrt(moments.m2_x / (window - 1))
    return _like_input(moments.mean_x, values, "mean"), _like_input(std, values, "std")


def rolling_zscore(values: pd.Series | np.ndarray, window: int) -> pd.Series:
    """(x_t - trailing mean) / trailing std (ddof = 1), both over the last ``window`` rows
    including row t. NaN with fewer than ``window`` rows, a NaN in the window, or a zero std
    (std <= ZERO_STD_RTOL * max(1, |mean|)); never infinite."""
    window = _check_window(window)
    x = _as_float_array(values)
    moments = _rolling_moments(x, None, window)
    std = np.sqrt(moments.m2_x / (window - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = ((x - moments.ref_x) - moments.mean_dev_x) / std
    z[_is_zero_std(std, moments.mean_x) | ~np.isfinite(z)] = np.nan
    return _like_input(z, values, "zscore")


def rolling_correlation(x: pd.Series | np.ndarray, y: pd.Series | np.ndarray, window: int) -> pd.Series:
    """Pearson correlation of x and y over the last ``window`` rows including the current one
    (min_periods = window). NaN with fewer rows, a NaN in the window, or either side of zero
    variance (ZERO_STD_RTOL rule). Clipped to [-1, 1] against rounding."""
    window = _check_window(window)
    xa, ya = _as_float_array(x), _as_float_array(y)
    if len(xa) != len(ya):
        raise ValueError(f"x and y differ in length ({len(xa)} != {len(ya)})")
    m = _rolling_moments(xa, ya, window)
    sx, sy = np.sqrt(m.m2_x / (window - 1)), np.sqrt(m.m2_y / (window - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.clip(m.c_xy / np.sqrt(m.m2_x * m.m2_y), -1.0, 1.0)
    corr[_is_zero_std(sx, m.mean_x) | _is_zero_std(sy, m.mean_y) | ~np.isfinite(corr)] = np.nan
    return _like_input(corr, x, "corr")


# --------------------------------------------------------------------------- hedge ratios


@dataclass(frozen=True)
class HedgeFit:
    """One static fit of price_a = alpha + beta * price_b.

    beta is the hedge ratio (units of B per unit of A), alpha the intercept in A's price units.
    r_squared and the standard errors are as statsmodels reports them (OLS; Huber: standard
    errors from RLM, no R squared); NaN where a method has none. ``reason`` is None when the
    fit ran, else why beta/alpha are NaN.
    """

    method: str
    beta: float
    alpha: float
    nobs: int
    r_squared: float = math.nan
    beta_stderr: float = math.nan
    alpha_stderr: float = math.nan
    reason: str | None = None


def _regression_input(price_a: pd.Series | np.ndarray, price_b: pd.Series | np.ndarray,
                      min_rows: int) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Finite paired rows of (price_a, price_b), and why they cannot be regressed (or None)."""
    a, b = _as_float_array(price_a), _as_float_array(price_b)
    if len(a) != len(b):
        raise ValueError(f"price_a and price_b differ in length ({len(a)} != {len(b)})")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if len(a) < min_rows:
        return a, b, f"need at least {min_rows} rows, have {len(a)}"
    if _is_zero_std(b.std(), b.mean()):
        return a, b, "price_b is constant"
    return a, b, None


def _design(b: np.ndarray) -> np.ndarray:
    import statsmodels.api as sm

    return sm.add_constant(b, has_constant="add")


def hedge_ratio_ols(price_a: pd.Series | np.ndarray, price_b: pd.Series | np.ndarray) -> HedgeFit:
    """Static OLS of price_a on [1, price_b] over all finite rows: what statsmodels OLS reports.

    Closed form on centred sums (beta = Sxy / Sxx, alpha = mean a - beta mean b; R squared =
    1 - SSR / SST; standard errors from sigma^2 = SSR / (n - 2): se(beta) = sqrt(sigma^2 / Sxx),
    se(alpha) = sqrt(sigma^2 (1/n + mean b^2 / Sxx))), equal to statsmodels' fit (the tests
    compare them) without loading statsmodels and scipy, which the ingestor's alerts would pay
    for in memory.
    """
    a, b, reason = _regression_input(price_a, price_b, MIN_ROWS_FOR_FIT)
    if reason:
        return HedgeFit("ols", math.nan, math.nan, len(a), reason=reason)
    n = len(a)
    mean_a, mean_b = a.mean(), b.mean()
    da, db = a - mean_a, b - mean_b
    sxx = float(db @ db)
    beta = float(db @ da) / sxx
    alpha = float(mean_a - beta * mean_b)
    residuals = da - beta * db
    ssr, sst = float(residuals @ residuals), float(da @ da)
    sigma2 = ssr / (n - 2)
    r_squared = 1.0 - ssr / sst if sst > 0 else math.nan
    return HedgeFit("ols", beta, alpha, n, r_squared, math.sqrt(sigma2 / sxx),
                    math.sqrt(sigma2 * (1.0 / n + mean_b * mean_b / sxx)))


def hedge_ratio_huber(price_a: pd.Series | np.ndarray, price_b: pd.Series | np.ndarray) -> HedgeFit:
    """Static robust fit with Huber's T norm (statsmodels RLM, default t = 1.345, MAD scale)."""
    import statsmodels.api as sm

    a, b, reason = _regression_input(price_a, price_b, MIN_ROWS_FOR_FIT)
    if reason:
        return HedgeFit("huber", math.nan, math.nan, len(a), reason=reason)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a perfect fit has a zero MAD scale
        fit = sm.RLM(a, _design(b), M=sm.robust.norms.HuberT()).fit()
    if not np.all(np.isfinite(fit.params)):
        return HedgeFit("huber", math.nan, math.nan, len(a), reason="RLM did not converge to finite parameters")
    return HedgeFit("huber", float(fit.params[1]), float(fit.params[0]), len(a),
                    beta_stderr=float(fit.bse[1]), alpha_stderr=float(fit.bse[0]))


def hedge_ratio_theilsen(price_a: pd.Series | np.ndarray, price_b: pd.Series | np.ndarray) -> HedgeFit:
    """Static Theil-Sen fit (scipy.stats.theilslopes: median of pairwise slopes; intercept
    median(a) - beta * median(b)). Above THEILSEN_MAX_ROWS rows it runs on an evenly spaced
    subsample of that many rows (first and last included), since it is O(n^2)."""
    from scipy.stats import theilslopes

    a, b, reason = _regression_input(price_a, price_b, MIN_ROWS_FOR_FIT)
    if reason:
        return HedgeFit("theilsen", math.nan, math.nan, len(a), reason=reason)
    if len(a) > THEILSEN_MAX_ROWS:
        rows = np.unique(np.linspace(0, len(a) - 1, THEILSEN_MAX_ROWS).round().astype(np.int64))
        a, b = a[rows], b[rows]
    fit = theilslopes(a, b)
    return HedgeFit("theilsen", float(fit.slope), float(fit.intercept), len(a))


def rolling_ols(price_a: pd.Series | np.ndarray, price_b: pd.Series | np.ndarray, window: int) -> pd.DataFrame:
    """Trailing-window OLS of price_a on [1, price_b]: row t uses rows t-window+1..t only.

    Columns beta, alpha, r_squared (index of the input when it is a Series). beta =
    cov(a, b) / var(b), alpha = mean(a) - beta * mean(b) within the window, equal to
    statsmodels OLS fitted on that window alone. NaN for the first window-1 rows, for windows
    holding a NaN, and where price_b's window std is zero (ZERO_STD_RTOL rule).
    """
    window = _check_window(window)
    a, b = _as_float_array(price_a), _as_float_array(price_b)
    m = _rolling_moments(b, a, window)  # x = price_b (regressor), y = price_a
    with np.errstate(invalid="ignore", divide="ignore"):
        beta = m.c_xy / m.m2_x
        r_squared = m.c_xy * m.c_xy / (m.m2_x * m.m2_y)
    flat_b = _is_zero_std(np.sqrt(m.m2_x / (window - 1)), m.mean_x)
    beta[flat_b | ~np.isfinite(beta)] = np.nan
    alpha = m.mean_y - beta * m.mean_x
    r_squared[~np.isfinite(beta) | ~np.isfinite(r_squared)] = np.nan
    index = price_a.index if isinstance(price_a, pd.Series) else None
    return pd.DataFrame({"beta": beta, "alpha": alpha, "r_squared": np.clip(r_squared, 0.0, 1.0)}, index=index)


def kalman_hedge(price_a: pd.Series | np.ndarray, price_b: pd.Series | np.ndarray,
                 delta: float = KALMAN_DELTA, observation_var: float = KALMAN_OBSERVATION_VAR,
                 prior_var: float = KALMAN_PRIOR_VAR) -> pd.DataFrame:
    """Time-varying hedge ratio from a Kalman filter (filtered estimates: row t uses rows <= t).

    State model, in prices normalised by their first finite pair (a0, b0), y_t = a_t / a0 and
    x_t = b_t / b0:
        theta_t = (beta'_t, alpha'_t),  theta_t = theta_{t-1} + w_t,  w_t ~ N(0, W I),
        W = delta / (1 - delta)                       (random walk for beta and alpha)
        y_t = beta'_t x_t + alpha'_t + v_t,           v_t ~ N(0, observation_var)
        theta_0 ~ N((1, 0), prior_var I)              (prior: the price-ratio hedge)
    and back in price units beta_t = beta'_t a0 / b0, alpha_t = alpha'_t a0. Larger ``delta``
    (or smaller ``observation_var``) lets beta move faster; it adapts over roughly
    sqrt(observation_var / W) bars. delta = 0 is recursive least squares (expanding OLS).

    Columns: beta, alpha, spread (= a - beta * b, filtered beta of the same row),
    forecast_error (a_t minus the one-step-ahead prediction, in price units) and forecast_std
    (its standard deviation); rows with a NaN price keep the previous state and have NaN
    spread and forecast columns.
    """
    if not 0.0 <= delta < 1.0:
        raise ValueError(f"delta must be in [0, 1), got {delta!r}")
    if observation_var <= 0 or prior_var <= 0:
        raise ValueError("observation_var and prior_var must be > 0")
    a, b = _as_float_array(price_a), _as_float_array(price_b)
    n = len(a)
    columns = ("beta", "alpha", "spread", "forecast_error", "forecast_std")
    out = {name: np.full(n, np.nan) for name in columns}
    finite = np.isfinite(a) & np.isfinite(b) & (a != 0) & (b != 0)
    if finite.any():
        first = int(np.argmax(finite))
        a0, b0 = a[first], b[first]
        w = delta / (1.0 - delta)
        # Computed in the equivalent coordinates (beta', gamma' = alpha' + beta'), observation
        # y = beta' (x - 1) + gamma': prices stay near their first value, so (beta', alpha') are
        # nearly collinear while (beta', gamma') are not, and the 2x2 covariance keeps its digits.
        # Covariances transform with T = [[1, 0], [1, 1]]: T I T' = [[1, 1], [1, 2]].
        beta_n, gamma_n = 1.0, 1.0
        p11, p12, p22 = prior_var, prior_var, 2.0 * prior_var
        rows: list[tuple[float, float, float, float]] = []
        for y, x, ok in zip((a[first:] / a0).tolist(), (b[first:] / b0).tolist(), finite[first:].tolist()):
            p11, p12, p22 = p11 + w, p12 + w, p22 + 2.0 * w
            if ok:
                u = x - 1.0
                rx1, rx2 = p11 * u + p12, p12 * u + p22  # R h'
                q = u * rx1 + rx2 + observation_var
                error = y - (beta_n * u + gamma_n)
                k1, k2 = rx1 / q, rx2 / q
                beta_n, gamma_n = beta_n + k1 * error, gamma_n + k2 * error
                p11, p12, p22 = p11 - k1 * rx1, p12 - k1 * rx2, p22 - k2 * rx2
                rows.append((beta_n, gamma_n - beta_n, error, math.sqrt(q)))
            else:
                rows.append((beta_n, gamma_n - beta_n, math.nan, math.nan))
        filtered = np.array(rows)
        out["beta"][first:] = filtered[:, 0] * (a0 / b0)
        out["alpha"][first:] = filtered[:, 1] * a0
        out["forecast_error"][first:] = filtered[:, 2] * a0
        out["forecast_std"][first:] = filtered[:, 3] * abs(a0)
        out["spread"] = a - out["beta"] * b
        out["spread"][~finite] = np.nan
    index = price_a.index if isinstance(price_a, pd.Series) else None
    return pd.DataFrame(out, index=index)


def spread_series(price_a: pd.Series | np.ndarray, price_b: pd.Series | np.ndarray,
                  hedge_ratio: float | pd.Series | np.ndarray) -> pd.Series:
    """spread = price_a - hedge_ratio * price_b (no intercept); hedge_ratio a scalar or per row."""
    a, b = _as_float_array(price_a), _as_float_array(price_b)
    beta = hedge_ratio if np.isscalar(hedge_ratio) else _as_float_array(hedge_ratio)
    return _like_input(a - beta * b, price_a, "spread")


def _hedge_columns(a: np.ndarray, b: np.ndarray, hedge: str, window: int, kalman_delta: float,
                   kalman_observation_var: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-row (hedge_ratio, alpha) for ``hedge`` (one of HEDGE_METHODS)."""
    n = len(a)
    if hedge == "rolling":
        fit = rolling_ols(a, b, window)
        return fit["beta"].to_numpy(), fit["alpha"].to_numpy()
    if hedge == "kalman":
        fit = kalman_hedge(a, b, kalman_delta, kalman_observation_var)
        return fit["beta"].to_numpy(), fit["alpha"].to_numpy()
    static_fit = {"ols": hedge_ratio_ols, "huber": hedge_ratio_huber, "theilsen": hedge_ratio_theilsen}[hedge]
    fit = static_fit(a, b)
    return np.full(n, fit.beta), np.full(n, fit.alpha)


def pair_panel(bars_a: pd.DataFrame, bars_b: pd.DataFrame, timeframe: str = "1s",
               window: int = DEFAULT_WINDOW_ROWS, hedge: Hedge = "ols",
               max_stale: int = DEFAULT_MAX_STALE_STEPS, *, kalman_delta: float = KALMAN_DELTA,
               kalman_observation_var: float = KALMAN_OBSERVATION_VAR) -> pd.DataFrame:
    """The per-refresh pair table the dashboard, the API and the CLI all use.

    ``bars_a``/``bars_b``: bars whose length divides ``timeframe`` (tickstore's 1-second bars).
    They are resampled to ``timeframe`` and aligned (``align_pair``, ``max_stale`` steps). One
    row per aligned bar, columns PANEL_COLUMNS:
      ts_ms         bar start, UTC ms
      price_a/b     aligned closes
      hedge_ratio   beta: one static fit over all rows (ols, huber, theilsen, repeated), the
                    trailing-window OLS beta (rolling) or the filtered Kalman beta (kalman)
      spread        price_a - hedge_ratio * price_b
      zscore        rolling_zscore(spread, window)
      corr          rolling_correlation(price_a, price_b, window)
      alpha         the intercept paired with hedge_ratio (not part of the spread)
      return_corr   rolling_correlation of the two log-return series, same window
    """
    window = _check_window(window)
    if hedge not in HEDGE_METHODS:
        raise ValueError(f"unknown hedge {hedge!r}; use one of {', '.join(HEDGE_METHODS)}")
    panel = align_pair(resample_bars(bars_a, timeframe), resample_bars(bars_b, timeframe), timeframe, max_stale)
    a, b = panel["price_a"].to_numpy(), panel["price_b"].to_numpy()
    beta, alpha = _hedge_columns(a, b, hedge, window, kalman_delta, kalman_observation_var)
    spread = spread_series(a, b, beta).to_numpy()
    panel["hedge_ratio"] = beta
    panel["spread"] = spread
    panel["zscore"] = rolling_zscore(spread, window).to_numpy()
    panel["corr"] = rolling_correlation(a, b, window).to_numpy()
    panel["alpha"] = alpha
    panel["return_corr"] = rolling_correlation(log_returns(a), log_returns(b), window).to_numpy()
    return panel[PANEL_COLUMNS]


# --------------------------------------------------------------------------- mean-reversion tests


@dataclass(frozen=True)
class AdfResult:
    """Augmented Dickey-Fuller test of a unit root (statsmodels adfuller). A p-value below 0.05
    rejects the unit root: the series mean-reverts. Figures NaN when ``reason`` is set."""

    statistic: float = math.nan
    pvalue: float = math.nan
    lags_used: int | None = None
    nobs: int | None = None
    critical_values: dict[str, float] = field(default_factory=dict)  # keys "1%", "5%", "10%"
    reason: str | None = None


@dataclass(frozen=True)
class CointResult:
    """Engle-Granger two-step cointegration test of price_a on price_b (statsmodels coint).
    The null is "no cointegration"; a p-value below 0.05 rejects it."""

    statistic: float = math.nan
    pvalue: float = math.nan
    critical_values: dict[str, float] = field(default_factory=dict)  # keys "1%", "5%", "10%"
    nobs: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class JohansenResult:
    """Johansen trace test (statsmodels coint_johansen). trace_statistics[r] tests
    "rank <= r"; critical_values[r] are its (90%, 95%, 99%) critical values; rank_95 is the
    number of cointegrating relations at 95% (first r whose statistic is below its value)."""

    trace_statistics: tuple[float, ...] = ()
    critical_values: tuple[tuple[float, float, float], ...] = ()
    eigenvalues: tuple[float, ...] = ()
    rank_95: int | None = None
    nobs: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class HalfLifeResult:
    """Half-life of mean reversion from dS_t = a + b S_{t-1} + e_t (OLS): -ln 2 / b, in bars.
    NaN with a reason when b >= 0 (no mean reversion) or the input is unusable."""

    half_life_bars: float = math.nan
    b: float = math.nan
    a: float = math.nan
    nobs: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class HurstResult:
    """Hurst exponent H from std(x_{t+k} - x_t) ~ k^H over lags k (0.5 random walk, < 0.5
    mean-reverting, > 0.5 trending)."""

    hurst: float = math.nan
    lags: tuple[int, ...] = ()
    reason: str | None = None


@dataclass(frozen=True)
class MeanReversionReport:
    """All mean-reversion tests of one pair on the last ``rows`` aligned rows."""

    rows: int
    adf: AdfResult
    engle_granger: CointResult
    johansen: JohansenResult
    half_life: HalfLifeResult
    hurst: HurstResult


def _test_input(values: pd.Series | np.ndarray, name: str = "series",
                min_rows: int = MIN_ROWS_FOR_TESTS) -> tuple[np.ndarray, str | None]:
    """Finite values of ``values`` and why a test cannot run on them (or None)."""
    x = _as_float_array(values)
    x = x[np.isfinite(x)]
    if len(x) < min_rows:
        return x, f"need at least {min_rows} rows, have {len(x)}"
    if _is_zero_std(x.std(), x.mean()):
        return x, f"{name} is constant"
    return x, None


def _critical_values(values: Mapping[str, float]) -> dict[str, float]:
    return {key: float(value) for key, value in values.items()}


def _run_test(name: str, call: Callable[[], T]) -> tuple[T | None, str | None]:
    """Run a statsmodels test; (None, reason) when it fails or its regression is rank-deficient
    (a degenerate series such as a straight line), instead of an exception or a warning."""
    from statsmodels.tools.sm_exceptions import SingularMatrixWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except (ValueError, np.linalg.LinAlgError) as exc:
            return None, f"{name} failed: {exc}"
    if any(issubclass(w.category, SingularMatrixWarning) for w in caught):
        return None, f"{name}: degenerate input (rank-deficient regression)"
    return result, None


def adf_test(series: pd.Series | np.ndarray, maxlag: int | None = None, regression: str = "c",
             autolag: str | None = "AIC") -> AdfResult:
    """ADF test (statsmodels adfuller with its defaults: constant, lag by AIC up to
    12 * (nobs / 100) ** 0.25). NaN rows are dropped first."""
    from statsmodels.tsa.stattools import adfuller

    x, reason = _test_input(series)
    if reason:
        return AdfResult(reason=reason)
    result, reason = _run_test("adfuller", lambda: adfuller(x, maxlag=maxlag, regression=regression,
                                                            autolag=autolag, result_object=True))
    if result is None or not np.isfinite(result.statistic):
        return AdfResult(reason=reason or "adfuller: statistic undefined (degenerate input)")
    return AdfResult(float(result.statistic), float(result.pvalue), int(result.lags), int(result.nobs),
                     _critical_values(result.critical_values))


def _pair_test_input(price_a: pd.Series | np.ndarray, price_b: pd.Series | np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, str | None]:
    a, b = _as_float_array(price_a), _as_float_array(price_b)
    if len(a) != len(b):
        raise ValueError(f"price_a and price_b differ in length ({len(a)} != {len(b)})")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    for name, values in (("price_a", a), ("price_b", b)):
        _, reason = _test_input(values, name)
        if reason:
            return a, b, reason
    return a, b, None


def engle_granger_test(price_a: pd.Series | np.ndarray, price_b: pd.Series | np.ndarray,
                       maxlag: int | None = None, autolag: str | None = "aic") -> CointResult:
    """Engle-Granger test (statsmodels coint(price_a, price_b), constant term) on the finite
    paired rows."""
    from statsmodels.tsa.stattools import coint

    a, b, reason = _pair_test_input(price_a, price_b)
    if reason:
        return CointResult(nobs=len(a), reason=reason)
    result, reason = _run_test("coint", lambda: coint(a, b, maxlag=maxlag, autolag=autolag))
    if result is None or not np.isfinite(result[0]):
        return CointResult(nobs=len(a), reason=reason or "price_a and price_b are perfectly collinear")
    statistic, pvalue, crit = result
    return CointResult(float(statistic), float(pvalue), dict(zip(("1%", "5%", "10%"), map(float, crit))), len(a))


def johansen_test(prices: pd.DataFrame | np.ndarray, det_order: int = 0, k_ar_diff: int = 1) -> JohansenResult:
    """Johansen trace test on two or more price columns (statsmodels coint_johansen; det_order 0
    = constant, k_ar_diff lagged differences). Rows with a NaN are dropped."""
    from statsmodels.tsa.vector_ar.vecm import coint_johansen

    data = np.asarray(prices, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] < 2:
        return JohansenResult(reason="need at least 2 series")
    if data.shape[1] > 12:
        return JohansenResult(reason="critical values exist for at most 12 series")
    data = data[np.all(np.isfinite(data), axis=1)]
    for column in range(data.shape[1]):
        _, reason = _test_input(data[:, column], f"series {column}")
        if reason:
            return JohansenResult(nobs=len(data), reason=reason)
    result, reason = _run_test("coint_johansen", lambda: coint_johansen(data, det_order, k_ar_diff))
    if result is None:
        return JohansenResult(nobs=len(data), reason=reason)
    trace = tuple(float(v) for v in result.lr1)
    crit = tuple(tuple(float(v) for v in row) for row in result.cvt)
    rank = next((r for r, (stat, cv) in enumerate(zip(trace, crit)) if stat <= cv[1]), len(trace))
    return JohansenResult(trace, crit, tuple(float(v) for v in result.eig), rank, len(data))


def half_life(spread: pd.Series | np.ndarray) -> HalfLifeResult:
    """Half-life of mean reversion in bars: OLS of dS_t = S_t - S_{t-1} on [1, S_{t-1}],
    half-life = -ln 2 / b (the continuous-time approximation of -ln 2 / ln(1 + b))."""
    x, reason = _test_input(spread, "spread")
    if reason:
        return HalfLifeResult(reason=reason)
    lagged, change = x[:-1], np.diff(x)
    fit = hedge_ratio_ols(change, lagged)  # the same OLS machinery: change = a + b * lagged
    if fit.reason:
        return HalfLifeResult(nobs=len(change), reason=fit.reason.replace("price_b", "the lagged spread"))
    if fit.beta >= 0:
        return HalfLifeResult(b=fit.beta, a=fit.alpha, nobs=len(change),
                              reason=f"no mean reversion: b = {fit.beta:.3g} >= 0")
    return HalfLifeResult(-math.log(2.0) / fit.beta, fit.beta, fit.alpha, len(change))


def hurst_exponent(series: pd.Series | np.ndarray, max_lag: int = HURST_MAX_LAG) -> HurstResult:
    """Hurst exponent from the scaling of lagged differences: for lags k = 2..min(max_lag, n//2),
    tau_k = std(x_{t+k} - x_t) (ddof = 0), and H is the slope of an OLS of ln tau_k on ln k."""
    if max_lag < 3:
        raise ValueError(f"max_lag must be at least 3 (two lags), got {max_lag}")
    x, reason = _test_input(series)
    if reason:
        return HurstResult(reason=reason)
    lags = np.arange(2, min(max_lag, len(x) // 2) + 1)
    tau = np.array([np.std(x[k:] - x[:-k]) for k in lags])
    if np.any(tau <= 0):
        return HurstResult(lags=tuple(int(k) for k in lags), reason="lagged differences are constant")
    slope = np.polyfit(np.log(lags), np.log(tau), 1)[0]
    return HurstResult(float(slope), tuple(int(k) for k in lags))


def mean_reversion_tests(panel: pd.DataFrame, rows: int = HEAVY_TEST_WINDOW_ROWS) -> MeanReversionReport:
    """ADF, half-life and Hurst of the spread, Engle-Granger and Johansen of the prices, all on
    the last ``rows`` rows of a ``pair_panel`` whose spread is finite."""
    recent = panel[np.isfinite(panel["spread"].to_numpy())].tail(rows)
    return MeanReversionReport(
        rows=len(recent),
        adf=adf_test(recent["spread"]),
        engle_granger=engle_granger_test(recent["price_a"], recent["price_b"]),
        johansen=johansen_test(recent[["price_a", "price_b"]]),
        half_life=half_life(recent["spread"]),
        hurst=hurst_exponent(recent["spread"]),
    )


# --------------------------------------------------------------------------- summaries


def annualisation_factor(timeframe: str) -> float:
    """sqrt(bars per year) = sqrt(SECONDS_PER_YEAR / bar seconds); 365-day year."""
    return math.sqrt(SECONDS_PER_YEAR / (timeframe_ms(timeframe) / 1000))


@dataclass(frozen=True)
class SymbolSummary:
    """One symbol's bars summarised. Prices in quote currency; NaN when there are no bars (or,
    for std and volatility, too few)."""

    bars: int
    last: float
    mean: float  # of closes
    std: float  # of closes, ddof = 1
    min: float  # lowest trade (min of lows)
    max: float  # highest trade (max of highs)
    annualised_volatility: float  # std of grid log returns (ddof = 1) * sqrt(bars per year)
    vwap: float  # sum(quote_volume) / sum(volume)
    volume: float  # base units
    trades: int


def symbol_summary(bars: pd.DataFrame, timeframe: str) -> SymbolSummary:
    """Summary of one symbol's bars at ``timeframe``.

    Volatility uses log returns of the close carried forward on the regular grid from the first
    to the last bar (a bar with no trades is a zero return), so it is per calendar bar.
    """
    tf_ms = timeframe_ms(timeframe)
    if len(bars) == 0:
        return SymbolSummary(0, *([math.nan] * 7), volume=0.0, trades=0)
    bars = bars.sort_values("ts_ms", kind="stable")
    close = bars["close"].to_numpy(np.float64)
    ts = bars["ts_ms"].to_numpy(np.int64)
    grid_close = _as_of(ts, close, np.arange(ts[0], ts[-1] + 1, tf_ms, dtype=np.int64), math.inf)
    returns = log_returns(grid_close).to_numpy()[1:]
    vol = float(np.std(returns, ddof=1)) * annualisation_factor(timeframe) if len(returns) > 1 else math.nan
    volume = float(bars["volume"].sum())
    return SymbolSummary(
        bars=len(bars), last=float(close[-1]), mean=float(close.mean()),
        std=float(np.std(close, ddof=1)) if len(close) > 1 else math.nan,
        min=float(bars["low"].min()), max=float(bars["high"].max()), annualised_volatility=vol,
        vwap=float(bars["quote_volume"].sum()) / volume if volume > 0 else math.nan,
        volume=volume, trades=int(bars["trades"].sum()),
    )


def summary_table(bars_by_symbol: Mapping[str, pd.DataFrame], timeframe: str) -> pd.DataFrame:
    """``symbol_summary`` of every symbol, one row each, indexed by symbol."""
    rows = {symbol: vars(symbol_summary(bars, timeframe)) for symbol, bars in bars_by_symbol.items()}
    return pd.DataFrame.from_dict(rows, orient="index")


def correlation_matrix(bars_by_symbol: Mapping[str, pd.DataFrame], timeframe: str,
                       max_stale: int = DEFAULT_MAX_STALE_STEPS,
                       of: Literal["returns", "prices"] = "returns") -> pd.DataFrame:
    """Pearson correlation matrix across symbols of their aligned closes (``of="prices"``) or of
    the log returns of those closes (``of="returns"``), over all aligned rows. Bars at
    ``timeframe``. NaN for a symbol without variance."""
    if of not in ("returns", "prices"):
        raise ValueError(f"of must be 'returns' or 'prices', got {of!r}")
    aligned = align_closes(bars_by_symbol, timeframe, max_stale).drop(columns="ts_ms")
    if of == "returns":
        aligned = aligned.apply(log_returns)
    return aligned.corr()


def hourly_summary(panel: pd.DataFrame) -> pd.DataFrame:
    """Per UTC hour of a ``pair_panel``: one row per hour_start_ms (= floor(ts_ms / 3 600 000)
    * 3 600 000) with rows and, for price_a and price_b, first / last / min / max / mean / std;
    spread mean and std; zscore mean and max; corr mean / min / max. std has ddof = 1;
    statistics skip NaN (an hour whose z-scores are all NaN has NaN z statistics)."""
    hour = (panel["ts_ms"].to_numpy(np.int64) // HOUR_MS) * HOUR_MS
    price_stats = ["first", "last", "min", "max", "mean", "std"]
    spec = {"rows": ("ts_ms", "size")}
    for price in ("price_a", "price_b"):
        spec |= {f"{price}_{stat}": (price, stat) for stat in price_stats}
    spec |= {"spread_mean": ("spread", "mean"), "spread_std": ("spread", "std"),
             "zscore_mean": ("zscore", "mean"), "zscore_max": ("zscore", "max"),
             "corr_mean": ("corr", "mean"), "corr_min": ("corr", "min"), "corr_max": ("corr", "max")}
    out = panel.groupby(pd.Series(hour, index=panel.index, name="hour_start_ms")).agg(**spec)
    return out.reset_index()


# --------------------------------------------------------------------------- backtest


@dataclass(frozen=True)
class BacktestResult:
    """Outcome of ``backtest_zscore``. Returns are fractions of the capital at risk (gross
    notional of the position at entry); pnl is in quote currency for 1 unit of A.

    trades: entry_ts_ms, exit_ts_ms, side (+1 long spread, -1 short), entry_z, exit_z,
      hedge_ratio, entry/exit prices of both legs, notional, fees, pnl (net), return, reason
      ("exit", "stop" or "end").
    equity: ts_ms, position (+1/0/-1), pnl (per bar, net), ret (per-bar return), equity
      (1 + cumulative ret).
    """

    trades: pd.DataFrame
    equity: pd.DataFrame
    total_return: float
    sharpe: float
    max_drawdown: float
    hit_rate: float
    reason: str | None = None


def _signals(z: np.ndarray, beta: np.ndarray, entry_z: float, exit_z: float, stop_z: float
             ) -> list[tuple[int, int, int, str]]:
    """(entry signal row, exit signal row, side, reason) of each trade; fills are one row later.

    Entries are read up to the third-last row (so a trade lives at least one bar), exits up to
    the second-last; a trade still open then ends on the last row with reason "end".
    """
    trades: list[tuple[int, int, int, str]] = []
    side, opened = 0, -1
    n = len(z)
    for t, zt in enumerate(z.tolist()[: max(n - 1, 0)]):
        if zt != zt:  # NaN z: no signal, an open position is held
            continue
        if side == 0:
            if t <= n - 3 and entry_z <= abs(zt) < stop_z and math.isfinite(beta[t]):
                side, opened = (-1 if zt > 0 else 1), t
        elif (side == 1 and zt <= -stop_z) or (side == -1 and zt >= stop_z):
            trades.append((opened, t, side, "stop"))
            side = 0
        elif (side == 1 and zt >= -exit_z) or (side == -1 and zt <= exit_z):
            trades.append((opened, t, side, "exit"))
            side = 0
    if side:
        trades.append((opened, n - 1, side, "end"))
    return trades


def backtest_zscore(panel: pd.DataFrame, timeframe: str, entry: float = BACKTEST_ENTRY_Z,
                    exit: float = BACKTEST_EXIT_Z, stop: float = BACKTEST_STOP_Z,  # noqa: A002 (the spec's names)
                    fee_bps: float = BACKTEST_FEE_BPS) -> BacktestResult:
    """Z-score mean-reversion backtest on a ``pair_panel`` (columns ts_ms, price_a, price_b,
    hedge_ratio, zscore).

    Rules: a signal is read on row t's zscore and filled at row t+1's prices (no look-ahead).
    Flat: z >= entry -> short the spread (-1 A, +beta B), z <= -entry -> long (+1 A, -beta B),
    only while |z| < stop, beta = hedge_ratio of the signal row, fixed for the trade. Long exits
    when z >= -exit (back inside the band, or overshot), short when z <= exit; stop out when
    z <= -stop (long) or z >= stop (short). NaN z: no signal.
    Entries are read up to the third-last row; a position still open at the end is closed at
    the last row ("end"). Fees: fee_bps / 10 000 of the traded notional of both legs at entry
    and at exit. Capital = gross notional at entry (|A| + |beta| B); per-bar
    return = that bar's net pnl / capital of the open trade (0 when flat). Sharpe =
    mean / std (ddof 1) of per-bar returns * sqrt(bars per year), all bars; max drawdown = the
    largest fall of the equity curve 1 + cumulative return from its running peak, as a fraction
    of that peak; hit rate = share of trades with net pnl > 0.
    """
    if not 0 <= exit < entry < stop:
        raise ValueError(f"need 0 <= exit < entry < stop, got exit={exit}, entry={entry}, stop={stop}")
    bars_per_year = annualisation_factor(timeframe) ** 2
    ts = panel["ts_ms"].to_numpy(np.int64)
    a, b = panel["price_a"].to_numpy(np.float64), panel["price_b"].to_numpy(np.float64)
    z, beta_col = panel["zscore"].to_numpy(np.float64), panel["hedge_ratio"].to_numpy(np.float64)
    n, fee = len(panel), fee_bps / 10_000
    position, bar_pnl, bar_ret = np.zeros(n, np.int64), np.zeros(n), np.zeros(n)
    rows = []
    for sig_in, sig_out, side, reason in _signals(z, beta_col, entry, exit, stop):
        i, j, beta = sig_in + 1, min(sig_out + 1, n - 1), beta_col[sig_in]
        qty_a, qty_b = float(side), -side * beta
        notional, exit_notional = (abs(qty_a) * a[k] + abs(qty_b) * b[k] for k in (i, j))
        fees = fee * (notional + exit_notional)
        pnl = np.zeros(j - i + 1)
        pnl[1:] = qty_a * np.diff(a[i:j + 1]) + qty_b * np.diff(b[i:j + 1])
        pnl[0] -= fee * notional
        pnl[-1] -= fee * exit_notional
        position[i:j + 1] = side
        bar_pnl[i:j + 1] = pnl
        bar_ret[i:j + 1] = pnl / notional
        rows.append({"entry_ts_ms": ts[i], "exit_ts_ms": ts[j], "side": side, "entry_z": z[sig_in],
                     "exit_z": z[sig_out], "hedge_ratio": beta, "entry_price_a": a[i], "entry_price_b": b[i],
                     "exit_price_a": a[j], "exit_price_b": b[j], "notional": notional, "fees": fees,
                     "pnl": float(pnl.sum()), "return": float(pnl.sum()) / notional, "reason": reason})
    trade_columns = ["entry_ts_ms", "exit_ts_ms", "side", "entry_z", "exit_z", "hedge_ratio", "entry_price_a",
                     "entry_price_b", "exit_price_a", "exit_price_b", "notional", "fees", "pnl", "return", "reason"]
    trades = pd.DataFrame(rows, columns=trade_columns)
    equity_curve = 1.0 + np.cumsum(bar_ret)
    equity = pd.DataFrame({"ts_ms": ts, "position": position, "pnl": bar_pnl, "ret": bar_ret, "equity": equity_curve})
    if n < 2:
        return BacktestResult(trades, equity, math.nan, math.nan, math.nan, math.nan,
                              reason=f"need at least 2 rows, have {n}")
    std = float(np.std(bar_ret, ddof=1))
    sharpe = float(np.mean(bar_ret)) / std * math.sqrt(bars_per_year) if std > 0 else math.nan
    peak = np.maximum.accumulate(np.r_[1.0, equity_curve])[1:]
    max_drawdown = float(np.max((peak - equity_curve) / peak))
    hit_rate = float((trades["pnl"] > 0).mean()) if len(trades) else math.nan
    return BacktestResult(trades, equity, float(equity_curve[-1] - 1.0), sharpe, max_drawdown, hit_rate,
                          reason=None if len(trades) else "no trades")
