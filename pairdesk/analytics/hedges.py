"""Hedge ratios: static OLS, Huber and Theil-Sen fits, rolling OLS, the Kalman filter, and the spread."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pairdesk.analytics.common import (
    KALMAN_DELTA,
    KALMAN_OBSERVATION_VAR,
    KALMAN_PRIOR_VAR,
    MIN_ROWS_FOR_FIT,
    THEILSEN_MAX_ROWS,
    _as_float_array,
    _check_window,
    _is_zero_std,
    _like_input,
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

