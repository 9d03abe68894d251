"""Engle-Granger in closed form: the numbers of ``cointegration.engle_granger_test`` at a fraction of
its cost, for the pair scanner (thousands of pairs of ten thousand rows).

The same test, step by step as statsmodels ``coint(a, b, maxlag=L, autolag=None)`` runs it:
1. OLS of a on [1, b]; the residual e (a perfect fit, R² >= 1 - 100 sqrt(eps), is refused as
   collinear, as statsmodels refuses it);
2. the ADF regression without a constant of Δe_t on [e_{t-1}, Δe_{t-1}, ..., Δe_{t-L}] on the
   n - 1 - L rows where every lag exists, L = ``engle_granger_lags(n)`` unless given (the scanner
   gives Schwert's l12, ``scan.scan_adf_lags``); the statistic is the
   t-value of e_{t-1} with the OLS variance SSR / (rows - L - 1);
3. MacKinnon's p-value and critical values for two series with a constant.
Only the normal equations of step 2 are solved here (an (L + 1)² system, its entries from lag
products in O(n L)) instead of statsmodels' pseudo-inverse of the whole n x (L + 1) design: 0.4 ms
instead of 80 ms at n = 10,080, L = 38. ``tests/test_scan.py`` checks the statistic and p-value
against ``engle_granger_test`` to 1e-8.
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


def _head_sums(u: np.ndarray, v: np.ndarray, count: int, lags: int) -> np.ndarray:
    """H[c, k] = sum over s < c of u_s v_{s+k}, for c = 0..count and k = 0..lags."""
    products = u[:count, None] * np.lib.stride_tricks.sliding_window_view(v[:count + lags], lags + 1)
    heads = np.zeros((count + 1, lags + 1))
    np.cumsum(products, axis=0, out=heads[1:])
    return heads


def adf_no_constant_tstat(x: np.ndarray, lags: int) -> float:
    """The t-value of x_{t-1} in the ADF regression without a constant with ``lags`` lagged
    differences (statsmodels ``adfuller(x, maxlag=lags, autolag=None, regression="n")``).

    The normal equations come from lag products in O(n * lags + lags²), not O(n * lags²): with d = Δx
    (m values) and the regression rows t = lags..m-1 (target d_t; regressors x_t, the level the
    difference starts from, and d_{t-1}..d_{t-lags}), the product of columns i and j (lag 0 being
    the target) is sum_t d_{t-i} d_{t-j}: the whole-series sum of d_s d_{s+k}, k = |i - j|, less
    its first lags - max(i, j) terms and its last max(i, j) - k terms; the level's products
    sum_t x_t d_{t-j} are the whole sum of x_{s+j} d_s less its first lags - j terms."""
    d = np.diff(x)
    m = len(d)
    rows = m - lags
    if rows <= lags + 1:
        return math.nan
    every = np.arange(lags + 1)
    totals = np.array([d[:m - k] @ d[k:] for k in every])
    level_totals = np.array([x[j:m] @ d[:m - j] for j in every])
    heads, tails = _head_sums(d, d, lags, lags), _head_sums(d[::-1], d[::-1], lags, lags)
    level_heads = _head_sums(d, x, lags, lags)
    lag_i, lag_j = np.meshgrid(every, every, indexing="ij")
    k, far = np.abs(lag_i - lag_j), np.maximum(lag_i, lag_j)
    cross = totals[k] - heads[lags - far, k] - tails[far - k, k]
    with_level = level_totals - level_heads[lags - every, every]
    level = x[lags:m]
    gram = np.empty((lags + 1, lags + 1))  # columns: level, d_{t-1}, ..., d_{t-lags}
    gram[0, 0] = float(level @ level)
    gram[0, 1:] = gram[1:, 0] = with_level[1:]
    gram[1:, 1:] = cross[1:, 1:]
    moment = np.concatenate([[with_level[0]], cross[0, 1:]])
    try:
        inverse = np.linalg.inv(gram)
    except np.linalg.LinAlgError:
        return math.nan
    coef = inverse @ moment
    ssr = float(cross[0, 0] - coef @ moment)
    variance = ssr / (rows - lags - 1)
    se = math.sqrt(variance * inverse[0, 0]) if variance > 0 and inverse[0, 0] > 0 else math.nan
    return float(coef[0]) / se if se > 0 else math.nan


def engle_granger_fast(price_a: np.ndarray, price_b: np.ndarray, maxlag: int | None = None
                       ) -> tuple[CointResult, np.ndarray, float, float]:
    """(the Engle-Granger result ``engle_granger_test(price_a, price_b, maxlag)`` gives, the OLS
    residual, alpha, beta) on the finite paired rows, ``maxlag`` lagged differences (default
    ``engle_granger_lags(n)``); the residual is empty and alpha, beta NaN when ``reason`` is set."""
    from statsmodels.tsa.adfvalues import mackinnoncrit, mackinnonp

    a, b, reason = pair_input(price_a, price_b)
    if reason:
        return CointResult(nobs=len(a), reason=reason), np.empty(0), math.nan, math.nan
    lags = engle_granger_lags(len(a)) if maxlag is None else maxlag
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
