"""pairdesk.analytics: bars, alignment in time, rolling statistics, hedge ratios and the pair panel,
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
from pairdesk.analytics.causal_hedge import robust_hedge
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


def pandas_align(closes_a: pd.Series, closes_b: pd.Series, tf_ms: int, max_stale_s: float) -> pd.DataFrame:
    """Closes indexed by bar start, on the full grid from the first to the last bar of either,
    forward-filled while at most max_stale_s seconds old (floor(max_stale_s / bar) steps), rows
    with a missing close or where neither symbol traded dropped; a new segment after a hole longer
    than one bar plus max_stale_s."""
    grid = np.arange(min(closes_a.index[0], closes_b.index[0]), max(closes_a.index[-1], closes_b.index[-1]) + 1,
                     tf_ms)
    steps = int(max_stale_s * 1000 // tf_ms)

    def on_grid(closes: pd.Series) -> pd.Series:
        return closes.reindex(grid).ffill(limit=steps) if steps else closes.reindex(grid)

    traded = pd.Series(grid, index=grid).isin(closes_a.index) | pd.Series(grid, index=grid).isin(closes_b.index)
    frame = pd.DataFrame({"price_a": on_grid(closes_a), "price_b": on_grid(closes_b)}, index=grid)[traded].dropna()
    frame = frame.rename_axis("ts_ms").reset_index()
    frame["segment"] = (frame["ts_ms"].diff() > tf_ms + max_stale_s * 1000).cumsum().astype(np.int64)
    return frame


def assert_matches_independent(panel: pd.DataFrame, expected: pd.DataFrame) -> None:
    """The checker's tolerances: prices exact, alpha, beta and spread 1e-8 relative (beta's OLS is
    ill-conditioned on minutes of data), z and corr 1e-6."""
    np.testing.assert_array_equal(panel["ts_ms"], expected["ts_ms"])
    np.testing.assert_array_equal(panel[["price_a", "price_b"]], expected[["price_a", "price_b"]])
    for column in ("hedge_ratio", "alpha"):
        assert_close(panel[column], expected[column], rtol=1e-8)
    assert_close(panel["spread"], expected["spread"], rtol=1e-6, atol=1e-6)
    for column in ("zscore", "corr"):
        assert_close(panel[column], expected[column], rtol=1e-6, atol=1e-9)


def independent_rolling_signal(a: np.ndarray, b: np.ndarray, window: int, hedge_window: int) -> pd.DataFrame:
    """The causal rolling signal with statsmodels and numpy, row by row: OLS with intercept on the
    hedge_window rows before t; e_t = a_t - alpha - beta b_t; z against that fit's residuals over
    the window rows ending at t (ddof 1)."""
    n = len(a)
    out = {name: np.full(n, np.nan) for name in ("alpha", "hedge_ratio", "spread", "zscore")}
    for t in range(hedge_window, n):
        fit = sm.OLS(a[t - hedge_window:t], sm.add_constant(b[t - hedge_window:t])).fit()
        alpha, beta = fit.params
        out["alpha"][t], out["hedge_ratio"][t] = alpha, beta
        out["spread"][t] = a[t] - alpha - beta * b[t]
        if t >= window - 1:
            residuals = a[t - window + 1:t + 1] - alpha - beta * b[t - window + 1:t + 1]
            out["zscore"][t] = (residuals[-1] - residuals.mean()) / residuals.std(ddof=1)
    return pd.DataFrame(out)


def independent_panel(trades_a: pd.DataFrame, trades_b: pd.DataFrame, timeframe: str, window: int,
                      hedge_window: int, max_stale_s: float = analytics.DEFAULT_MAX_STALE_S) -> pd.DataFrame:
    """The exported columns for the default (rolling) hedge recomputed with pandas and statsmodels only
    (the recorded data has no hole: one segment)."""
    tf_ms = analytics.TIMEFRAME_MS[timeframe]
    closes = [pandas_bars(t, tf_ms).set_index("ts_ms")["close"] for t in (trades_a, trades_b)]
    panel = pandas_align(*closes, tf_ms, max_stale_s)
    assert panel["segment"].max() == 0
    signal = independent_rolling_signal(panel["price_a"].to_numpy(), panel["price_b"].to_numpy(), window, hedge_window)
    for column in signal:
        panel[column] = signal[column].to_numpy()
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
    """Aligned 1-second BTC / ETH closes (max_stale 60 s)."""
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
    """Alignment equals pandas reindex on the full grid + ffill (max_stale seconds) + dropna, bars
    where neither traded dropped, segments after longer holes."""
    tf_ms = analytics.TIMEFRAME_MS[timeframe]
    bars = {s: analytics.bars_from_trades(t, timeframe) for s, t in real_trades.items()}
    aligned = analytics.align_pair(bars["BTCUSDT"], bars["ETHUSDT"], timeframe, max_stale)
    expected = pandas_align(*(b.set_index("ts_ms")["close"] for b in bars.values()), tf_ms, max_stale)
    pd.testing.assert_frame_equal(aligned, expected, check_exact=True)


def test_hole_longer_than_max_stale_drops_rows():
    """A close is carried forward max_stale seconds, then rows are dropped until the next bar, and the
    hole starts a new segment."""
    bars_a = bars_of([0, 1, 2, 10], [1.0, 2.0, 3.0, 4.0])
    bars_b = bars_of(list(range(12)), [100.0 + i for i in range(12)])
    aligned = analytics.align_pair(bars_a, bars_b, "1s", max_stale=3)
    assert aligned["ts_ms"].tolist() == [0, 1000, 2000, 3000, 4000, 5000, 10_000, 11_000]
    assert aligned["segment"].tolist() == [0, 0, 0, 0, 0, 0, 1, 1]
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
    assert list(aligned.columns) == ["ts_ms", "price_a", "price_b", "segment"] and aligned.empty


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


@pytest.mark.parametrize("hedge", ["huber", "theilsen"])
def test_a_robust_hedge_window_too_short_for_a_fit_gives_no_hedge(hedge):
    """A hedge window of 2 rows leaves no residual degree of freedom (statsmodels' RLM divided by zero
    there: found by schemathesis through /api/cointegration): no hedge, as for a static fit of 2 rows."""
    b = np.linspace(100.0, 110.0, 40)
    a = 2.0 * b + np.sin(np.arange(40))
    alpha, beta = robust_hedge(hedge, a, b, 2)
    assert np.isnan(alpha).all() and np.isnan(beta).all()
    alpha, beta = robust_hedge(hedge, a, b, analytics.MIN_ROWS_FOR_FIT)
    assert np.isfinite(beta[analytics.MIN_ROWS_FOR_FIT:]).all()


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


def kalman_reference(a: np.ndarray, b: np.ndarray, hedge_window: int) -> dict[str, np.ndarray]:
    """The documented discount regression (West & Harrison, unknown V) with long-double numpy
    matrices: burn-in OLS on the first hedge_window rows, then per row the forecast from the state
    before it, the standardised error, and the updates of the state, C and S."""
    ld = np.longdouble
    a0, b0 = ld(a[0]), ld(b[0])
    s = np.std(b[:hedge_window].astype(ld) / b0)
    y, u = a.astype(ld) / a0, (b.astype(ld) / b0 - 1) / s
    X = np.column_stack([np.ones(hedge_window, dtype=ld), u[:hedge_window]])
    C = np.linalg.inv((X.T @ X).astype(float)).astype(ld)
    theta = C @ X.T @ y[:hedge_window]
    res = y[:hedge_window] - X @ theta
    S, dof, lam = (res @ res) / (hedge_window - 2), ld(hedge_window - 2), 1 - ld(1) / hedge_window
    lam_v = 1 - ld(1) / min(hedge_window, analytics.VARIANCE_MEMORY_BARS)
    out = {k: np.full(len(a), np.nan) for k in ("alpha", "beta", "spread", "zscore")}
    for t in range(hedge_window, len(a)):
        R = C / lam
        h = np.array([1, u[t]], dtype=ld)
        q = 1 + h @ R @ h
        e = y[t] - h @ theta
        out["alpha"][t], out["beta"][t] = a0 * (theta[0] - theta[1] / s), theta[1] * a0 / (b0 * s)
        out["spread"][t], out["zscore"][t] = e * a0, e / np.sqrt(S * q)
        A = R @ h / q
        theta = theta + A * e
        dof = lam_v * dof + 1
        S = S + S / dof * (e * e / (S * q) - 1)
        C = R - np.outer(A, A) * q
    return out


def test_kalman_matches_a_matrix_implementation_of_its_state_model(real_pair):
    """The filter's alpha, beta, spread and z equal a long-double matrix implementation of the model."""
    a, b = real_pair["price_a"].to_numpy(), real_pair["price_b"].to_numpy()
    for hedge_window in (20, len(a) // 3):
        got = analytics.kalman_signal(a, b, hedge_window)
        expected = kalman_reference(a, b, hedge_window)
        for column in ("beta", "zscore"):
            assert_close(got[column], expected[column], rtol=1e-8, atol=1e-9)
        assert_close(got["alpha"], expected["alpha"], rtol=1e-8, atol=1e-9 * a[0])
        assert_close(got["spread"], expected["spread"], rtol=1e-7, atol=1e-9 * a[0])


def test_kalman_standardised_forecast_errors_have_unit_scale_on_the_recorded_pair(real_pair):
    """On the real BTC/ETH pair the Kalman z (its standardised one-step forecast errors) has std 0.8..1.25."""
    a, b = real_pair["price_a"].to_numpy(), real_pair["price_b"].to_numpy()
    default = analytics.DEFAULT_HEDGE_WINDOW_ROWS  # the full recordings fit it; the trimmed ones need less
    hedge_window = default if len(a) > 2 * default else len(a) // 4
    z = analytics.kalman_signal(a, b, hedge_window)["zscore"]
    assert np.isfinite(z).sum() > len(a) // 2
    assert 0.8 <= np.nanstd(z, ddof=1) <= 1.25, np.nanstd(z, ddof=1)


def test_kalman_tracks_a_change_of_beta_and_has_no_look_ahead():
    """After beta steps from 1.5 to 2.0 the Kalman beta moves to 2.0; past rows ignore the future."""
    rng = np.random.default_rng(5)
    b = 100 + 20 * np.sin(np.linspace(0, 40, 4_000)) + rng.normal(0, 0.2, 4_000)
    beta_true = np.where(np.arange(4_000) < 2_000, 1.5, 2.0)
    a = 50 + beta_true * b + rng.normal(0, 0.05, 4_000)
    got = analytics.kalman_signal(a, b, 200)
    assert got["beta"][1_900] == pytest.approx(1.5, abs=0.02)
    assert got["beta"][-1] == pytest.approx(2.0, abs=0.02)
    truncated = analytics.kalman_signal(a[:2_500], b[:2_500], 200)
    for column in got:
        np.testing.assert_array_equal(truncated[column], got[column][:2_500])


# --------------------------------------------------------------------------- causal hedges


def test_rolling_hedge_at_t_is_statsmodels_ols_on_the_window_ending_at_t_minus_1(real_pair):
    """Row t's (alpha, beta) equal statsmodels OLS with intercept on rows t-H..t-1, none before H."""
    a, b = real_pair["price_a"].to_numpy(), real_pair["price_b"].to_numpy()
    alpha, beta = analytics.causal_hedge(a, b, "rolling", 30)
    assert np.isnan(beta[:30]).all() and np.isfinite(beta[30:]).all()
    for t in (30, 31, len(a) // 2, len(a) - 1):
        fit = sm.OLS(a[t - 30:t], sm.add_constant(b[t - 30:t])).fit()
        assert (alpha[t], beta[t]) == pytest.approx(tuple(fit.params), rel=1e-8)


def test_expanding_hedge_at_t_is_statsmodels_ols_on_every_earlier_row(real_pair):
    """Row t's (alpha, beta) equal statsmodels OLS on rows 0..t-1, from the burn-in on."""
    a, b = real_pair["price_a"].to_numpy(), real_pair["price_b"].to_numpy()
    alpha, beta = analytics.causal_hedge(a, b, "expanding", 25)
    assert np.isnan(beta[:25]).all() and np.isfinite(beta[25:]).all()
    for t in (25, 40, len(a) - 1):
        fit = sm.OLS(a[:t], sm.add_constant(b[:t])).fit()
        assert (alpha[t], beta[t]) == pytest.approx(tuple(fit.params), rel=1e-7)


@pytest.mark.parametrize("hedge", ["huber", "theilsen"])
def test_robust_hedges_are_fitted_on_earlier_bars_only(real_pair, hedge):
    """A robust fit held at row t was made on the hedge_window rows before its refit row (<= t)."""
    a, b = real_pair["price_a"].to_numpy(), real_pair["price_b"].to_numpy()
    window = 40
    alpha, beta = analytics.causal_hedge(a, b, hedge, window)
    step = analytics.robust_refit_every(window)
    refit = window + step  # the second refit row
    expected = (stats.theilslopes(a[refit - window:refit], b[refit - window:refit]) if hedge == "theilsen" else
                sm.RLM(a[refit - window:refit], sm.add_constant(b[refit - window:refit]),
                       M=sm.robust.norms.HuberT()).fit())
    slope = expected.slope if hedge == "theilsen" else expected.params[1]
    assert beta[refit] == pytest.approx(slope, rel=1e-6)
    assert np.isnan(beta[:window]).all()
    np.testing.assert_array_equal(beta[refit:refit + step], beta[refit])


def test_a_simulated_pair_recovers_its_beta_and_unit_scale_z():
    """a = 5 + 2 b + AR(1) noise (half-life 30 bars): the rolling beta is near 2, and with a z window
    of many half-lives z has unit scale."""
    rng = np.random.default_rng(8)
    n, phi = 6_000, 0.5 ** (1 / 30)
    b = 100 + np.cumsum(rng.normal(0, 0.5, n))
    noise = np.zeros(n)
    for t in range(1, n):
        noise[t] = phi * noise[t - 1] + rng.normal(0, 0.3)
    a = 5 + 2 * b + noise
    panel = analytics.pair_panel(bars_of(list(range(n)), a.tolist()), bars_of(list(range(n)), b.tolist()), "1s",
                                 600, "rolling", hedge_window=1_000)
    assert np.nanmedian(panel["hedge_ratio"]) == pytest.approx(2.0, abs=0.05)
    assert 0.85 <= panel["zscore"].std() <= 1.15, panel["zscore"].std()


# --------------------------------------------------------------------------- the pair panel


def test_pair_panel_matches_an_independent_pandas_statsmodels_pipeline(real_trades, real_bars):
    """pair_panel (rolling) from 1 s bars equals bars + alignment + causal OLS + residual z recomputed from trades."""
    for timeframe, window, hedge_window in [("1s", 20, 40), ("5s", 5, 10)]:
        panel = analytics.pair_panel(real_bars["BTCUSDT"], real_bars["ETHUSDT"], timeframe, window, "rolling", 60,
                                     hedge_window=hedge_window)
        expected = independent_panel(real_trades["BTCUSDT"], real_trades["ETHUSDT"], timeframe, window, hedge_window)
        assert list(panel.columns) == analytics.PANEL_COLUMNS
        assert np.isfinite(panel["zscore"]).sum() > len(panel) // 3
        assert_matches_independent(panel, expected)


def residual_window_z(panel: pd.DataFrame, window: int) -> np.ndarray:
    """z of each row against its own (alpha, beta)'s residuals over the window rows ending at it."""
    a, b = panel["price_a"].to_numpy(), panel["price_b"].to_numpy()
    alpha, beta = panel["alpha"].to_numpy(), panel["hedge_ratio"].to_numpy()
    z = np.full(len(a), np.nan)
    for t in range(window - 1, len(a)):
        residuals = a[t - window + 1:t + 1] - alpha[t] - beta[t] * b[t - window + 1:t + 1]
        if np.isfinite(residuals).all() and residuals.std() > 0:
            z[t] = (residuals[-1] - residuals.mean()) / residuals.std(ddof=1)
    return z


@pytest.mark.parametrize("hedge", analytics.HEDGE_METHODS)
def test_pair_panel_spread_is_the_residual_and_z_uses_its_own_hedge(real_bars, hedge):
    """For every hedge the spread is a - alpha - beta b with the row's own hedge, and z standardises it
    against that hedge's residuals over the window (Kalman: its standardised forecast error)."""
    panel = analytics.pair_panel(real_bars["BTCUSDT"], real_bars["ETHUSDT"], "1s", 20, hedge, hedge_window=30)
    assert_close(panel["spread"], panel["price_a"] - panel["alpha"] - panel["hedge_ratio"] * panel["price_b"],
                 rtol=1e-6, atol=1e-6)
    if hedge != "kalman":
        assert_close(panel["zscore"], residual_window_z(panel, 20), rtol=1e-6, atol=1e-9)
    if hedge == "ols_insample":
        assert panel["hedge_ratio"].nunique() == 1
    else:
        assert panel["hedge_ratio"].iloc[:30].isna().all() and panel["zscore"].iloc[:30].isna().all()
    assert np.isfinite(panel["zscore"]).sum() > len(panel) // 3


@pytest.mark.parametrize("hedge", analytics.HEDGE_METHODS)
def test_no_repaint_rows_never_change_when_bars_are_appended(real_bars, hedge):
    """Computed on data up to T and again after more bars: every causal value up to T is identical
    (ols_insample, fitted on the whole sample, does change: that is why it is labelled in-sample)."""
    a, b = real_bars["BTCUSDT"], real_bars["ETHUSDT"]
    cut = a["ts_ms"].iloc[len(a) * 2 // 3]
    early = analytics.pair_panel(a[a["ts_ms"] <= cut], b[b["ts_ms"] <= cut], "1s", 20, hedge, hedge_window=30)
    full = analytics.pair_panel(a, b, "1s", 20, hedge, hedge_window=30)
    columns = ["hedge_ratio", "alpha", "spread", "zscore", "corr", "return_corr", "spread_bps", "segment"]
    rows = full[full["ts_ms"].isin(early["ts_ms"])].reset_index(drop=True)
    if analytics.is_causal(hedge):
        pd.testing.assert_frame_equal(rows[columns], early[columns].reset_index(drop=True), check_exact=True)
    else:
        assert not np.allclose(rows["hedge_ratio"], early["hedge_ratio"])


def test_windows_restart_after_a_hole_longer_than_max_stale():
    """A hole longer than max_stale starts a new segment: no window, return or hedge reaches across it."""
    rng = np.random.default_rng(2)
    first, second = list(range(0, 200)), list(range(500, 700))
    b = 100 + np.cumsum(rng.normal(0, 0.1, 400))
    a = 3 + 1.5 * b + rng.normal(0, 0.05, 400)
    panel = analytics.pair_panel(bars_of(first + second, a.tolist()), bars_of(first + second, b.tolist()), "1s", 20,
                                 "rolling", 60, hedge_window=50)
    assert panel["segment"].tolist() == [0] * 200 + [1] * 200
    again = panel[panel["segment"] == 1]
    assert again["hedge_ratio"].iloc[:50].isna().all() and again["hedge_ratio"].iloc[50:].notna().all()
    assert again["return_corr"].iloc[:20].isna().all()
    alone = analytics.pair_panel(bars_of(second, a[200:].tolist()), bars_of(second, b[200:].tolist()), "1s", 20,
                                 "rolling", 60, hedge_window=50)
    np.testing.assert_array_equal(again["zscore"].to_numpy(), alone["zscore"].to_numpy())


def test_max_stale_is_in_seconds_whatever_the_timeframe():
    """At 1 h bars a leg that did not trade in an hour is not carried for 60 hours: the row is dropped."""
    hours = [0, 1, 2, 4, 5]
    bars_a = bars_of([h * 3600 for h in hours], [1.0, 2.0, 3.0, 5.0, 6.0])
    bars_b = bars_of([h * 3600 for h in range(6)], [10.0 + h for h in range(6)])
    aligned = analytics.align_pair(bars_a, bars_b, "1h", max_stale=60)
    assert aligned["ts_ms"].tolist() == [h * 3_600_000 for h in hours]
    carried = analytics.align_pair(bars_a, bars_b, "1h", max_stale=3 * 3600)
    assert carried["ts_ms"].tolist() == [h * 3_600_000 for h in range(6)]


def test_rows_where_neither_leg_traded_are_dropped():
    """A bar in which neither symbol traded is no observation (no zero returns from carried closes)."""
    aligned = analytics.align_pair(bars_of([0, 1, 3], [1.0, 2.0, 3.0]), bars_of([0, 1, 3], [5.0, 6.0, 7.0]), "1s", 60)
    assert aligned["ts_ms"].tolist() == [0, 1000, 3000]


def test_spread_kinds_log_and_ratio(real_bars):
    """log regresses ln a on ln b (spread in log units, bps = spread x 1e4); ratio is a / b with its z."""
    a, b = real_bars["BTCUSDT"], real_bars["ETHUSDT"]
    log = analytics.pair_panel(a, b, "1s", 20, "rolling", hedge_window=30, spread_kind="log")
    assert_close(log["spread"], np.log(log["price_a"]) - log["alpha"] - log["hedge_ratio"] * np.log(log["price_b"]),
                 rtol=1e-6, atol=1e-12)
    assert_close(log["spread_bps"], log["spread"] * 1e4, rtol=1e-12)
    ratio = analytics.pair_panel(a, b, "1s", 20, spread_kind="ratio")
    assert_close(ratio["spread"], ratio["price_a"] / ratio["price_b"], rtol=1e-15)
    assert_close(ratio["zscore"], analytics.rolling_zscore(ratio["spread"], 20), rtol=1e-9, atol=1e-12)
    price = analytics.pair_panel(a, b, "1s", 20, hedge_window=30)
    assert_close(price["spread_bps"], price["spread"] / price["price_a"] * 1e4, rtol=1e-12)


def test_pair_panel_with_a_window_larger_than_the_data(real_bars):
    """A window longer than the aligned data gives the rows with NaN hedges, z-scores and correlations."""
    panel = analytics.pair_panel(real_bars["BTCUSDT"], real_bars["ETHUSDT"], "1m", 60)
    assert len(panel) == real_bars["BTCUSDT"]["ts_ms"].floordiv(60_000).nunique()
    assert panel[["hedge_ratio", "zscore", "corr", "return_corr"]].isna().all().all()


def test_pair_panel_of_one_row_has_nan_statistics():
    """One aligned row: prices present, hedge ratio and every statistic NaN, nothing raises."""
    for hedge in analytics.HEDGE_METHODS:
        panel = analytics.pair_panel(bars_of([0], [1.0]), bars_of([0], [2.0]), "1s", 5, hedge)
        assert len(panel) == 1 and panel[["hedge_ratio", "spread", "zscore", "corr"]].isna().all().all()


def test_pair_panel_rejects_unknown_hedge():
    """An unknown hedge method (the old whole-window "ols" included) is a ValueError naming the valid ones."""
    for hedge in ("tls", "ols"):
        with pytest.raises(ValueError, match="kalman"):
            analytics.pair_panel(bars_of([0], [1.0]), bars_of([0], [2.0]), "1s", 5, hedge=hedge)


def test_pure_module_imports_no_io_or_ui_modules():
    """Importing pairdesk.analytics loads no sqlite3, asyncio, streamlit or store."""
    code = ("import sys, pairdesk.analytics; "
            "print(sorted(m for m in ('sqlite3', 'asyncio', 'streamlit', 'pairdesk.store') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(("hedge", "timeframe", "spread_kind"), [
    *((hedge, "1s", "price") for hedge in analytics.HEDGE_METHODS), ("rolling", "5s", "price"),
    ("rolling", "1s", "log"), ("rolling", "1s", "ratio")])
def test_pair_panel_since_equals_the_whole_computation_from_there_on(hedge, timeframe, spread_kind):
    """pair_panel_since reads only the bars its rows depend on, yet equals pair_panel from since_ms on
    (same rows, segments and NaNs; values to rounding: the exact rolling moments work in blocks
    counted from the first row): sparse bars, a hole and a later start included."""
    rng = np.random.default_rng(11)
    seconds = np.sort(rng.choice(np.r_[np.arange(0, 800), np.arange(1_000, 1_600)], 1_200, replace=False))
    b = 100 + np.cumsum(rng.normal(0, 0.1, len(seconds)))
    a = 7 + 1.3 * b + rng.normal(0, 0.05, len(seconds))
    bars_a, bars_b = bars_of(seconds.tolist(), a.tolist()), bars_of(seconds[::2].tolist(), b[::2].tolist())
    whole = analytics.pair_panel(bars_a, bars_b, timeframe, 20, hedge, 30, hedge_window=60, spread_kind=spread_kind)
    for since_s in (100, 700, 1_050, 1_400):
        got = analytics.pair_panel_since(bars_a, bars_b, since_s * 1000, timeframe, 20, hedge, 30, hedge_window=60,
                                         spread_kind=spread_kind)
        expected = whole[whole["ts_ms"] >= since_s * 1000].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-9, atol=1e-9)
        np.testing.assert_array_equal(got["segment"], expected["segment"])
        np.testing.assert_array_equal(got.isna(), expected.isna())
