"""Benchmark of the analytics the dashboard runs: the per-refresh pair panel on 24 hours of
1-second bars for two symbols (172,800 rows) and the heavy tests on HEAVY_TEST_WINDOW_ROWS rows,
each against a slower baseline computed in the same run.

Run from the repository root:  .venv/bin/python bench/bench_analytics.py
Budgets (issue 3): panel <= 100 ms; ADF + Engle-Granger on the window <= 300 ms. Figures are
medians of several runs (baselines that take seconds run once). Nothing here asserts on time.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable

# One BLAS thread, as the dashboard should run on a small machine: OpenBLAS's worker threads make
# the small regressions inside adfuller/coint 2-50x slower, and erratic, when the cores are busy
# (measured on the 2-core box: 39 ms single-threaded vs 65-2300 ms threaded). Override from the
# environment to compare.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


from pairdesk import analytics

DAY_SECONDS = 86_400
START_MS = 1_723_161_600_000  # 2024-08-09 00:00 UTC
WINDOW_ROWS = 60
PANEL_BUDGET_MS = 100.0
HEAVY_BUDGET_MS = 300.0
REPEATS = 7
NAIVE_ROLLING_SAMPLE_ROWS = 2_000  # per-row statsmodels refits are timed on this many rows, then scaled
UNBOUNDED_TEST_ROWS = 6 * 3_600  # the heavy tests "on everything" baseline: 6 hours of 1 s rows


def synthetic_day(seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    """24 h of 1 s bars for a BTC-like and an ETH-like symbol: correlated random walks on a 0.01 tick."""
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 1.0e-4, DAY_SECONDS)
    ts = START_MS + 1_000 * np.arange(DAY_SECONDS, dtype=np.int64)

    def bars(level: float, own_vol: float) -> pd.DataFrame:
        close = np.round(level * np.exp(np.cumsum(common + rng.normal(0, own_vol, DAY_SECONDS))), 2)
        spread = np.abs(rng.normal(0, own_vol * level, DAY_SECONDS))
        volume = rng.exponential(0.5, DAY_SECONDS) + 1e-3
        return pd.DataFrame({"ts_ms": ts, "open": close, "high": close + spread, "low": close - spread,
                             "close": close, "volume": volume, "quote_volume": volume * close,
                             "trades": rng.integers(1, 40, DAY_SECONDS)})

    return bars(60_000.0, 4e-5), bars(2_600.0, 6e-5)


def timed(function: Callable[[], object], repeats: int = REPEATS) -> tuple[float, object]:
    """Median wall time in ms over ``repeats`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def pandas_panel(bars_a: pd.DataFrame, bars_b: pd.DataFrame, timeframe: str, window: int,
                 resample: Callable[[pd.DataFrame, int], pd.Series]) -> pd.DataFrame:
    """The same panel the plain pandas / statsmodels way (running-sum rolling statistics)."""
    import statsmodels.api as sm

    tf_ms = analytics.TIMEFRAME_MS[timeframe]
    close_a, close_b = resample(bars_a, tf_ms), resample(bars_b, tf_ms)
    grid = np.arange(min(close_a.index[0], close_b.index[0]), max(close_a.index[-1], close_b.index[-1]) + 1, tf_ms)
    panel = pd.DataFrame({"price_a": close_a.reindex(grid).ffill(limit=60),
                          "price_b": close_b.reindex(grid).ffill(limit=60)}).dropna()
    beta = sm.OLS(panel["price_a"], sm.add_constant(panel["price_b"])).fit().params["price_b"]
    panel["spread"] = panel["price_a"] - beta * panel["price_b"]
    rolling = panel["spread"].rolling(window)
    panel["zscore"] = (panel["spread"] - rolling.mean()) / rolling.std()
    panel["corr"] = panel["price_a"].rolling(window).corr(panel["price_b"])
    returns = np.log(panel[["price_a", "price_b"]]).diff()
    panel["return_corr"] = returns["price_a"].rolling(window).corr(returns["price_b"])
    return panel


def closes_by_agg(bars: pd.DataFrame, tf_ms: int) -> pd.Series:
    return bars.groupby(bars["ts_ms"] // tf_ms * tf_ms)["close"].last()


def closes_by_apply(bars: pd.DataFrame, tf_ms: int) -> pd.Series:
    """Naive resampling: a Python function per bucket building the whole bar."""
    def one_bar(group: pd.DataFrame) -> pd.Series:
        return pd.Series({"open": group["open"].iloc[0], "high": group["high"].max(), "low": group["low"].min(),
                          "close": group["close"].iloc[-1], "volume": group["volume"].sum(),
                          "trades": group["trades"].sum()})

    return bars.groupby(bars["ts_ms"] // tf_ms * tf_ms).apply(one_bar)["close"]


def naive_rolling_beta_ms_per_row(a: np.ndarray, b: np.ndarray, window: int) -> float:
    """Cost per row of refitting statsmodels OLS on each trailing window (timed on a sample)."""
    import statsmodels.api as sm

    start = time.perf_counter()
    for t in range(len(a) - NAIVE_ROLLING_SAMPLE_ROWS, len(a)):
        sm.OLS(a[t - window + 1:t + 1], sm.add_constant(b[t - window + 1:t + 1], has_constant="add")).fit()
    return (time.perf_counter() - start) * 1000 / NAIVE_ROLLING_SAMPLE_ROWS


def line(name: str, ms: float, budget: float | None = None, baseline: float | None = None, note: str = "") -> None:
    verdict = "" if budget is None else ("  within budget" if ms <= budget else "  OVER BUDGET")
    budget_text = f"  budget {budget:6.0f} ms" if budget is not None else ""
    ratio = f"  baseline {baseline:9.1f} ms  x{baseline / ms:7.1f}" if baseline is not None else ""
    print(f"{name:<46} {ms:9.1f} ms{budget_text}{ratio}{verdict}{('  ' + note) if note else ''}")


def main() -> int:
    bars_a, bars_b = synthetic_day()
    print(f"24 h of 1 s bars, 2 symbols: {len(bars_a) + len(bars_b):,} rows; window {WINDOW_ROWS} rows; "
          f"median of {REPEATS} runs; OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")

    panel_ms, panel = timed(lambda: analytics.pair_panel(bars_a, bars_b, "1s", WINDOW_ROWS, "ols"))
    reference_ms, reference = timed(lambda: pandas_panel(bars_a, bars_b, "1s", WINDOW_ROWS, closes_by_agg))
    line("panel 1s, ols (bars, align, OLS, z, corr x2)", panel_ms, PANEL_BUDGET_MS, reference_ms,
         "baseline: pandas groupby.agg + rolling")
    same = np.nanmax(np.abs(panel["zscore"].to_numpy() - reference["zscore"].to_numpy()))
    print(f"{'':<46} (max |z difference| vs baseline: {same:.1e})")

    rolling_ms, rolling = timed(lambda: analytics.pair_panel(bars_a, bars_b, "1s", WINDOW_ROWS, "rolling"))
    per_row = naive_rolling_beta_ms_per_row(panel["price_a"].to_numpy(), panel["price_b"].to_numpy(), WINDOW_ROWS)
    line("panel 1s, rolling OLS hedge", rolling_ms, PANEL_BUDGET_MS, per_row * len(panel),
         f"baseline: statsmodels OLS refit per row ({per_row:.3f} ms/row x {len(panel):,} rows, "
         f"timed on {NAIVE_ROLLING_SAMPLE_ROWS:,})")

    minute_ms, _ = timed(lambda: analytics.pair_panel(bars_a, bars_b, "1m", WINDOW_ROWS, "ols"))
    naive_minute_ms, _ = timed(lambda: pandas_panel(bars_a, bars_b, "1m", WINDOW_ROWS, closes_by_apply), repeats=1)
    line("panel 1m from 1 s bars, ols", minute_ms, PANEL_BUDGET_MS, naive_minute_ms,
         "baseline: groupby.apply resampling")

    kalman_ms, _ = timed(lambda: analytics.pair_panel(bars_a, bars_b, "1s", WINDOW_ROWS, "kalman"), repeats=3)
    line("panel 1s, kalman hedge (not budgeted)", kalman_ms)

    recent = panel.tail(analytics.HEAVY_TEST_WINDOW_ROWS)
    heavy_ms, _ = timed(lambda: (analytics.adf_test(recent["spread"]),
                                 analytics.engle_granger_test(recent["price_a"], recent["price_b"])))
    unbounded = panel.tail(UNBOUNDED_TEST_ROWS)
    unbounded_ms, _ = timed(lambda: (analytics.adf_test(unbounded["spread"]),
                                     analytics.engle_granger_test(unbounded["price_a"], unbounded["price_b"])), repeats=1)
    line(f"ADF + Engle-Granger, last {analytics.HEAVY_TEST_WINDOW_ROWS:,} rows", heavy_ms, HEAVY_BUDGET_MS, unbounded_ms,
         f"baseline: the same on {UNBOUNDED_TEST_ROWS:,} rows (autolag lags grow with rows)")
    report_ms, _ = timed(lambda: analytics.mean_reversion_tests(panel))
    line("all heavy tests (+ Johansen, half-life, Hurst)", report_ms, HEAVY_BUDGET_MS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
