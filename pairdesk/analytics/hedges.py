"""Hedge ratios: static OLS, Huber and Theil-Sen fits, rolling OLS, the Kalman filter, and the spread."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pairdesk.analytics.common import (
    MIN_ROWS_FOR_FIT,
    THEILSEN_MAX_ROWS,
    _as_float_array,
    _check_window,
    _is_zero_std,
)
from pairdesk.analytics.rolling import _rolling_moments


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
