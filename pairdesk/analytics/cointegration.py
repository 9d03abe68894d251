"""Is the pair cointegrated at 5 %? Engle-Granger, Johansen, the Newey-West hedge and the verdict record.

The headline is Engle-Granger's: price_a is regressed on [1, price_b] (OLS on the tested rows) and
the residual's ADF statistic is judged with MacKinnon's critical values and p-values for the
residual of an *estimated* regression (statsmodels ``coint``), not Dickey-Fuller's, which would
call independent random walks "cointegrated" far too often. ``cointegrated`` is its rejection of
"no cointegration" at 5 % and ``p_value`` is its p-value, so the two never disagree. Johansen's
trace test (``johansen``) is the second opinion, reported beside it (``johansen_agrees``); it does
not change the boolean, because requiring both rejects only ~2-3 % of independent random walks at a
nominal 5 % and accepting either ~8-10 %.

Lag rules, fixed by the sample size so the test costs one regression and is reproducible:
* Engle-Granger's ADF: floor(4 (n / 100) ^ (1/4)) lagged differences (Schwert 1989, "l4");
* Newey-West standard errors: floor(4 (n / 100) ^ (2/9)) lags, Bartlett kernel (Newey & West 1994).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pairdesk.analytics.half_life import HalfLifeResult, half_life
from pairdesk.analytics.inputs import SIGNIFICANCE_LEVEL, pair_input, run_test
from pairdesk.analytics.johansen import JohansenResult, johansen_test

HEADLINE_RULE = ("Engle-Granger (residual of price_a on [1, price_b], MacKinnon p-value) rejects "
                 "'no cointegration' at the level; Johansen's trace test is the second opinion")


def engle_granger_lags(nobs: int) -> int:
    """Lagged differences in Engle-Granger's ADF: floor(4 (nobs / 100) ^ (1/4)) (Schwert's l4)."""
    return math.floor(4.0 * (nobs / 100.0) ** 0.25)


def newey_west_lags(nobs: int) -> int:
    """Newey-West (Bartlett) lags: floor(4 (nobs / 100) ^ (2/9))."""
    return math.floor(4.0 * (nobs / 100.0) ** (2.0 / 9.0))


@dataclass(frozen=True)
class CointResult:
    """Engle-Granger two-step test of price_a on price_b (statsmodels coint, constant term).
    The null is "no cointegration"; a p-value below 0.05 rejects it. ``lags``: the ADF's lagged
    differences; figures NaN when ``reason`` is set."""

    statistic: float = math.nan
    pvalue: float = math.nan
    critical_values: dict[str, float] = field(default_factory=dict)  # keys "1%", "5%", "10%"
    nobs: int | None = None
    lags: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class HacHedgeFit:
    """OLS of price_a on [1, price_b] with Newey-West (HAC) standard errors (statsmodels
    ``cov_type="HAC"``, Bartlett kernel, ``hac_lags`` lags, no small-sample correction) and the
    interval beta ± 1.96 se at level 5 %.

    Meaningful only when the pair is cointegrated: on two independent random walks the regression
    is spurious and so is any standard error. Even then it is optimistic when the residual is
    persistent: the lag rule is far shorter than the residual's memory (on simulated pairs with a
    30-bar half-life, n = 5,000, the 95 % interval held the true beta for about half of them).
    NaN figures when ``reason`` is set."""

    beta: float = math.nan
    alpha: float = math.nan
    beta_stderr: float = math.nan
    alpha_stderr: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    level: float = SIGNIFICANCE_LEVEL
    hac_lags: int | None = None
    nobs: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class CointegrationVerdict:
    """The headline "cointegrated at 5 %?" and the figures it rests on, all on the same ``nobs`` rows.

    cointegrated: Engle-Granger rejects "no cointegration" at ``level`` (None when not computable,
    ``reason`` says why); p_value: its MacKinnon p-value; johansen_agrees: Johansen's rank says the
    same (rank 1 when cointegrated, rank 0 when not; None when it could not run); hedge: the
    Newey-West beta of the same regression; half_life: the AR(1) half-life of its residual.
    """

    cointegrated: bool | None
    p_value: float
    nobs: int
    engle_granger: CointResult
    johansen: JohansenResult
    hedge: HacHedgeFit
    half_life: HalfLifeResult
    johansen_agrees: bool | None = None
    level: float = SIGNIFICANCE_LEVEL
    rule: str = HEADLINE_RULE
    reason: str | None = None


def engle_granger_test(price_a: pd.Series | np.ndarray, price_b: pd.Series | np.ndarray,
                       maxlag: int | None = None, autolag: str | None = None) -> CointResult:
    """Engle-Granger test (statsmodels coint(price_a, price_b), constant) on the finite paired rows,
    with ``maxlag`` lagged differences (default ``engle_granger_lags(n)``); ``autolag="aic"`` would
    search 0..maxlag instead, at 30-40 times the cost."""
    from statsmodels.tsa.stattools import coint

    a, b, reason = pair_input(price_a, price_b)
    if reason:
        return CointResult(nobs=len(a), reason=reason)
    lags = engle_granger_lags(len(a)) if maxlag is None else maxlag
    result, reason = run_test("coint", lambda: coint(a, b, maxlag=lags, autolag=autolag))
    if result is None or not np.isfinite(result[0]):
        return CointResult(nobs=len(a), lags=lags, reason=reason or "price_a and price_b are perfectly collinear")
    statistic, pvalue, crit = result
    return CointResult(float(statistic), float(pvalue), dict(zip(("1%", "5%", "10%"), map(float, crit))), len(a),
                       lags)


def hedge_ratio_hac(price_a: pd.Series | np.ndarray, price_b: pd.Series | np.ndarray,
                    level: float = SIGNIFICANCE_LEVEL) -> HacHedgeFit:
    """The OLS hedge of price_a on [1, price_b] with Newey-West standard errors and its interval."""
    import statsmodels.api as sm

    a, b, reason = pair_input(price_a, price_b)
    if reason:
        return HacHedgeFit(level=level, nobs=len(a), reason=reason)
    lags = newey_west_lags(len(a))
    fit, reason = run_test("OLS", lambda: sm.OLS(a, sm.add_constant(b, has_constant="add")).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": False}))
    if fit is None or not np.all(np.isfinite(fit.bse)):
        return HacHedgeFit(level=level, hac_lags=lags, nobs=len(a), reason=reason or "price_a and price_b are collinear")
    (alpha, beta), (alpha_se, beta_se) = fit.params, fit.bse
    low, high = fit.conf_int(alpha=level)[1]
    return HacHedgeFit(float(beta), float(alpha), float(beta_se), float(alpha_se), float(low), float(high), level,
                       lags, len(a))


def _agrees(cointegrated: bool | None, johansen: JohansenResult) -> bool | None:
    if cointegrated is None or johansen.rank_95 is None:
        return None
    return johansen.rank_95 == (1 if cointegrated else 0)


def cointegration_verdict(price_a: pd.Series | np.ndarray, price_b: pd.Series | np.ndarray,
                          level: float = SIGNIFICANCE_LEVEL) -> CointegrationVerdict:
    """The headline verdict of the pair on the rows where both prices are finite (see the module
    docstring): Engle-Granger decides at ``level``, Johansen is reported beside it, with the
    Newey-West hedge and the half-life of the regression's residual."""
    a, b, reason = pair_input(price_a, price_b)
    eg = engle_granger_test(a, b)
    johansen = johansen_test(np.column_stack([a, b]))
    hedge = hedge_ratio_hac(a, b, level)
    spread_half_life = (HalfLifeResult(level=level, reason=hedge.reason) if hedge.reason else
                        half_life(a - hedge.alpha - hedge.beta * b, n_series=2, level=level))
    reason = reason or eg.reason
    cointegrated = None if reason else bool(eg.pvalue < level)
    return CointegrationVerdict(cointegrated, eg.pvalue, len(a), eg, johansen, hedge, spread_half_life,
                                _agrees(cointegrated, johansen), level, reason=reason)
