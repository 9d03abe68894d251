"""Engle-Granger in closed form: the numbers of ``cointegration.engle_granger_test`` at a fraction of
its cost, for the pair scanner (thousands of pairs of ten thousand rows).

The same test, step by step as statsmodels ``coint(a, b, maxlag=L, autolag=None)`` runs it:
1. OLS of a on [1, b]; the residual e (a perfect fit, R² >= 1 - 100 sqrt(eps), is refused as
   collinear, as statsmodels refuses it);
2. the ADF regression without a constant of Δe_t on [e_{t-1}, Δe_{t-1}, ..., Δe_{t-L}] on the
   n - 1 - L rows where every lag exists, L = ``engle_granger_lags(n)``; the statistic is the
   t-value of e_{t-1} with the OLS variance SSR / (rows - L - 1);
3. MacKinnon's p-value and critical values for two series with a constant.
Only the normal equations of step 2 are solved here (an (L + 1)² system) instead of statsmodels'
pseudo-inverse of the whole design; ``tests/test_scan.py`` checks the statistic and p-value against
``engle_granger_test`` to 1e-8.
"""
from __future__ import annotations

import math

import numpy as np

from pairdesk.analytics.cointegration import CointResult, engle_granger_lags
from pairdesk.analytics.inputs import pair_input

_COLLINEAR_RSQUARED = 1.0 - 100.0 * math.sqrt(np.finfo(float).eps)  # statsmodels coint's threshold


def ols_residual(a: np.ndarray, b: np.ndarray) -> tuple[float, float, np.ndarray, float]:
    """(alpha, beta, residual, R²) of the OLS of a on [1, b], from deviations about the means."""
    mean_a, mean_b = a.mean(), b.mean()
    da, db = a - mean_a, b - mean_b
    sxx = float(db @ db)
    beta = float(db @ da) / sxx if sxx > 0 else math.nan
    residual = da - beta * db
    sst = float(da @ da)
    rsquared = 1.0 - float(residual @ residual) / sst if sst > 0 else math.nan
    return float(mean_a - beta * mean_b), beta, residual, rsquared


def adf_no_constant_tstat(x: np.ndarray, lags: int) -> float:
    """The t-value of x_{t-1} in the ADF regression without a constant with ``lags`` lagged
    differences (statsmodels ``adfuller(x, maxlag=lags, autolag=None, regression="n")``)."""
    dx = np.diff(x)
    rows = len(dx) - lags
    if rows <= lags + 1:
        return math.nan
    windows = np.lib.stride_tricks.sliding_window_view(dx, lags + 1)[:rows]  # dx[r .. r + lags]
    y = windows[:, lags]
    design = np.empty((rows, lags + 1))
    design[:, 0] = x[lags:len(x) - 1]
    design[:, 1:] = windows[:, lags - 1::-1] if lags else design[:, 1:]
    gram = design.T @ design
    try:
        inverse = np.linalg.inv(gram)
    except np.linalg.LinAlgError:
        return math.nan
    coef = inverse @ (design.T @ y)
    resid = y - design @ coef
    variance = float(resid @ resid) / (rows - lags - 1)
    se = math.sqrt(variance * inverse[0, 0]) if variance > 0 and inverse[0, 0] > 0 else math.nan
    return float(coef[0]) / se if se > 0 else math.nan


def engle_granger_fast(price_a: np.ndarray, price_b: np.ndarray) -> tuple[CointResult, np.ndarray, float, float]:
    """(the Engle-Granger result ``engle_granger_test`` gives, the OLS residual, alpha, beta) on the
    finite paired rows; the residual is empty and alpha, beta NaN when ``reason`` is set."""
    from statsmodels.tsa.adfvalues import mackinnoncrit, mackinnonp

    a, b, reason = pair_input(price_a, price_b)
    if reason:
        return CointResult(nobs=len(a), reason=reason), np.empty(0), math.nan, math.nan
    lags = engle_granger_lags(len(a))
    alpha, beta, residual, rsquared = ols_residual(a, b)
    if not rsquared < _COLLINEAR_RSQUARED:
        return (CointResult(nobs=len(a), lags=lags, reason="price_a and price_b are perfectly collinear"),
                np.empty(0), math.nan, math.nan)
    statistic = adf_no_constant_tstat(residual, lags)
    if not math.isfinite(statistic):
        return (CointResult(nobs=len(a), lags=lags, reason="coint: degenerate input"), np.empty(0), math.nan,
                math.nan)
    crit = mackinnoncrit(N=2, regression="c", nobs=len(a) - 1)
    result = CointResult(statistic, float(mackinnonp(statistic, regression="c", N=2)),
                         dict(zip(("1%", "5%", "10%"), map(float, crit))), len(a), lags)
    return result, residual, alpha, beta
