"""Tests of mean reversion of a pair panel: the cointegration verdict (the headline), and the ADF and
Hurst exponent of the chosen spread (details). statsmodels is loaded lazily.

The headline is ``cointegration.cointegration_verdict`` on the prices (Engle-Granger decides at 5 %,
Johansen beside it, the Newey-West hedge, the half-life of the regression's residual). The ADF of
the chosen spread uses Dickey-Fuller's critical values, which hold for a series observed as it is,
not for a residual whose hedge was estimated from the same bars: it is a labelled detail
(``ADF_SPREAD_LABEL``), never the verdict. Every test runs on the same rows (``tested_rows``); the
spread's details skip the rows where the chosen hedge has no estimate yet (``spread_rows`` of them
remain), so the headline does not depend on the hedge method.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from pairdesk.analytics.cointegration import (
    CointegrationVerdict,
    CointResult,
    HacHedgeFit,
    cointegration_verdict,
    engle_granger_test,
)
from pairdesk.analytics.common import HEAVY_TEST_WINDOW_ROWS, HURST_MAX_LAG
from pairdesk.analytics.half_life import HalfLifeResult, half_life
from pairdesk.analytics.inputs import SIGNIFICANCE_LEVEL, critical_values, normal_quantile, run_test, series_input
from pairdesk.analytics.johansen import JohansenResult, johansen_test

__all__ = ["ADF_SPREAD_LABEL", "AdfResult", "CointResult", "HalfLifeResult", "HurstResult", "JohansenResult",
           "MeanReversionReport", "adf_test", "engle_granger_test", "half_life", "hurst_exponent", "johansen_test",
           "mean_reversion_tests", "tested_rows"]

ADF_SPREAD_LABEL = ("ADF of the spread, Dickey-Fuller critical values: not a cointegration test when the hedge "
                    "was estimated from the same data")

HURST_RANDOM_WALKS = 200  # Gaussian random walks per length for the Hurst interval
HURST_RANDOM_WALK_SEED = 20_240_809
_HURST_CHUNK_WALKS = 50  # walks simulated at once (bounds memory at 50 x n floats)


@dataclass(frozen=True)
class AdfResult:
    """Augmented Dickey-Fuller test of a unit root (statsmodels adfuller). A p-value below 0.05
    rejects the unit root of a series observed as it is; on a spread whose hedge was estimated from
    the same data the critical values are too lenient (see ADF_SPREAD_LABEL). Figures NaN when
    ``reason`` is set."""

    statistic: float = math.nan
    pvalue: float = math.nan
    lags_used: int | None = None
    nobs: int | None = None
    critical_values: dict[str, float] = field(default_factory=dict)  # keys "1%", "5%", "10%"
    reason: str | None = None


@dataclass(frozen=True)
class HurstResult:
    """Hurst exponent H from std(x_{t+k} - x_t) ~ k^H over lags k (0.5: a random walk; below:
    anti-persistent increments; above: persistent). A description of the series, not a test of
    cointegration.

    Interval: H ± 1.96 sd, where sd is the standard deviation of this estimator on
    HURST_RANDOM_WALKS seeded Gaussian random walks of the same length and lags (a parametric
    bootstrap under the random walk). The OLS standard error of the log-log slope would understate
    it many times over: the lagged differences overlap. random_walk_mean is the estimator's mean on
    those walks (0.47 at 650 rows, 0.49 at 2,000: biased below 0.5 on short series); compare the
    interval with it, not with 0.5. NaN figures when ``reason`` is set.
    """

    hurst: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    random_walk_mean: float = math.nan
    level: float = SIGNIFICANCE_LEVEL
    lags: tuple[int, ...] = ()
    nobs: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class MeanReversionReport:
    """The tests of one pair on its ``rows`` tested rows: the headline verdict on the prices, and the
    ADF and Hurst exponent of the chosen spread, on the ``spread_rows`` of them where it is finite,
    as details."""

    rows: int
    verdict: CointegrationVerdict
    adf: AdfResult
    hurst: HurstResult
    spread_rows: int = 0

    @property
    def engle_granger(self) -> CointResult:
        return self.verdict.engle_granger

    @property
    def johansen(self) -> JohansenResult:
        return self.verdict.johansen

    @property
    def half_life(self) -> HalfLifeResult:
        return self.verdict.half_life

    @property
    def hedge(self) -> HacHedgeFit:
        return self.verdict.hedge


def adf_test(series: pd.Series | np.ndarray, maxlag: int | None = None, regression: str = "c",
             autolag: str | None = "AIC") -> AdfResult:
    """ADF test (statsmodels adfuller with its defaults: constant, lag by AIC up to
    12 * (nobs / 100) ** 0.25). NaN rows are dropped first."""
    from statsmodels.tsa.stattools import adfuller

    x, reason = series_input(series)
    if reason:
        return AdfResult(reason=reason)
    result, reason = run_test("adfuller", lambda: adfuller(x, maxlag=maxlag, regression=regression,
                                                           autolag=autolag, result_object=True))
    if result is None or not np.isfinite(result.statistic):
        return AdfResult(reason=reason or "adfuller: statistic undefined (degenerate input)")
    return AdfResult(float(result.statistic), float(result.pvalue), int(result.lags), int(result.nobs),
                     critical_values(result.critical_values))


def _hurst_slopes(paths: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Per row of ``paths``: the OLS slope of ln std(x[k:] - x[:-k]) (ddof 0) on ln k over ``lags``."""
    log_tau = np.log(np.stack([np.std(paths[:, k:] - paths[:, :-k], axis=1) for k in lags], axis=1))
    log_lag = np.log(lags) - np.log(lags).mean()
    return (log_tau - log_tau.mean(axis=1, keepdims=True)) @ log_lag / (log_lag @ log_lag)


@lru_cache(maxsize=16)
def _random_walk_hurst(nobs: int, max_lag: int) -> tuple[float, float]:
    """(mean, standard deviation) of the Hurst estimator on seeded Gaussian random walks of ``nobs``."""
    rng = np.random.default_rng(HURST_RANDOM_WALK_SEED)
    lags = np.arange(2, min(max_lag, nobs // 2) + 1)
    slopes = np.concatenate([_hurst_slopes(np.cumsum(rng.standard_normal((_HURST_CHUNK_WALKS, nobs)), axis=1), lags)
                             for _ in range(HURST_RANDOM_WALKS // _HURST_CHUNK_WALKS)])
    return float(slopes.mean()), float(slopes.std(ddof=1))


def hurst_exponent(series: pd.Series | np.ndarray, max_lag: int = HURST_MAX_LAG,
                   level: float = SIGNIFICANCE_LEVEL) -> HurstResult:
    """Hurst exponent from the scaling of lagged differences: for lags k = 2..min(max_lag, n//2),
    tau_k = std(x_{t+k} - x_t) (ddof = 0), and H is the slope of an OLS of ln tau_k on ln k; with
    the random-walk interval described in HurstResult."""
    if max_lag < 3:
        raise ValueError(f"max_lag must be at least 3 (two lags), got {max_lag}")
    x, reason = series_input(series)
    if reason:
        return HurstResult(level=level, reason=reason)
    lags = np.arange(2, min(max_lag, len(x) // 2) + 1)
    shown_lags = tuple(int(k) for k in lags)
    if any(np.std(x[k:] - x[:-k]) <= 0 for k in lags):
        return HurstResult(level=level, lags=shown_lags, nobs=len(x), reason="lagged differences are constant")
    hurst = float(_hurst_slopes(x[np.newaxis, :], lags)[0])
    walk_mean, walk_sd = _random_walk_hurst(len(x), max_lag)
    half_width = normal_quantile(level) * walk_sd
    return HurstResult(hurst, hurst - half_width, hurst + half_width, walk_mean, level, shown_lags, len(x))


def tested_rows(panel: pd.DataFrame, rows: int = HEAVY_TEST_WINDOW_ROWS) -> pd.DataFrame:
    """The rows the tests run on: the last ``rows`` rows with both prices finite of the panel's last
    contiguous segment (its ``segment`` column; the whole panel when it has none), so no test runs
    across a hole in the data."""
    if "segment" in panel.columns and len(panel):
        panel = panel[panel["segment"].to_numpy() == panel["segment"].iloc[-1]]
    finite = np.isfinite(panel[["price_a", "price_b"]].to_numpy(dtype=np.float64)).all(axis=1)
    return panel[finite].tail(rows)


def mean_reversion_tests(panel: pd.DataFrame, rows: int = HEAVY_TEST_WINDOW_ROWS) -> MeanReversionReport:
    """The cointegration verdict of the prices on ``tested_rows(panel, rows)`` of a ``pair_panel``, and
    the ADF and Hurst exponent of the spread on those of them where the spread is finite."""
    recent = tested_rows(panel, rows)
    spread = recent["spread"].to_numpy(dtype=np.float64)
    spread = spread[np.isfinite(spread)]
    return MeanReversionReport(
        rows=len(recent),
        verdict=cointegration_verdict(recent["price_a"], recent["price_b"]),
        adf=adf_test(spread),
        hurst=hurst_exponent(spread),
        spread_rows=len(spread),
    )
