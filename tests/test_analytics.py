"""analytics_engine: bars, alignment, rolling statistics, hedge ratios and the pair panel,
checked against independent pandas / numpy / statsmodels / scipy computations on the recorded
real BTCUSDT and ETHUSDT trades and on synthetic series with known answers."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from fractions import Fraction
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from pairdesk import analytics
from conftest import REPO_ROOT, binance_file
from recordings import recorded_frames

RECORDINGS = {
    "BTCUSDT": ("hftbacktest/spot/btcusdt_20240808.gz", "hftbacktest/spot/btcusdt_20240809.gz"),
    "ETHUSDT": ("hftbacktest/spot/ethusdt_20240808.gz", "hftbacktest/spot/ethusdt_20240809.gz"),
}
WINDOW = 60


# --------------------------------------------------------------------------- shared helpers
# (imported by test_analytics_stats.py and test_analytics_cli.py)


@lru_cache(maxsize=None)
def _load_recorded_trades(symbol: str) -> pd.DataFrame:
    rows = []
    for relative in RECORDINGS[symbol]:
        for frame in recorded_frames(binance_file(relative)):
            data = json.loads(frame).get("data", {})
            if data.get("e") == "trade":
                rows.append((data["t"], data["T"], float(data["p"]), float(data["q"]), data["m"]))
    trades = pd.DataFrame(rows, columns=["trade_id", "ts_ms", "price", "qty", "is_buyer_maker"])
    return trades.sort_values("trade_id", ignore_index=True)


def recorded_trades(symbol: str) -> pd.DataFrame:
    """The recorded real trades of BTCUSDT or ETHUSDT (2024-08-08 23:54 -> 00:05 UTC), parsed with
    json, sorted by trade id (a copy: tests may modify it)."""
    return _load_recorded_trades(symbol).copy()


def pandas_bars(trades: pd.DataFrame, tf_ms: int) -> pd.DataFrame:
    """Bars the obvious pandas way: sort by (time, id), group by bucket start, first/last/max/min/sum."""
    t = trades.sort_values(["ts_ms", "trade_id"])
    t = t.assign(bucket=t["ts_ms"] // tf_ms * tf_ms, pq=t["price"] * t["qty"])
    g = t.groupby("bucket")
    bars = pd.DataFrame({"open": g["price"].first(), "high": g["price"].max(), "low": g["price"].min(),
                         "close": g["price"].last(), "volume": g["qty"].sum(), "quote_volume": g["pq"].sum(),
                         "trades": g.size().astype("int64")})
    bars["vwap"] = bars["quote_volume"] / bars["volume"]
    return bars.rename_axis("ts_ms").reset_index()


def pandas_align(closes_a: pd.Series, closes_b: pd.Series, tf_ms: int, max_stale: int) -> pd.DataFrame:
    """Closes indexed by bar start, on the full grid from the first to the last bar of either,
    forward-filled at most max_stale steps, incomplete rows dropped."""
    grid = np.arange(min(closes_a.index[0], closes_b.index[0]), max(closes_a.index[-1], closes_b.index[-1]) + 1,
                     tf_ms)
    def on_grid(closes: pd.Series) -> pd.Series:
        return closes.reindex(grid).ffill(limit=max_stale) if max_stale else closes.reindex(grid)

    frame = pd.DataFrame({"price_a": on_grid(closes_a), "price_b": on_grid(closes_b)}, index=grid).dropna()
    return frame.rename_axis("ts_ms").reset_index()


def assert_matches_independent(panel: pd.DataFrame, expected: pd.DataFrame) -> None:
    """The checker's tolerances: prices exact, beta and spread 1e-9 relative, z and corr 1e-6."""
    np.testing.assert_array_equal(panel["ts_ms"], expected["ts_ms"])
    np.testing.assert_array_equal(panel[["price_a", "price_b"]], expected[["price_a", "price_b"]])
    for column in ("hedge_ratio", "spread"):
        assert_close(panel[column], expected[column], rtol=1e-9)
    for column in ("zscore", "corr"):
        assert_close(panel[column], expected[column], rtol=1e-6, atol=1e-9)


def independent_panel(trades_a: pd.DataFrame, trades_b: pd.DataFrame, timeframe: str, window: int,
                      max_stale: int = analytics.DEFAULT_MAX_STALE_STEPS) -> pd.DataFrame:
    """The exported columns for hedge=ols recomputed with pandas and statsmodels only."""
    tf_ms = analytics.TIMEFRAME_MS[timeframe]
    closes = [pandas_bars(t, tf_ms).set_index("ts_ms")["close"] for t in (trades_a, trades_b)]
    panel = pandas_align(*closes, tf_ms, max_stale)
    fit = sm.OLS(panel["price_a"], sm.add_constant(panel["price_b"])).fit()
    panel["hedge_ratio"] = fit.params["price_b"]
    panel["spread"] = panel["price_a"] - panel["hedge_ratio"] * panel["price_b"]
    rolling = panel["spread"].rolling(window)
    panel["zscore"] = (panel["spread"] - rolling.mean()) / rolling.std()
    panel["corr"] = panel["price_a"].rolling(window).corr(panel["price_b"])
    return panel


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float = 0.0) -> None:
    """Same NaN positions, and |actual - expected| <= atol + rtol * |expected| elsewhere."""
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)


def bars_of(ts_s: list[int], closes: list[float]) -> pd.DataFrame:
    """Literal 1-second bars (ts given in seconds) whose OHLC all equal the close."""
    ts = np.asarray(ts_s, dtype=np.int64) * 1000
    close = np.asarray(closes, dtype=float)
    return pd.DataFrame({"ts_ms": ts, "open": close, "high": close, "low": close, "close": close,
                         "volume": 1.0, "quote_volume": close, "trades": np.ones(len(ts), np.int64)})


def two_pass_moments(x: np.ndarray, y: np.ndarray, window: int) -> tuple[np.ndarray, ...]:
    """Centred two-pass window mean and sums of squares / cross products in long double."""
    xs = np.lib.stride_tricks.sliding_window_view(x.astype(np.longdouble), window)
    ys = np.lib.stride_tricks.sliding_window_view(y.astype(np.longdouble), window)
    dx, dy = xs - xs.mean(axis=1, keepdims=True), ys - ys.mean(axis=1, keepdims=True)
    return xs.mean(axis=1), (dx * dx).sum(axis=1), (dy * dy).sum(axis=1), (dx * dy).sum(axis=1)


@pytest.fixture(scope="session")
def real_trades() -> dict[str, pd.DataFrame]:
    """Recorded trades per symbol."""
    return {symbol: recorded_trades(symbol) for symbol in RECORDINGS}


@pytest.fixture(scope="session")
def real_bars(real_trades) -> dict[str, pd.DataFrame]:
    """1-second bars of the recorded trades per symbol."""
    return {symbol: analytics.bars_from_trades(trades, "1s") for symbol, trades in real_trades.items()}


@pytest.fixture(scope="session")
def real_pair(real_bars) -> pd.DataFrame:
    """Aligned 1-second BTC / ETH closes (max_stale 60)."""
    return analytics.align_pair(real_bars["BTCUSDT"], real_bars["ETHUSDT"], "1s", 60)


# --------------------------------------------------------------------------- bars


@pytest.mark.parametrize("timeframe", list(analytics.TIMEFRAME_MS))
def test_bars_from_trades_match_pandas_groupby_on_real_trades(real_trades, timeframe):
    """Bars from real trades equal a pandas groupby on (time, id)-sorted trades at every timeframe."""
    for trades in real_trades.values():
        bars = analytics.bars_from_trades(trades, timeframe)
        expected = pandas_bars(trades, analytics.TIMEFRAME_MS[timeframe])
        pd.testing.assert_frame_equal(bars, expected[analytics.BAR_COLUMNS], rtol=1e-12, check_exact=False)
        ohlc = ["open", "high", "low", "close"]
        np.testing.assert_array_equal(bars[ohlc], expected[ohlc])


@pytest.mark.parametrize("timeframe", list(analytics.TIMEFRAME_MS))
def test_bars_from_1s_bars_equal_bars_from_trades(real_trades, real_bars, timeframe):
    """Resampling 1-second bars gives the bars built from the raw trades (OHLC, counts exact)."""
    for symbol, trades in real_trades.items():
        from_trades = analytics.bars_from_trades(trades, timeframe)
        from_bars = analytics.resample_bars(real_bars[symbol], timeframe)
        pd.testing.assert_frame_equal(from_bars, from_trades, rtol=1e-13, check_exact=False)
        for column in ("ts_ms", "open", "high", "low", "close", "trades"):
            np.testing.assert_array_equal(from_bars[column], from_trades[column])


def test_open_and_close_are_first_and_last_by_time_then_trade_id():
    """Within a bar, open/close follow (ts_ms, trade_id), not arrival order or id alone."""
    trades = pd.DataFrame({
        "trade_id": [10, 11, 12, 13, 14],
        "ts_ms": [1_500, 1_200, 1_200, 1_900, 1_900],
        "price": [5.0, 3.0, 4.0, 7.0, 6.0],
        "qty": [1.0, 1.0, 1.0, 1.0, 2.0],
    })
    bar = analytics.bars_from_trades(trades, "1s").iloc[0]
    assert (bar.ts_ms, bar.open, bar.close, bar.high, bar.low) == (1_000, 3.0, 6.0, 7.0, 3.0)
    assert (bar.volume, bar.quote_volume, bar.trades) == (6.0, 5 + 3 + 4 + 7 + 12.0, 5)
    assert bar.vwap == pytest.approx(31.0 / 6.0, rel=1e-15)


def test_bar_start_is_floor_of_exchange_time():
    """A trade at exactly a boundary opens the next bar; bars are labelled by their start."""
    trades = pd.DataFrame({"trade_id": [1, 2, 3, 4], "ts_ms": [59_999, 60_000, 119_999, 3_600_000],
                           "price": [1.0, 2.0, 3.0, 4.0], "qty": [1.0, 1.0, 1.0, 1.0]})
    assert analytics.bars_from_trades(trades, "1m")["ts_ms"].tolist() == [0, 60_000, 3_600_000]
    assert analytics.bars_from_trades(trades, "1h")["ts_ms"].tolist() == [0, 3_600_000]
    assert analytics.bars_from_trades(trades, "1m")["close"].tolist() == [1.0, 3.0, 4.0]


def test_empty_input_gives_empty_typed_bars():
    """No trades (or no bars) give an empty frame with the bar columns and integer ts_ms."""
    empty = pd.DataFrame({"trade_id": [], "ts_ms": [], "price": [], "qty": []})
    for bars in (analytics.bars_from_trades(empty, "1m"), analytics.resample_bars(analytics.bars_from_trades(empty, "1s"), "5m")):
        assert list(bars.columns) == analytics.BAR_COLUMNS and len(bars) == 0 and bars["ts_ms"].dtype == np.int64


def test_unknown_timeframe_is_a_value_error():
    """An unknown timeframe name raises ValueError listing the valid ones."""
    with pytest.raises(ValueError, match="1s, 5s"):
        analytics.timeframe_ms("2m")


# --------------------------------------------------------------------------- alignment


@pytest.mark.parametrize("max_stale", [0, 1, 5, 60])
@pytest.mark.parametrize("timeframe", ["1s", "10s"])
def test_align_pair_matches_pandas_reindex_ffill_on_real_bars(real_trades, timeframe, max_stale):
    """Alignment equals pandas reindex on the full grid + ffill(limit=max_stale) + dropna."""
    tf_ms = analytics.TIMEFRAME_MS[timeframe]
    bars = {s: analytics.bars_from_trades(t, timeframe) for s, t in real_trades.items()}
    aligned = analytics.align_pair(bars["BTCUSDT"], bars["ETHUSDT"], timeframe, max_stale)
    expected = pandas_align(*(b.set_index("ts_ms")["close"] for b in bars.values()), tf_ms, max_stale)
    pd.testing.assert_frame_equal(aligned, expected, check_exact=True)


def test_hole_longer_than_max_stale_drops_rows():
    """A close is carried forward max_stale steps, then rows are dropped until the next bar."""
    bars_a = bars_of([0, 1, 2, 10], [1.0, 2.0, 3.0, 4.0])
    bars_b = bars_of(list(range(12)), [100.0 + i for i in range(12)])
    aligned = analytics.align_pair(bars_a, bars_b, "1s", max_stale=3)
    assert aligned["ts_ms"].tolist() == [0, 1000, 2000, 3000, 4000, 5000, 10_000, 11_000]
    assert aligned["price_a"].tolist() == [1.0, 2.0, 3.0, 3.0, 3.0, 3.0, 4.0, 4.0]
    assert aligned["price_b"].tolist() == [100.0, 101.0, 102.0, 103.0, 104.0, 105.0, 110.0, 111.0]


def test_barely_overlapping_symbols_keep_only_the_overlap():
    """Symbols whose ranges touch at one bar give the rows where both have a (carried) close."""
    bars_a = bars_of(list(range(0, 11)), [float(i) for i in range(11)])  # 0..10 s
    bars_b = bars_of(list(range(10, 21)), [float(i) for i in range(10, 21)])  # 10..20 s
    aligned = analytics.align_pair(bars_a, bars_b, "1s", max_stale=2)
    assert aligned["ts_ms"].tolist() == [10_000, 11_000, 12_000]
    assert aligned["price_a"].tolist() == [10.0, 10.0, 10.0]
    assert analytics.align_pair(bars_a, bars_b, "1s", max_stale=0)["ts_ms"].tolist() == [10_000]
    disjoint = bars_of([30, 31], [1.0, 2.0])
    assert analytics.align_pair(bars_a, disjoint, "1s", max_stale=5).empty


def test_carry_forward_from_before_the_overlap():
    """The earlier symbol's last close before the later symbol starts is carried into the overlap."""
    bars_a = bars_of([0, 1, 2], [1.0, 2.0, 3.0])
    bars_b = bars_of([4, 5, 6], [10.0, 11.0, 12.0])
    aligned = analytics.align_pair(bars_a, bars_b, "1s", max_stale=3)
    assert aligned[["ts_ms", "price_a", "price_b"]].values.tolist() == [[4000, 3.0, 10.0], [5000, 3.0, 11.0]]


def test_align_rejects_bars_off_the_timeframe_grid():
    """Bars not on the timeframe's grid (not resampled first) are a ValueError."""
    with pytest.raises(ValueError, match="resample"):
        analytics.align_pair(bars_of([0, 1], [1.0, 2.0]), bars_of([0, 60], [1.0, 2.0]), "1m")


def test_align_with_an_empty_symbol_is_empty():
    """A symbol without bars gives an empty alignment with the right columns."""
    aligned = analytics.align_pair(bars_of([0, 1], [1.0, 2.0]), bars_of([], []), "1s")
    assert list(aligned.columns) == ["ts_ms", "price_a", "price_b"] and aligned.empty


# --------------------------------------------------------------------------- rolling statistics


def test_rolling_zscore_matches_pandas_on_real_spread(real_pair):
    """The z-score equals pandas (x - rolling mean) / rolling std (ddof 1) on the real spread."""
    spread = real_pair["price_a"] - 22.9 * real_pair["price_b"]
    rolling = spread.rolling(WINDOW)
    expected = (spread - rolling.mean()) / rolling.std()
    assert_close(analytics.rolling_zscore(spread, WINDOW), expected, rtol=1e-9, atol=1e-9)
    mean, std = analytics.rolling_mean_std(spread, WINDOW)
    assert_close(mean, rolling.mean(), rtol=1e-14)
    assert_close(std, rolling.std(), rtol=1e-9)


def test_rolling_moments_are_two_pass_exact_where_running_sums_fail():
    """On 24 h of 60 000-level prices with a jump and a flat stretch, window statistics match a
    long-double centred two-pass computation to 1e-12 (running-sum formulas lose ~1e-6 here)."""
    rng = np.random.default_rng(7)
    n, window = 86_400, 60
    a = np.round(60_000 + np.cumsum(rng.choice([-0.37, 0, 0.37], n, p=[0.3, 0.4, 0.3])), 2)
    b = np.round(2_600 + np.cumsum(rng.choice([-0.03, 0, 0.03], n, p=[0.2, 0.6, 0.2])), 2)
    b[40_000:] += 300.0
    a[50_000:50_500] = a[50_000]
    mean_a, m2_a, m2_b, c_ab = two_pass_moments(a, b, window)
    mean, std = analytics.rolling_mean_std(a, window)
    np.testing.assert_allclose(mean[window - 1:], mean_a.astype(float), rtol=1e-15)
    np.testing.assert_allclose(std[window - 1:] ** 2 * (window - 1), m2_a.astype(float), rtol=1e-12, atol=0)
    assert np.all(std[50_000 + window - 1:50_500] == 0.0)  # exactly zero on the flat stretch
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (c_ab / np.sqrt(m2_a * m2_b)).astype(float)
        beta = (c_ab / m2_b).astype(float)
    scale = np.sqrt((m2_a / m2_b).astype(float))  # beta's natural size in this window
    ok = np.isfinite(corr)
    got_corr = analytics.rolling_correlation(a, b, window).to_numpy()[window - 1:]
    np.testing.assert_allclose(got_corr[ok], corr[ok], rtol=0, atol=1e-12)
    assert np.all(np.isnan(got_corr[~ok]))
    got_beta = analytics.rolling_ols(a, b, window)["beta"].to_numpy()[window - 1:]
    np.testing.assert_array_less(np.abs(got_beta[ok] - beta[ok]), 1e-12 * np.maximum(np.abs(beta[ok]), scale[ok]))


def test_rolling_zscore_against_exact_rational_arithmetic():
    """Every z-score of a short real-level series equals the exact rational-arithmetic value."""
    x = np.array([61687.72, 61687.71, 61687.71, 61690.0, 61687.72, 61700.5, 61650.25, 61687.71, 61688.0])
    window = 4
    z = analytics.rolling_zscore(x, window).to_numpy()
    for t in range(window - 1, len(x)):
        values = [Fraction(v) for v in x[t - window + 1:t + 1]]
        mean = sum(values) / window
        var = sum((v - mean) ** 2 for v in values) / (window - 1)
        assert z[t] == pytest.approx(float(Fraction(x[t]) - mean) / math.sqrt(var), rel=1e-12)


def test_zscore_is_nan_before_the_window_and_on_constant_windows_never_inf():
    """Fewer than window rows, or a constant window (std 0 or rounding noise), give NaN, not inf."""
    x = np.array([5.0, 5.0, 5.0, 6.0, 7.0, 7.0, 7.0, 7.0, 0.1 + 0.2, 0.3, 0.30000000000000004])
    z = analytics.rolling_zscore(x, 3).to_numpy()
    assert np.isnan(z[:2]).all() and np.isnan(z[2])  # before the window; then a constant window
    assert z[3] == pytest.approx((6 - 16 / 3) / np.std([5, 5, 6], ddof=1))
    assert np.isnan(z[7]) and np.isnan(z[10])  # exactly constant; constant up to rounding
    assert not np.isinf(z).any()


def test_zscore_is_nan_while_the_window_holds_a_nan():
    """A NaN makes every window containing it NaN; later windows are unaffected."""
    x = pd.Series([1.0, 2.0, 4.0, np.nan, 3.0, 5.0, 8.0, 6.0])
    z = analytics.rolling_zscore(x, 3)
    expected = (x - x.rolling(3).mean()) / x.rolling(3).std()
    assert_close(z, expected, rtol=1e-12)
    assert z.isna().tolist() == [True, True, False, True, True, True, False, False]


@pytest.mark.parametrize("rows", [0, 1, 59])
def test_window_larger_than_the_data_gives_all_nan(rows):
    """With fewer rows than the window every rolling statistic is NaN (and nothing raises)."""
    x = np.linspace(1.0, 2.0, rows)
    assert analytics.rolling_zscore(x, WINDOW).isna().all()
    assert analytics.rolling_correlation(x, x[::-1], WINDOW).isna().all()
    assert analytics.rolling_ols(x, x[::-1], WINDOW).isna().all().all()
    assert len(analytics.rolling_zscore(x, WINDOW)) == rows


@pytest.mark.parametrize("window", [0, 1, 2.5, True, "60"])
def test_window_must_be_an_integer_of_at_least_two(window):
    """Windows below 2 or not integers are a ValueError."""
    with pytest.raises(ValueError, match="window"):
        analytics.rolling_zscore(np.arange(10.0), window)


def test_rolling_correlation_matches_pandas_on_real_prices_and_returns(real_pair):
    """Rolling correlation of real prices and of their log returns equals pandas rolling().corr()."""
    a, b = real_pair["price_a"], real_pair["price_b"]
    assert_close(analytics.rolling_correlation(a, b, WINDOW), a.rolling(WINDOW).corr(b), rtol=1e-9, atol=1e-9)
    ra, rb = np.log(a).diff(), np.log(b).diff()
    expected = ra.rolling(WINDOW).corr(rb)
    got = analytics.rolling_correlation(analytics.log_returns(a), analytics.log_returns(b), WINDOW)
    assert_close(got, expected, rtol=1e-9, atol=1e-9)
    assert got.iloc[:WINDOW].isna().all()  # the first return is NaN, so the first full window ends at row WINDOW


def test_rolling_correlation_is_nan_when_one_side_has_no_variance():
    """A window where either series is constant has NaN correlation, never inf or a rounding artefact."""
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    y = np.array([7.0, 7.0, 7.0, 7.0, 8.0, 6.0])
    corr = analytics.rolling_correlation(x, y, 3).to_numpy()
    assert np.isnan(corr[:4]).all() and corr[4] == pytest.approx(np.corrcoef(x[2:5], y[2:5])[0, 1])
    assert corr[5] == pytest.approx(np.corrcoef(x[3:6], y[3:6])[0, 1])


def test_log_returns_are_differences_of_log_prices():
    """log_returns is ln(p_t / p_{t-1}) with NaN first."""
    p = pd.Series([100.0, 110.0, 99.0])
    r = analytics.log_returns(p)
    assert np.isnan(r[0]) and r[1] == pytest.approx(math.log(1.1)) and r[2] == pytest.approx(math.log(0.9))


# --------------------------------------------------------------------------- hedge ratios


def test_ols_matches_statsmodels_on_real_prices(real_pair):
    """Static OLS beta, alpha, R squared and standard errors are statsmodels OLS's own."""
    a, b = real_pair["price_a"], real_pair["price_b"]
    fit = analytics.hedge_ratio_ols(a, b)
    expected = sm.OLS(a, sm.add_constant(b)).fit()
    assert fit.reason is None and fit.nobs == len(a)
    assert fit.beta == pytest.approx(expected.params["price_b"], rel=1e-12)
    # alpha = mean a - beta mean b cancels (~256 out of ~60,000): statsmodels' pinv is off by ~6e-11
    # there, the centred closed form by ~1e-13, so alpha is checked exactly and against statsmodels
    assert fit.alpha == pytest.approx(expected.params["const"], rel=1e-9)
    exact_a, exact_b = [Fraction(x) for x in a], [Fraction(x) for x in b]
    mean_a, mean_b = sum(exact_a) / len(a), sum(exact_b) / len(b)
    exact_beta = (sum((x - mean_b) * (y - mean_a) for x, y in zip(exact_b, exact_a))
                  / sum((x - mean_b) ** 2 for x in exact_b))
    assert fit.beta == pytest.approx(float(exact_beta), rel=1e-14)
    assert fit.alpha == pytest.approx(float(mean_a - exact_beta * mean_b), rel=1e-12)
    assert fit.r_squared == pytest.approx(expected.rsquared, rel=1e-12)
    assert fit.beta_stderr == pytest.approx(expected.bse["price_b"], rel=1e-12)
    assert fit.alpha_stderr == pytest.approx(expected.bse["const"], rel=1e-12)
    centred = np.cov(b, a)[0, 1] / np.var(b, ddof=1)  # a second, independent formula
    assert fit.beta == pytest.approx(centred, rel=1e-9)


def test_ols_recovers_a_known_beta():
    """price_a = 25 + 2.5 * price_b + small noise gives beta 2.5 and alpha 25 within the noise."""
    rng = np.random.default_rng(1)
    b = 100 + np.cumsum(rng.normal(0, 1, 5_000))
    a = 25 + 2.5 * b + rng.normal(0, 0.01, len(b))
    fit = analytics.hedge_ratio_ols(a, b)
    assert fit.beta == pytest.approx(2.5, abs=5 * fit.beta_stderr)
    assert fit.alpha == pytest.approx(25, abs=5 * fit.alpha_stderr)


@pytest.mark.parametrize("method", [analytics.hedge_ratio_ols, analytics.hedge_ratio_huber, analytics.hedge_ratio_theilsen])
def test_static_fits_degrade_on_one_row_constant_and_nan_input(method):
    """One row or a constant price_b gives NaN beta with a reason; NaN rows are dropped."""
    one = method([1.0], [2.0])
    assert math.isnan(one.beta) and one.reason == "need at least 3 rows, have 1"
    flat = method([1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 5.0, 5.0])
    assert math.isnan(flat.beta) and flat.reason == "price_b is constant"
    with_nan = method([1.0, np.nan, 5.0, 7.0, 9.2], [1.0, 2.0, 3.0, 4.0, 5.1])
    assert with_nan.nobs == 4 and with_nan.reason is None and math.isfinite(with_nan.beta)


def test_rolling_ols_matches_statsmodels_fitted_on_each_window(real_pair):
    """Row t's rolling beta and alpha equal statsmodels OLS fitted on rows t-window+1..t alone."""
    a, b = real_pair["price_a"].to_numpy(), real_pair["price_b"].to_numpy()
    fit = analytics.rolling_ols(a, b, WINDOW)
    assert fit.iloc[:WINDOW - 1].isna().all().all()
    for t in range(WINDOW - 1, len(a)):
        rows = slice(t - WINDOW + 1, t + 1)
        window_fit = sm.OLS(a[rows], sm.add_constant(b[rows], has_constant="add")).fit()
        assert fit["beta"].iloc[t] == pytest.approx(window_fit.params[1], rel=1e-9)
        assert fit["alpha"].iloc[t] == pytest.approx(window_fit.params[0], rel=1e-9)
        assert fit["r_squared"].iloc[t] == pytest.approx(window_fit.rsquared, rel=1e-8, abs=1e-12)


def test_rolling_ols_has_no_look_ahead(real_pair):
    """Changing rows after t leaves every rolling beta up to t unchanged."""
    a, b = real_pair["price_a"].to_numpy().copy(), real_pair["price_b"].to_numpy().copy()
    before = analytics.rolling_ols(a, b, WINDOW)["beta"].to_numpy()
    a[80:] *= 1.1
    b[80:] -= 50
    after = analytics.rolling_ols(a, b, WINDOW)["beta"].to_numpy()
    np.testing.assert_array_equal(before[:80], after[:80])
    assert not np.allclose(before[80:], after[80:], equal_nan=True)


def test_rolling_ols_is_nan_where_price_b_is_flat():
    """A window where price_b does not move has no beta (NaN), not a huge number."""
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    b = np.array([9.0, 9.0, 9.0, 10.0, 12.0])
    beta = analytics.rolling_ols(a, b, 3)["beta"].to_numpy()
    assert np.isnan(beta[:3]).all() and beta[4] == pytest.approx(np.polyfit(b[2:5], a[2:5], 1)[0])


def test_huber_matches_statsmodels_rlm_and_resists_outliers():
    """Huber beta equals statsmodels RLM(HuberT) and stays near the truth where OLS is pulled away."""
    rng = np.random.default_rng(2)
    b = 100 + np.cumsum(rng.normal(0, 1, 2_000))
    a = 10 + 3.0 * b + rng.normal(0, 0.5, len(b))
    a[::25] += 80.0  # 4% one-sided outliers
    fit = analytics.hedge_ratio_huber(a, b)
    expected = sm.RLM(a, sm.add_constant(b), M=sm.robust.norms.HuberT()).fit()
    assert fit.beta == pytest.approx(expected.params[1], rel=1e-12)
    assert fit.alpha == pytest.approx(expected.params[0], rel=1e-12)
    assert fit.beta_stderr == pytest.approx(expected.bse[1], rel=1e-12)
    assert abs(fit.alpha - 10) < abs(analytics.hedge_ratio_ols(a, b).alpha - 10)


def test_theilsen_matches_scipy_and_subsamples_evenly_above_the_cap(real_pair):
    """Theil-Sen equals scipy theilslopes; above THEILSEN_MAX_ROWS it uses an even subsample."""
    a, b = real_pair["price_a"].to_numpy(), real_pair["price_b"].to_numpy()
    fit = analytics.hedge_ratio_theilsen(a, b)
    expected = stats.theilslopes(a, b)
    assert fit.beta == pytest.approx(expected.slope, rel=1e-12)
    assert fit.alpha == pytest.approx(expected.intercept, rel=1e-12)
    rng = np.random.default_rng(3)
    big_b = 50 + np.cumsum(rng.normal(0, 1, analytics.THEILSEN_MAX_ROWS * 3))
    big_a = 2 * big_b + rng.normal(0, 1, len(big_b))
    rows = np.unique(np.linspace(0, len(big_a) - 1, analytics.THEILSEN_MAX_ROWS).round().astype(int))
    assert analytics.hedge_ratio_theilsen(big_a, big_b).beta == pytest.approx(
        stats.theilslopes(big_a[rows], big_b[rows]).slope, rel=1e-12)


def kalman_reference(a: np.ndarray, b: np.ndarray, delta: float, obs_var: float, prior_var: float) -> np.ndarray:
    """The documented state model written with long-double numpy matrices: beta, alpha per row."""
    a0, b0 = np.longdouble(a[0]), np.longdouble(b[0])
    theta = np.array([1, 0], dtype=np.longdouble)
    cov = np.longdouble(prior_var) * np.eye(2, dtype=np.longdouble)
    noise = np.longdouble(delta) / (1 - np.longdouble(delta)) * np.eye(2, dtype=np.longdouble)
    out = []
    for y, x in zip(a.astype(np.longdouble) / a0, b.astype(np.longdouble) / b0):
        cov = cov + noise
        h = np.array([x, 1], dtype=np.longdouble)
        q = h @ cov @ h + np.longdouble(obs_var)
        gain = cov @ h / q
        theta = theta + gain * (y - h @ theta)
        cov = cov - np.outer(gain, h @ cov)
        out.append((theta[0] * a0 / b0, theta[1] * a0))
    return np.array(out, dtype=np.longdouble).astype(float)


def test_kalman_matches_a_matrix_implementation_of_its_state_model(real_pair):
    """The filter's beta and alpha equal a long-double matrix implementation of the documented model."""
    a, b = real_pair["price_a"].to_numpy(), real_pair["price_b"].to_numpy()
    for delta, obs_var in [(analytics.KALMAN_DELTA, analytics.KALMAN_OBSERVATION_VAR), (1e-8, 1e-6)]:
        got = analytics.kalman_hedge(a, b, delta, obs_var)
        expected = kalman_reference(a, b, delta, obs_var, analytics.KALMAN_PRIOR_VAR)
        np.testing.assert_allclose(got["beta"], expected[:, 0], rtol=1e-9)
        np.testing.assert_allclose(got["alpha"], expected[:, 1], rtol=1e-9, atol=1e-9 * a[0])
        np.testing.assert_array_equal(got["spread"], a - got["beta"] * b)


def test_kalman_with_zero_delta_is_recursive_least_squares():
    """delta = 0 with a vague prior gives, on the last row, the OLS fit of all rows."""
    rng = np.random.default_rng(4)
    b = 100 + 30 * np.sin(np.linspace(0, 6, 3_000)) + rng.normal(0, 1, 3_000)
    a = 7 + 1.7 * b + rng.normal(0, 0.5, len(b))
    got = analytics.kalman_hedge(a, b, delta=0.0, observation_var=1e-4, prior_var=1e4)
    ols = analytics.hedge_ratio_ols(a, b)
    assert got["beta"].iloc[-1] == pytest.approx(ols.beta, rel=1e-5)
    assert got["alpha"].iloc[-1] == pytest.approx(ols.alpha, rel=1e-4)


def test_kalman_tracks_a_change_of_beta_and_has_no_look_ahead():
    """After beta steps from 1.5 to 2.0 the filtered beta moves to 2.0; past rows ignore the future."""
    rng = np.random.default_rng(5)
    b = 100 + 20 * np.sin(np.linspace(0, 40, 4_000)) + rng.normal(0, 0.2, 4_000)
    beta_true = np.where(np.arange(4_000) < 2_000, 1.5, 2.0)
    a = 50 + beta_true * b + rng.normal(0, 0.05, 4_000)
    got = analytics.kalman_hedge(a, b, delta=1e-6, observation_var=1e-6)
    assert got["beta"].iloc[1_900] == pytest.approx(1.5, abs=0.02)
    assert got["beta"].iloc[-1] == pytest.approx(2.0, abs=0.02)
    truncated = analytics.kalman_hedge(a[:2_500], b[:2_500], delta=1e-6, observation_var=1e-6)
    np.testing.assert_array_equal(truncated["beta"], got["beta"].iloc[:2_500])


# --------------------------------------------------------------------------- the pair panel


def test_pair_panel_matches_an_independent_pandas_statsmodels_pipeline(real_trades, real_bars):
    """pair_panel(ols) from 1 s bars equals bars+alignment+OLS+rolling z/corr recomputed from trades."""
    for timeframe, window in [("1s", WINDOW), ("5s", 20)]:
        panel = analytics.pair_panel(real_bars["BTCUSDT"], real_bars["ETHUSDT"], timeframe, window, "ols", 60)
        expected = independent_panel(real_trades["BTCUSDT"], real_trades["ETHUSDT"], timeframe, window)
        assert list(panel.columns) == analytics.PANEL_COLUMNS
        assert_matches_independent(panel, expected)


@pytest.mark.parametrize("hedge", analytics.HEDGE_METHODS)
def test_pair_panel_spread_uses_each_rows_hedge_ratio(real_bars, hedge):
    """For every hedge the spread is price_a - hedge_ratio * price_b and the z-score is of that spread."""
    panel = analytics.pair_panel(real_bars["BTCUSDT"], real_bars["ETHUSDT"], "1s", WINDOW, hedge)
    np.testing.assert_array_equal(panel["spread"], panel["price_a"] - panel["hedge_ratio"] * panel["price_b"])
    assert_close(panel["zscore"], analytics.rolling_zscore(panel["spread"], WINDOW), rtol=0)
    if hedge in ("ols", "huber", "theilsen"):
        assert panel["hedge_ratio"].nunique() == 1
    if hedge == "rolling":
        assert panel["hedge_ratio"].iloc[:WINDOW - 1].isna().all()
        assert panel["hedge_ratio"].iloc[WINDOW - 1:].notna().all()
        assert panel["zscore"].iloc[:2 * WINDOW - 2].isna().all()


def test_pair_panel_with_a_window_larger_than_the_data(real_bars):
    """A window longer than the aligned data gives the rows with NaN z-scores and correlations."""
    panel = analytics.pair_panel(real_bars["BTCUSDT"], real_bars["ETHUSDT"], "1m", 60)
    assert len(panel) == real_bars["BTCUSDT"]["ts_ms"].floordiv(60_000).nunique() and panel[["zscore", "corr", "return_corr"]].isna().all().all()
    assert panel["hedge_ratio"].notna().all()


def test_pair_panel_of_one_row_has_nan_statistics():
    """One aligned row: prices present, hedge ratio and every statistic NaN, nothing raises."""
    panel = analytics.pair_panel(bars_of([0], [1.0]), bars_of([0], [2.0]), "1s", 5)
    assert len(panel) == 1 and panel[["hedge_ratio", "spread", "zscore", "corr"]].isna().all().all()


def test_pair_panel_rejects_unknown_hedge():
    """An unknown hedge method is a ValueError naming the valid ones."""
    with pytest.raises(ValueError, match="kalman"):
        analytics.pair_panel(bars_of([0], [1.0]), bars_of([0], [2.0]), "1s", 5, hedge="tls")


def test_pure_module_imports_no_io_or_ui_modules():
    """Importing pairdesk.analytics loads no sqlite3, asyncio, streamlit or store."""
    code = ("import sys, pairdesk.analytics; "
            "print(sorted(m for m in ('sqlite3', 'asyncio', 'streamlit', 'pairdesk.store') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
