"""analytics_engine: mean-reversion tests, summaries, correlation matrix and hourly summaries, against
statsmodels / numpy / pandas and series with known answers (the backtest: test_backtest.py)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.stattools import adfuller, coint
from statsmodels.tsa.vector_ar.vecm import VECM

from pairdesk import analytics
from test_analytics import WINDOW, bars_of, pandas_bars, recorded_trades


@pytest.fixture(scope="module")
def real_panel() -> pd.DataFrame:
    """The 1-second pair panel (causal rolling hedge on 30 bars) of the recorded BTC / ETH trades."""
    bars = [analytics.bars_from_trades(recorded_trades(s), "1s") for s in ("BTCUSDT", "ETHUSDT")]
    return analytics.pair_panel(*bars, "1s", WINDOW, "rolling", hedge_window=30)


def ar1(phi: float, n: int, seed: int, sigma: float = 1.0) -> np.ndarray:
    """S_t = phi * S_{t-1} + N(0, sigma^2), S_0 = 0."""
    noise = np.random.default_rng(seed).normal(0, sigma, n)
    out = np.empty(n)
    level = 0.0
    for t, e in enumerate(noise):
        level = phi * level + e
        out[t] = level
    return out


def random_walk(n: int, seed: int, start: float = 100.0) -> np.ndarray:
    return start + np.cumsum(np.random.default_rng(seed).normal(0, 1, n))


# --------------------------------------------------------------------------- ADF, EG, Johansen


def test_adf_matches_statsmodels_on_the_real_spread(real_panel):
    """adf_test reports statsmodels adfuller's statistic, p-value, lags, nobs and critical values."""
    spread = real_panel["spread"].dropna()  # the hedge's burn-in has no spread
    result = analytics.adf_test(spread)
    stat, pvalue, lags, nobs, crit, _ = adfuller(spread.to_numpy(), autolag="AIC", result_object=False)
    assert result.reason is None
    assert (result.statistic, result.pvalue) == (pytest.approx(stat, rel=1e-12), pytest.approx(pvalue, rel=1e-12))
    assert (result.lags_used, result.nobs) == (lags, nobs)
    assert result.critical_values == pytest.approx(crit, rel=1e-12)


def test_adf_separates_a_stationary_spread_from_a_random_walk():
    """An AR(1) with phi 0.9 rejects the unit root (p < 0.01); a random walk does not (p > 0.1)."""
    assert analytics.adf_test(ar1(0.9, 2_000, seed=1)).pvalue < 0.01
    assert analytics.adf_test(random_walk(2_000, seed=2)).pvalue > 0.1


def test_engle_granger_matches_statsmodels_coint_on_real_prices(real_panel):
    """engle_granger_test reports statsmodels coint(price_a, price_b)'s statistic, p-value and critical values,
    with floor(4 (n/100)^(1/4)) lagged differences."""
    result = analytics.engle_granger_test(real_panel["price_a"], real_panel["price_b"])
    lags = math.floor(4 * (len(real_panel) / 100) ** 0.25)
    stat, pvalue, crit = coint(real_panel["price_a"].to_numpy(), real_panel["price_b"].to_numpy(), maxlag=lags,
                               autolag=None)
    assert result.reason is None and result.nobs == len(real_panel) and result.lags == lags
    assert (result.statistic, result.pvalue) == (pytest.approx(stat, rel=1e-12), pytest.approx(pvalue, rel=1e-12))
    assert list(result.critical_values.values()) == pytest.approx(list(crit), rel=1e-12)


def test_engle_granger_finds_a_synthetic_cointegrated_pair():
    """a = 3 b + AR(1) noise is cointegrated (p < 0.01); two independent random walks are not (p > 0.1)."""
    b = random_walk(2_000, seed=3)
    assert analytics.engle_granger_test(3 * b + ar1(0.8, 2_000, seed=4), b).pvalue < 0.01
    assert analytics.engle_granger_test(random_walk(2_000, seed=5), b).pvalue > 0.1


def test_johansen_matches_statsmodels_vecm_and_finds_the_rank():
    """Trace statistics equal twice the log-likelihood gaps of statsmodels' VECM with the constant in the
    relation (deterministic "ci"); rank is 1 for a cointegrated pair, 0 for independent walks."""
    b = random_walk(1_500, seed=6)
    pair = np.column_stack([2 * b + ar1(0.7, 1_500, seed=7), b])
    result = analytics.johansen_test(pd.DataFrame(pair, columns=["a", "b"]))
    llf = [VECM(pair, k_ar_diff=1, coint_rank=r, deterministic="ci").fit().llf for r in (0, 1, 2)]
    assert result.trace_statistics == pytest.approx([2 * (llf[2] - llf[r]) for r in (0, 1)], rel=1e-9)
    assert result.critical_values == ((17.85, 19.96, 24.60), (7.52, 9.24, 12.97))  # Osterwald-Lenum Table 1*
    assert result.rank_95 == 1 and result.nobs == 1_500 and result.conclusion == "rank 1: one cointegrating relation"
    independent = np.column_stack([random_walk(1_500, seed=8), random_walk(1_500, seed=9)])
    assert analytics.johansen_test(independent).rank_95 == 0


def test_johansen_handles_three_series_and_rejects_one():
    """Three series are accepted (three trace statistics); a single series gets a reason."""
    b = random_walk(800, seed=10)
    data = np.column_stack([b + ar1(0.5, 800, seed=11), 2 * b + ar1(0.5, 800, seed=12), b])
    assert len(analytics.johansen_test(data).trace_statistics) == 3
    assert analytics.johansen_test(data[:, :1]).reason == "need at least 2 series"


# --------------------------------------------------------------------------- half-life and Hurst


def test_half_life_of_an_ou_spread_with_known_half_life():
    """An AR(1) built with a 20-bar half-life gives about -ln 2 / (phi - 1) = 20.3 bars."""
    phi = 0.5 ** (1 / 20)
    result = analytics.half_life(ar1(phi, 50_000, seed=13))
    assert result.reason is None
    assert result.half_life_bars == pytest.approx(-math.log(2) / (phi - 1), rel=0.1)


def test_half_life_equals_an_independent_least_squares_fit(real_panel):
    """b and a are numpy least squares of dS_t on [1, S_{t-1}] on the real spread; half-life = -ln2/b."""
    spread = real_panel["spread"].dropna().to_numpy()
    design = np.column_stack([np.ones(len(spread) - 1), spread[:-1]])
    (a, b), *_ = np.linalg.lstsq(design, np.diff(spread), rcond=None)
    result = analytics.half_life(real_panel["spread"].dropna())
    assert (result.b, result.a) == (pytest.approx(b, rel=1e-9), pytest.approx(a, rel=1e-9))
    if result.significant:
        assert result.half_life_bars == pytest.approx(-math.log(2) / b, rel=1e-9)
    else:
        assert math.isnan(result.half_life_bars) and result.reason.startswith("no significant mean reversion")


def test_half_life_without_mean_reversion_is_nan_with_a_reason():
    """An explosive series (b > 0) has no half-life: NaN and 'no significant mean reversion' in the reason."""
    result = analytics.half_life(1.01 ** np.arange(200) + ar1(0.5, 200, seed=14, sigma=0.01))
    assert math.isnan(result.half_life_bars) and result.b > 0 and result.significant is False
    assert result.reason.startswith("no significant mean reversion: b = ")


def test_hurst_of_known_processes():
    """H is ~0.5 for a random walk, well below 0.5 for a fast-reverting AR(1), ~1 for a trend."""
    assert analytics.hurst_exponent(random_walk(5_000, seed=15)).hurst == pytest.approx(0.5, abs=0.05)
    assert analytics.hurst_exponent(ar1(0.5, 5_000, seed=16)).hurst < 0.1
    assert analytics.hurst_exponent(np.cumsum(random_walk(5_000, seed=17))).hurst > 0.9


def test_hurst_is_the_slope_of_log_lagged_difference_std_on_log_lag(real_panel):
    """H equals a direct numpy fit of ln std(x[k:] - x[:-k]) on ln k, k = 2..100."""
    x = real_panel["spread"].dropna().to_numpy()
    lags = np.arange(2, min(100, len(x) // 2) + 1)  # 2..100 on the full recordings
    tau = [np.std(x[k:] - x[:-k]) for k in lags]
    result = analytics.hurst_exponent(x)
    assert result.lags == tuple(lags) and result.hurst == pytest.approx(np.polyfit(np.log(lags), np.log(tau), 1)[0])


@pytest.mark.parametrize("test", [analytics.adf_test, analytics.half_life, analytics.hurst_exponent])
def test_single_series_tests_degrade_on_short_constant_and_nan_input(test):
    """5 rows, a constant series or only NaN give a reason instead of an exception."""
    assert test(np.arange(5.0)).reason == "need at least 20 rows, have 5"
    assert test(np.full(100, 61_800.5)).reason.endswith("is constant")
    assert test(np.full(100, np.nan)).reason == "need at least 20 rows, have 0"
    dropped = test(np.r_[np.nan, random_walk(99, seed=18)])  # NaN rows are dropped
    assert dropped.reason is None or dropped.reason.startswith("no significant mean reversion")


def test_degenerate_series_give_reasons_not_warnings_or_garbage():
    """A straight line, a single step and exactly collinear prices give reasons and NaN figures."""
    line = np.arange(100.0)
    assert analytics.adf_test(line).reason == "adfuller: degenerate input (rank-deficient regression)"
    assert math.isnan(analytics.adf_test(np.r_[np.zeros(30), 1.0]).statistic)
    assert analytics.hurst_exponent(line).reason == "lagged differences are constant"
    assert analytics.half_life(np.r_[np.ones(50), 2.0]).reason == "the lagged spread is constant"
    walk = random_walk(300, seed=25)
    assert analytics.engle_granger_test(2 * walk + 1, walk).reason == "price_a and price_b are perfectly collinear"
    assert analytics.johansen_test(np.column_stack([2 * walk, walk])).reason.startswith("johansen failed")


def test_pair_tests_degrade_on_short_and_constant_input():
    """Engle-Granger and Johansen return reasons for short or constant inputs."""
    walk = random_walk(100, seed=19)
    assert analytics.engle_granger_test(walk[:5], walk[:5] * 2).reason == "need at least 20 rows, have 5"
    assert analytics.engle_granger_test(walk, np.full(100, 3.0)).reason == "price_b is constant"
    assert analytics.johansen_test(np.column_stack([walk, np.full(100, 3.0)])).reason == "series 1 is constant"
    assert analytics.johansen_test(np.column_stack([walk[:5], walk[:5]])).reason == "need at least 20 rows, have 5"


def test_mean_reversion_tests_run_on_the_last_heavy_window_rows():
    """The report uses the last HEAVY_TEST_WINDOW_ROWS rows (the spread's details skip its NaN) and matches
    each test run alone."""
    n = analytics.HEAVY_TEST_WINDOW_ROWS + 500
    b = random_walk(n, seed=20)
    panel = pd.DataFrame({"price_a": 2 * b + ar1(0.9, n, seed=21), "price_b": b})
    panel["spread"] = panel["price_a"] - 2 * panel["price_b"]
    panel.loc[n - 10, "spread"] = np.nan
    report = analytics.mean_reversion_tests(panel)
    recent = panel.tail(analytics.HEAVY_TEST_WINDOW_ROWS)
    assert report.rows == analytics.HEAVY_TEST_WINDOW_ROWS and report.spread_rows == report.rows - 1
    assert report.adf == analytics.adf_test(recent["spread"])  # the NaN spread row is dropped
    assert report.verdict == analytics.cointegration_verdict(recent["price_a"], recent["price_b"])
    assert report.engle_granger == analytics.engle_granger_test(recent["price_a"], recent["price_b"])
    assert report.half_life == report.verdict.half_life and report.verdict.cointegrated
    assert report.johansen.rank_95 == 1 and report.hurst.hurst < 0.5


def test_mean_reversion_tests_run_on_the_last_segment_only():
    """With a segment column, the tests use only the rows of the last contiguous segment."""
    n = 600
    b = random_walk(n, seed=26)
    panel = pd.DataFrame({"price_a": 2 * b + ar1(0.9, n, seed=27), "price_b": b, "segment": np.repeat([0, 1], n // 2)})
    panel["spread"] = panel["price_a"] - 2 * panel["price_b"]
    report = analytics.mean_reversion_tests(panel)
    last = panel[panel["segment"] == 1]
    assert report.rows == n // 2 == report.verdict.nobs == report.adf.nobs + report.adf.lags_used + 1
    panel.loc[n // 2: n // 2 + 9, "spread"] = np.nan  # a hedge without an estimate yet: the verdict keeps its rows
    again = analytics.mean_reversion_tests(panel)
    assert again.verdict == report.verdict and again.spread_rows == n // 2 - 10
    assert report.verdict == analytics.cointegration_verdict(last["price_a"], last["price_b"])


# --------------------------------------------------------------------------- summaries


def test_symbol_summary_matches_an_independent_computation_on_real_trades():
    """Last/mean/std/min/max, VWAP, volume, trades and annualised volatility equal pandas on the raw trades."""
    trades = recorded_trades("BTCUSDT")
    bars = analytics.bars_from_trades(trades, "1s")
    summary = analytics.symbol_summary(bars, "1s")
    closes = pandas_bars(trades, 1000).set_index("ts_ms")["close"]
    grid = closes.reindex(np.arange(closes.index[0], closes.index[-1] + 1, 1000)).ffill()
    vol = np.log(grid).diff().std() * math.sqrt(365 * 24 * 3600)
    assert summary.bars == len(closes) and summary.trades == len(trades)
    assert summary.last == closes.iloc[-1]
    assert (summary.min, summary.max) == (trades["price"].min(), trades["price"].max())
    assert summary.mean == pytest.approx(closes.mean(), rel=1e-12)
    assert summary.std == pytest.approx(closes.std(), rel=1e-9)
    assert summary.vwap == pytest.approx((trades["price"] * trades["qty"]).sum() / trades["qty"].sum(), rel=1e-12)
    assert summary.volume == pytest.approx(trades["qty"].sum(), rel=1e-12)
    assert summary.annualised_volatility == pytest.approx(vol, rel=1e-9)


@pytest.mark.parametrize(("timeframe", "seconds"), [("1s", 1), ("1m", 60), ("1h", 3600)])
def test_annualisation_factor_uses_a_365_day_year(timeframe, seconds):
    """sqrt(365 * 86 400 / bar seconds)."""
    assert analytics.annualisation_factor(timeframe) == pytest.approx(math.sqrt(31_536_000 / seconds), rel=1e-15)


def test_symbol_summary_of_no_bars_and_of_one_bar():
    """No bars: NaN figures and zero counts; one bar: std and volatility NaN, the rest defined."""
    empty = analytics.symbol_summary(bars_of([], []), "1s")
    assert empty.bars == 0 and empty.trades == 0 and math.isnan(empty.last)
    one = analytics.symbol_summary(bars_of([5], [10.0]), "1s")
    assert one.last == 10.0 and one.vwap == 10.0 and math.isnan(one.std) and math.isnan(one.annualised_volatility)


def test_summary_table_has_one_row_per_symbol():
    """summary_table indexes symbol_summary rows by symbol."""
    table = analytics.summary_table({"X": bars_of([0, 1, 2], [1.0, 2.0, 3.0]), "Y": bars_of([0], [5.0])}, "1s")
    assert list(table.index) == ["X", "Y"] and table.loc["X", "last"] == 3.0 and table.loc["Y", "trades"] == 1


def test_correlation_matrix_matches_pandas_on_aligned_closes_and_returns():
    """The N-symbol matrix equals pandas .corr() of the aligned closes and of their log returns."""
    rng = np.random.default_rng(22)
    common = np.cumsum(rng.normal(0, 1, 500))
    seconds = list(range(500))
    prices = {s: 100 * (i + 1) + common * (i + 1) + np.cumsum(rng.normal(0, 0.5, 500)) for i, s in enumerate("ABC")}
    bars = {s: bars_of(seconds, list(p)) for s, p in prices.items()}
    frame = pd.DataFrame(prices)
    pd.testing.assert_frame_equal(analytics.correlation_matrix(bars, "1s", of="prices"), frame.corr(), rtol=1e-12)
    pd.testing.assert_frame_equal(analytics.correlation_matrix(bars, "1s"), np.log(frame).diff().corr(), rtol=1e-12)


# --------------------------------------------------------------------------- hourly summaries


def test_hourly_summary_matches_pandas_groupby_by_utc_hour():
    """Per hour start: first/last/min/max/mean/std of prices, spread and z/corr stats as pandas computes them."""
    rng = np.random.default_rng(23)
    n = 3 * 3600
    ts = 1_723_158_000_000 + 1_000 * np.arange(n) + 1_800_000  # starts half-way through an hour
    panel = pd.DataFrame({"ts_ms": ts, "price_a": 60_000 + np.cumsum(rng.normal(0, 1, n)),
                          "price_b": 2_600 + np.cumsum(rng.normal(0, 0.1, n))})
    panel["spread"] = panel["price_a"] - 23 * panel["price_b"]
    panel["zscore"] = analytics.rolling_zscore(panel["spread"], WINDOW)
    panel["corr"] = analytics.rolling_correlation(panel["price_a"], panel["price_b"], WINDOW)
    hourly = analytics.hourly_summary(panel)
    assert hourly["hour_start_ms"].tolist() == [1_723_158_000_000 + h * 3_600_000 for h in range(4)]
    assert hourly["rows"].tolist() == [1800, 3600, 3600, 1800]
    second_hour = panel[(panel["ts_ms"] >= hourly["hour_start_ms"][1]) & (panel["ts_ms"] < hourly["hour_start_ms"][2])]
    row = hourly.iloc[1]
    assert row["price_a_first"] == second_hour["price_a"].iloc[0]
    assert row["price_b_last"] == second_hour["price_b"].iloc[-1]
    assert row["price_a_std"] == pytest.approx(second_hour["price_a"].std(), rel=1e-12)
    assert row["spread_mean"] == pytest.approx(second_hour["spread"].mean(), rel=1e-12)
    assert row["zscore_max"] == second_hour["zscore"].max() and row["corr_min"] == second_hour["corr"].min()
    assert hourly.iloc[0]["zscore_mean"] == pytest.approx(panel["zscore"].iloc[:1800].mean())  # NaN skipped


def test_hourly_summary_of_the_real_panel_splits_at_midnight(real_panel):
    """The recorded session (23:54 -> 00:05 UTC) gives two hourly rows that add up to all rows."""
    hourly = analytics.hourly_summary(real_panel)
    assert hourly["hour_start_ms"].tolist() == [1_723_158_000_000, 1_723_161_600_000]
    assert hourly["rows"].sum() == len(real_panel)
