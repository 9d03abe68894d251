"""Causal hedges: for every bar t, the hedge (alpha, beta) estimated from bars up to t-1 only.

Each method returns, per row of one contiguous segment, the intercept and slope of
``a = alpha + beta * b`` that were known before bar t (NaN until a method has enough history),
so that the residual ``e_t = a_t - alpha_t - beta_t * b_t`` of bar t is a true out-of-sample
mispricing and never changes when later bars arrive:

- ``rolling``    OLS with intercept on the ``hedge_window`` bars that end at t-1.
- ``expanding``  OLS with intercept on every bar of the segment up to t-1 (from ``hedge_window`` bars on).
- ``huber``      Huber's robust fit (statsmodels RLM) on the ``hedge_window`` bars ending at t-1,
                 refitted at the first bar of every block of ``robust_refit_every(hedge_window)``
                 bars of the clock (blocks by bar time, so a read that starts later refits on the
                 same bars) and held in between.
- ``theilsen``   Theil-Sen (scipy) on the same windows and refit schedule.
- ``ols_insample`` (``insample_hedge``) the whole-sample OLS, the same (alpha, beta) on every row:
                 research only, it uses future bars (labelled "in-sample" wherever it appears).
The Kalman hedge (``kalman``) lives in ``pairdesk.analytics.kalman``: its z-score is its own
standardised forecast error.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from pairdesk.analytics.common import MIN_ROWS_FOR_FIT, _is_zero_std
from pairdesk.analytics.hedges import hedge_ratio_ols, rolling_ols

# A robust refit costs milliseconds; refitting every bar of a long window would cost seconds.
ROBUST_REFITS_PER_WINDOW = 20


def robust_refit_every(hedge_window: int) -> int:
    """How many bars a Huber or Theil-Sen fit is held before the next refit."""
    return max(1, hedge_window // ROBUST_REFITS_PER_WINDOW)


def _shifted(values: np.ndarray) -> np.ndarray:
    """``values`` moved one row later: row t gets what was known at the end of row t-1."""
    out = np.full(len(values), np.nan)
    out[1:] = values[:-1]
    return out


def rolling_hedge(a: np.ndarray, b: np.ndarray, hedge_window: int) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, beta) per row from OLS on the ``hedge_window`` rows ending one row earlier."""
    if len(a) <= hedge_window:
        nan = np.full(len(a), np.nan)
        return nan, nan.copy()
    fit = rolling_ols(a, b, hedge_window)
    return _shifted(fit["alpha"].to_numpy()), _shifted(fit["beta"].to_numpy())


def expanding_hedge(a: np.ndarray, b: np.ndarray, min_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, beta) per row from OLS on every earlier row, once ``min_rows`` rows are available.

    Cumulative sums of deviations from the first row keep the digits: prices sit far from zero
    while their variation is small.
    """
    n = len(a)
    alpha, beta = np.full(n, np.nan), np.full(n, np.nan)
    if n <= min_rows:
        return alpha, beta
    da, db = a - a[0], b - b[0]
    count = np.arange(1, n + 1, dtype=np.float64)
    mean_a, mean_b = np.cumsum(da) / count, np.cumsum(db) / count
    sxx = np.cumsum(db * db) - count * mean_b * mean_b
    sxy = np.cumsum(da * db) - count * mean_a * mean_b
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = sxy / sxx
    std_b = np.sqrt(np.maximum(sxx, 0.0) / np.maximum(count - 1, 1))
    slope[_is_zero_std(std_b, b[0] + mean_b) | ~np.isfinite(slope)] = np.nan
    intercept = (a[0] + mean_a) - slope * (b[0] + mean_b)
    known = np.arange(n) >= max(min_rows, MIN_ROWS_FOR_FIT) - 1
    slope[~known], intercept[~known] = np.nan, np.nan
    return _shifted(intercept), _shifted(slope)


def _robust_fit(method: str, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    if method == "huber":
        import statsmodels.api as sm

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a perfect fit has a zero MAD scale
            design = np.column_stack([np.ones(len(b)), b - b.mean()])
            fit = sm.RLM(a, design, M=sm.robust.norms.HuberT()).fit()
        slope, level = float(fit.params[1]), float(fit.params[0])
        return level - slope * b.mean(), slope
    from scipy.stats import theilslopes

    fit = theilslopes(a, b)
    return float(fit.intercept), float(fit.slope)


def refit_rows(bar_index: np.ndarray, hedge_window: int) -> np.ndarray:
    """Rows where a robust fit is made: the first row of each block of ``robust_refit_every`` bars
    of the clock (``bar_index`` = bar start / bar length), once ``hedge_window`` rows precede it."""
    block = np.asarray(bar_index, dtype=np.int64) // robust_refit_every(hedge_window)
    first_of_block = np.flatnonzero(np.diff(block, prepend=block[0] - 1) != 0) if len(block) else block
    return first_of_block[first_of_block >= hedge_window]


def robust_hedge(method: str, a: np.ndarray, b: np.ndarray, hedge_window: int,
                 bar_index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, beta) per row from ``method`` (huber or theilsen), fitted at each ``refit_rows`` row
    on the ``hedge_window`` rows before it and held until the next one (NaN before the first).
    ``bar_index``: each row's bar number on the clock (default: the row number)."""
    n = len(a)
    alpha, beta = np.full(n, np.nan), np.full(n, np.nan)
    starts = refit_rows(np.arange(n) if bar_index is None else bar_index, hedge_window)
    for start, stop in zip(starts, [*starts[1:], n]):  # the fit known at row ``start`` uses rows < start
        window_a, window_b = a[start - hedge_window:start], b[start - hedge_window:start]
        if (hedge_window < MIN_ROWS_FOR_FIT or np.ptp(window_b) == 0
                or not (np.isfinite(window_a).all() and np.isfinite(window_b).all())):
            continue  # too few rows for a fit (as for the static fits), or nothing to fit
        fitted_alpha, fitted_beta = _robust_fit(method, window_a, window_b)
        if math.isfinite(fitted_alpha) and math.isfinite(fitted_beta):
            alpha[start:stop], beta[start:stop] = fitted_alpha, fitted_beta
    return alpha, beta


def insample_hedge(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The whole-sample OLS (alpha, beta) on every row: it uses future bars (research only)."""
    fit = hedge_ratio_ols(a, b)
    return np.full(len(a), fit.alpha), np.full(len(a), fit.beta)
