"""The half-life of mean reversion from the AR(1) fit of a residual, with its confidence interval.

Fit (OLS): Δe_t = a + b e_{t-1} + u_t on t = 1..n-1; half-life = -ln 2 / b bars (the
continuous-time reading of the AR(1) coefficient 1 + b; for small |b| it is ln 0.5 / ln(1 + b)).

Significance: under "no mean reversion" (a unit root, b = 0) the t-statistic of b is not normal,
it follows the Dickey-Fuller distribution, so it is judged against MacKinnon's (1994) p-values:
for the residual of a regression of one price on another (``n_series=2``, the Engle-Granger case;
the default, because the residual's hedge was estimated from the same data) or of a series tested
as it is (``n_series=1``). With normal critical values a random walk would show a "significant"
half-life about half the time. The half-life is reported only when b < 0 at 5 % this way.

Interval: b ± z·se(b) (z = 1.96 at 5 %, valid when the residual is stationary) mapped through
-ln 2 / b: [-ln 2 / (b - z·se), -ln 2 / (b + z·se)], the upper end infinite (open-ended) when b's
interval reaches 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pairdesk.analytics.hedges import hedge_ratio_ols
from pairdesk.analytics.inputs import SIGNIFICANCE_LEVEL, normal_quantile, series_input

HALF_LIFE_NO_REVERSION = "no significant mean reversion"


@dataclass(frozen=True)
class HalfLifeResult:
    """The AR(1) half-life of a residual, in bars.

    half_life_bars is -ln 2 / b when b < 0 significantly at ``level`` (MacKinnon p-value of b's
    t-statistic below it), else NaN with ``reason`` starting "no significant mean reversion".
    ci_low_bars / ci_high_bars: the half-life interval at 1 - level from b's standard error
    (ci_high_bars is infinite when b's interval reaches 0; both NaN when b's interval is all ≥ 0 or
    the fit failed). b, a, b_stderr, t_statistic, p_value: the fit. nobs: the differences fitted.
    """

    half_life_bars: float = math.nan
    b: float = math.nan
    a: float = math.nan
    b_stderr: float = math.nan
    t_statistic: float = math.nan
    p_value: float = math.nan
    ci_low_bars: float = math.nan
    ci_high_bars: float = math.nan
    significant: bool | None = None
    level: float = SIGNIFICANCE_LEVEL
    nobs: int | None = None
    reason: str | None = None


def half_life_interval(b: float, b_stderr: float, level: float = SIGNIFICANCE_LEVEL) -> tuple[float, float]:
    """The half-life interval (bars) of b ± z·se mapped through -ln 2 / b: (low, inf) when the
    interval of b reaches 0, (NaN, NaN) when it lies wholly at or above 0."""
    z = normal_quantile(level)
    b_low, b_high = b - z * b_stderr, b + z * b_stderr
    if not (math.isfinite(b_low) and b_low < 0):
        return math.nan, math.nan
    return -math.log(2.0) / b_low, (-math.log(2.0) / b_high if b_high < 0 else math.inf)


def half_life(residual: pd.Series | np.ndarray, n_series: int = 2, level: float = SIGNIFICANCE_LEVEL) -> HalfLifeResult:
    """Half-life of mean reversion of ``residual`` (NaN rows dropped) with its interval; see the module
    docstring. ``n_series``: 2 for a residual of an estimated two-price regression, 1 for a series
    tested as it is (it picks MacKinnon's p-values)."""
    from statsmodels.tsa.adfvalues import mackinnonp

    x, reason = series_input(residual, "spread")
    if reason:
        return HalfLifeResult(level=level, reason=reason)
    lagged, change = x[:-1], np.diff(x)
    fit = hedge_ratio_ols(change, lagged)  # the same OLS machinery: change = a + b * lagged
    if fit.reason:
        return HalfLifeResult(level=level, nobs=len(change), reason=fit.reason.replace("price_b", "the lagged spread"))
    b, se = fit.beta, fit.beta_stderr
    t = b / se if se > 0 else -math.inf
    p = float(mackinnonp(t, regression="c", N=n_series))
    low, high = half_life_interval(b, se, level)
    figures = {"b": b, "a": fit.alpha, "b_stderr": se, "t_statistic": t, "p_value": p, "ci_low_bars": low,
               "ci_high_bars": high, "level": level, "nobs": len(change)}
    if b < 0 and p < level:
        return HalfLifeResult(-math.log(2.0) / b, significant=True, **figures)
    return HalfLifeResult(significant=False, **figures,
                          reason=f"{HALF_LIFE_NO_REVERSION}: b = {b:.3g}, t = {t:.2f}, MacKinnon p = {p:.3f} "
                                 f"≥ {level:g}" if b < 0 else f"{HALF_LIFE_NO_REVERSION}: b = {b:.3g} ≥ 0")
