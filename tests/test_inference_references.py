"""The inference figures against independent references: statsmodels and numpy written out here.

Newey-West standard errors (statsmodels OLS ``cov_type="HAC"`` and the Bartlett sandwich by hand),
the AR(1) fit of the half-life and its interval (numpy least squares), the lag rules, the verdict's
p-value (statsmodels ``coint``), and the verdict's reasons and Johansen's full-rank wording.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.signal import lfilter
from scipy.stats import norm
from statsmodels.tsa.adfvalues import mackinnonp
from statsmodels.tsa.stattools import coint
from test_analytics import WINDOW, recorded_trades

from pairdesk import analytics


@pytest.fixture(scope="module")
def real_prices() -> pd.DataFrame:
    """The aligned 1-second closes of the recorded BTC / ETH trades."""
    bars = [analytics.bars_from_trades(recorded_trades(s), "1s") for s in ("BTCUSDT", "ETHUSDT")]
    return analytics.pair_panel(*bars, "1s", WINDOW)[["price_a", "price_b"]]


def simulated_pair(n: int = 3_000, seed: int = 40, phi: float = 0.97) -> tuple[np.ndarray, np.ndarray]:
    """a = 5 + 2 b + AR(phi) noise, b a random walk."""
    rng = np.random.default_rng(seed)
    b = 100 + np.cumsum(rng.standard_normal(n))
    return 5 + 2 * b + lfilter([1.0], [1.0, -phi], rng.standard_normal(n)), b


def newey_west_beta_se_by_hand(a: np.ndarray, b: np.ndarray, lags: int) -> float:
    """se(beta) of the OLS of a on [1, b] from the Bartlett-weighted sandwich, no small-sample correction
    (b centred first: the same beta and se, without the cancellation of prices near 60,000)."""
    x = np.column_stack([np.ones(len(b)), b - b.mean()])
    coef = np.linalg.solve(x.T @ x, x.T @ a)
    score = x * (a - x @ coef)[:, None]
    meat = score.T @ score
    for lag in range(1, lags + 1):
        gamma = score[lag:].T @ score[:-lag]
        meat += (1 - lag / (lags + 1)) * (gamma + gamma.T)
    bread = np.linalg.inv(x.T @ x)
    return float(np.sqrt((bread @ meat @ bread)[1, 1]))


@pytest.mark.parametrize(("n", "nw", "eg"), [(100, 4, 4), (650, 6, 6), (2_000, 7, 8), (5_000, 9, 10)])
def test_lag_rules(n, nw, eg):
    """Newey-West lags are floor(4 (n/100)^(2/9)); Engle-Granger's ADF lags floor(4 (n/100)^(1/4))."""
    assert analytics.newey_west_lags(n) == nw == math.floor(4 * (n / 100) ** (2 / 9))
    assert analytics.engle_granger_lags(n) == eg == math.floor(4 * (n / 100) ** 0.25)


@pytest.mark.parametrize("source", ["real", "simulated"])
def test_hac_standard_errors_equal_statsmodels_and_the_sandwich_by_hand(source, real_prices):
    """beta, its Newey-West se and interval equal statsmodels' OLS(cov_type="HAC") to 1e-9, and the
    Bartlett sandwich written out here to 1e-8."""
    if source == "real":
        a, b = real_prices["price_a"].to_numpy(), real_prices["price_b"].to_numpy()
    else:
        a, b = simulated_pair()
    fit = analytics.hedge_ratio_hac(a, b)
    lags = math.floor(4 * (len(a) / 100) ** (2 / 9))
    reference = sm.OLS(a, sm.add_constant(b)).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    assert fit.reason is None and fit.hac_lags == lags and fit.nobs == len(a)
    assert (fit.alpha, fit.beta) == (pytest.approx(reference.params[0], rel=1e-9),
                                     pytest.approx(reference.params[1], rel=1e-9))
    assert (fit.alpha_stderr, fit.beta_stderr) == (pytest.approx(reference.bse[0], rel=1e-9),
                                                   pytest.approx(reference.bse[1], rel=1e-9))
    # 1e-8: the uncentred fit on prices near 2,600 and 60,000 loses about a digit to cancellation
    assert fit.beta_stderr == pytest.approx(newey_west_beta_se_by_hand(a, b, lags), rel=1e-8)
    z = norm.ppf(0.975)
    assert (fit.ci_low, fit.ci_high) == (pytest.approx(fit.beta - z * fit.beta_stderr, rel=1e-12),
                                         pytest.approx(fit.beta + z * fit.beta_stderr, rel=1e-12))


def ar1_by_hand(e: np.ndarray) -> tuple[float, float, float]:
    """(a, b, se b) of the OLS Δe_t = a + b e_{t-1}, by numpy least squares."""
    x = np.column_stack([np.ones(len(e) - 1), e[:-1]])
    y = np.diff(e)
    (a, b), ssr, *_ = np.linalg.lstsq(x, y, rcond=None)
    sigma2 = ssr[0] / (len(y) - 2)
    return a, b, math.sqrt(sigma2 * np.linalg.inv(x.T @ x)[1, 1])


@pytest.mark.parametrize("phi", [0.97, 0.995])
def test_half_life_fit_and_interval_equal_numpy_least_squares(phi):
    """b, its se, t, MacKinnon p and the interval -ln2 / (b ∓ 1.96 se) equal a numpy fit written out here."""
    e = lfilter([1.0], [1.0, -phi], np.random.default_rng(41).standard_normal(3_000))
    a, b, se = ar1_by_hand(e)
    result = analytics.half_life(e)
    z = norm.ppf(0.975)
    assert (result.a, result.b, result.b_stderr) == (pytest.approx(a, rel=1e-9), pytest.approx(b, rel=1e-9),
                                                     pytest.approx(se, rel=1e-9))
    assert result.t_statistic == pytest.approx(b / se, rel=1e-9) and result.nobs == 2_999
    assert result.p_value == pytest.approx(mackinnonp(b / se, regression="c", N=2), rel=1e-9)
    assert result.ci_low_bars == pytest.approx(-math.log(2) / (b - z * se), rel=1e-9)
    high = -math.log(2) / (b + z * se) if b + z * se < 0 else math.inf
    assert result.ci_high_bars == pytest.approx(high, rel=1e-9)
    if result.significant:
        assert result.half_life_bars == pytest.approx(-math.log(2) / b, rel=1e-9) and result.reason is None
    else:
        assert math.isnan(result.half_life_bars) and result.reason.startswith("no significant mean reversion")


def test_half_life_interval_is_open_ended_when_b_can_be_zero():
    """b's interval reaching 0 gives an infinite upper half-life; an interval wholly ≥ 0 gives none."""
    z = norm.ppf(0.975)
    low, high = analytics.half_life_interval(-0.01, 0.006)
    assert low == pytest.approx(-math.log(2) / (-0.01 - z * 0.006), rel=1e-12) and high == math.inf
    assert all(math.isnan(v) for v in analytics.half_life_interval(0.01, 0.001))


def test_a_random_walk_shows_no_half_life_even_when_b_is_negative():
    """A random walk's b is slightly negative; judged by MacKinnon, not the normal, it is not significant."""
    walk = np.cumsum(np.random.default_rng(43).standard_normal(2_000))
    result = analytics.half_life(walk)
    assert result.b < 0 and result.t_statistic < -1.645  # "significant" with a normal critical value
    assert math.isnan(result.half_life_bars) and result.significant is False
    assert result.reason.startswith("no significant mean reversion")


def test_verdict_is_engle_granger_at_5_percent_with_its_p_value(real_prices):
    """p_value is statsmodels coint's p-value on the verdict's rows; cointegrated is p < 0.05; the half-life
    is the AR(1) of the residual of the Newey-West regression."""
    for a, b in [(real_prices["price_a"].to_numpy(), real_prices["price_b"].to_numpy()), simulated_pair()]:
        verdict = analytics.cointegration_verdict(a, b)
        lags = analytics.engle_granger_lags(len(a))
        assert verdict.p_value == pytest.approx(coint(a, b, maxlag=lags, autolag=None)[1], rel=1e-12)
        assert verdict.cointegrated == (verdict.p_value < 0.05) and verdict.level == 0.05 and verdict.nobs == len(a)
        residual = a - verdict.hedge.alpha - verdict.hedge.beta * b
        assert verdict.half_life.b == pytest.approx(ar1_by_hand(residual)[1], rel=1e-9)
    assert verdict.cointegrated and verdict.johansen_agrees and verdict.half_life.significant


def test_verdict_without_enough_rows_says_why():
    """Too few rows or a constant leg: cointegrated None, p_value NaN and a reason."""
    short = analytics.cointegration_verdict(np.arange(5.0), np.arange(5.0) ** 2)
    assert short.cointegrated is None and math.isnan(short.p_value) and short.reason == "need at least 20 rows, have 5"
    flat = analytics.cointegration_verdict(np.cumsum(np.ones(100)), np.full(100, 3.0))
    assert flat.cointegrated is None and flat.reason == "price_b is constant" and flat.nobs == 100


def test_johansen_full_rank_means_both_series_are_stationary():
    """Two independent stationary AR(1) series have rank 2, said as 'both stationary', not 'two relations'."""
    rng = np.random.default_rng(43)
    pair = 100 + lfilter([1.0], [1.0, -0.5], rng.standard_normal((2, 2_000)), axis=1).T
    result = analytics.johansen_test(pair)
    assert result.rank_95 == 2
    assert result.conclusion == "rank 2: both series are stationary on their own (not 2 cointegrating relations)"
