"""Tests of mean reversion: ADF, Engle-Granger, Johansen, half-life and Hurst (statsmodels loaded lazily)."""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pairdesk.analytics.common import (
    HEAVY_TEST_WINDOW_ROWS,
    HURST_MAX_LAG,
    MIN_ROWS_FOR_TESTS,
    T,
    _as_float_array,
    _is_zero_std,
)
from pairdesk.analytics.hedges import hedge_ratio_ols


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

