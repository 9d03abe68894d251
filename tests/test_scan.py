"""The pair scanner: its figures are the desk's own (Engle-Granger, half-life, Johansen, the panel's z),
its q-values Benjamini-Hochberg's, and on simulated universes it finds the planted pairs and keeps
its false discoveries at the stated level."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pairdesk import analytics
from pairdesk.analytics.blas_threads import limit_blas_threads, single_blas_thread
from scan_universe import START_MS, ar1, simulate_universe

MINUTE_MS = 60_000


def _bars(close: np.ndarray, ts: np.ndarray | None = None) -> pd.DataFrame:
    ts = START_MS + np.arange(len(close), dtype=np.int64) * MINUTE_MS if ts is None else ts
    return pd.DataFrame({"ts_ms": ts, "open": close, "high": close, "low": close, "close": close, "volume": 1.0,
                         "quote_volume": close, "trades": 1})


def _pair(seed: int, n: int, half_life: float | None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    b = 100.0 + np.cumsum(rng.standard_normal(n) * 0.05)
    noise = ar1(rng, n, half_life, 0.05) if half_life else np.cumsum(rng.standard_normal(n) * 0.05)
    return 20.0 + 0.8 * b + noise, b


@pytest.mark.parametrize("n", [25, 400, 10_080])
@pytest.mark.parametrize("half_life", [None, 5.0, 60.0])
@pytest.mark.parametrize("lag_rule", ["l4", "l12"])
def test_fast_engle_granger_matches_statsmodels(n, half_life, lag_rule):
    """The closed-form Engle-Granger gives engle_granger_test's statistic, p-value, lags and critical
    values, with the verdict's lag rule and with the scan's."""
    a, b = _pair(n, n, half_life)
    lags = None if lag_rule == "l4" else analytics.scan.scan_adf_lags(n)
    reference = analytics.engle_granger_test(a, b, maxlag=lags)
    fast, residual, alpha, beta = analytics.engle_granger_fast(a, b, lags)
    assert fast.statistic == pytest.approx(reference.statistic, rel=1e-8)
    assert fast.pvalue == pytest.approx(reference.pvalue, rel=1e-8, abs=1e-12)
    assert (fast.lags, fast.nobs, fast.critical_values) == (reference.lags, reference.nobs, reference.critical_values)
    np.testing.assert_allclose(residual, a - alpha - beta * b, atol=1e-9)


@pytest.mark.parametrize("a, b, words", [
    (np.arange(50.0), 2 * np.arange(50.0) + 1, "collinear"),
    (np.ones(50), np.arange(50.0), "constant"),
    (np.arange(10.0), np.arange(10.0) ** 2, "at least 20 rows"),
])
def test_fast_engle_granger_refuses_what_the_reference_refuses(a, b, words):
    """Degenerate input gets a reason, as engle_granger_test gives one, and no residual."""
    fast, residual, _, _ = analytics.engle_granger_fast(a, b)
    assert words in fast.reason and analytics.engle_granger_test(a, b).reason and len(residual) == 0


def test_benjamini_hochberg_matches_statsmodels_and_skips_nan():
    """q-values equal statsmodels' fdr_bh on the finite p-values; a NaN stays NaN and is not counted."""
    from statsmodels.stats.multitest import multipletests

    p = np.random.default_rng(4).uniform(size=200) ** 3
    with_nan = np.insert(p, [3, 50], np.nan)
    q = analytics.benjamini_hochberg(with_nan)
    np.testing.assert_allclose(np.delete(q, [3, 51]), multipletests(p, method="fdr_bh")[1], rtol=1e-12)
    assert np.isnan(q[[3, 51]]).all() and np.isnan(analytics.benjamini_hochberg(np.array([np.nan]))).all()


def test_scan_pair_gives_the_desks_own_figures():
    """Each figure of a pair is what the desk computes elsewhere: the verdict's half-life, Johansen's
    rank, the panel's beta and z of the last bar, the log-return correlation; gaps align as align_pair,
    the last segment tested."""
    a, b = _pair(7, 3_000, 20.0)
    bars_a, bars_b = _bars(a), _bars(b)
    rng = np.random.default_rng(1)
    bars_a = bars_a.drop(index=rng.choice(1_500, 200, replace=False)).reset_index(drop=True)  # carried closes
    hole = (START_MS + 1_000 * MINUTE_MS, START_MS + 1_005 * MINUTE_MS)  # 5 minutes without bars
    bars_a, bars_b = (bars[(bars["ts_ms"] < hole[0]) | (bars["ts_ms"] > hole[1])] for bars in (bars_a, bars_b))
    signal = analytics.PairSignal(timeframe="1m", window=60, hedge_window=300)
    row = analytics.scan_pairs({"A": bars_a, "B": bars_b}, signal).iloc[0]
    aligned = analytics.align_pair(bars_a, bars_b, "1m").rename(columns={"price_a": "A", "price_b": "B"})
    assert aligned["segment"].iloc[-1] > 0  # the missing bars made holes: the last stretch is tested
    aligned = aligned[aligned["segment"] == aligned["segment"].iloc[-1]]
    pa, pb = aligned["A"].to_numpy(), aligned["B"].to_numpy()
    verdict = analytics.cointegration_verdict(pa, pb)
    lags = analytics.scan.scan_adf_lags(len(pa))
    forward = analytics.engle_granger_test(pa, pb, maxlag=lags)
    reverse = analytics.engle_granger_test(pb, pa, maxlag=lags)
    assert row["rows"] == len(aligned) and row["reason"] == "" and lags == 25
    assert row["p_a_on_b"] == pytest.approx(forward.pvalue, rel=1e-8)
    assert row["eg_statistic"] == pytest.approx(forward.statistic, rel=1e-8)
    assert row["p_value"] == pytest.approx(max(forward.pvalue, reverse.pvalue), rel=1e-8)
    assert row["half_life"] == pytest.approx(verdict.half_life.half_life_bars, rel=1e-6)
    assert row["half_life_low"] == pytest.approx(verdict.half_life.ci_low_bars, rel=1e-6)
    assert row["johansen_rank"] == verdict.johansen.rank_95
    panel = analytics.pair_panel(bars_a, bars_b, "1m", 60, "rolling", hedge_window=300)
    assert row["zscore"] == pytest.approx(panel["zscore"].iloc[-1], rel=1e-9)
    assert row["beta"] == pytest.approx(panel["hedge_ratio"].iloc[-1], rel=1e-9)
    returns = np.diff(np.log(aligned[["A", "B"]].to_numpy()), axis=0)
    assert row["return_corr"] == pytest.approx(np.corrcoef(returns.T)[0, 1], rel=1e-9)
    residual = pa - verdict.hedge.alpha - verdict.hedge.beta * pb
    assert row["spread_vol_bps"] == pytest.approx(np.std(residual / pa, ddof=1) * 1e4, rel=1e-6)
    assert row["last_ms"] == aligned["ts_ms"].iloc[-1]


def test_scan_tests_the_last_segment_only():
    """A hole longer than max_stale splits the rows; the tests run on the last stretch, as the desk's do."""
    a, b = _pair(3, 1_000, 10.0)
    ts = START_MS + np.arange(1_000, dtype=np.int64) * MINUTE_MS
    ts[600:] += 3_600_000  # an hour without bars
    row = analytics.scan_pairs({"A": _bars(a, ts), "B": _bars(b, ts)}).iloc[0]
    assert row["rows"] == 400


def test_scan_without_enough_rows_says_why():
    """A pair with too few common bars has a reason and no figures, and ranks last."""
    a, b = _pair(3, 500, 10.0)
    c = 50 + np.cumsum(np.random.default_rng(0).standard_normal(10))
    figures = analytics.scan_pairs({"A": _bars(a), "B": _bars(b), "C": _bars(c)})
    ranked = analytics.rank_scan(figures)
    short = ranked[ranked["symbol_b"] == "C"]
    assert (short["reason"].str.contains("at least 20 rows")).all() and short["p_value"].isna().all()
    assert list(ranked["rank"]) == [1, 2, 3] and ranked.iloc[0][["symbol_a", "symbol_b"]].tolist() == ["A", "B"]


def test_two_processes_give_the_same_scan():
    """Spreading the pairs over two processes changes nothing in the result."""
    universe = simulate_universe(22, 3, 600, seed=5)
    one = analytics.scan_pairs(universe.bars, workers=1)
    two = analytics.scan_pairs(universe.bars, workers=2)
    assert len(one) == 231 >= analytics.scan.PARALLEL_MIN_PAIRS
    pd.testing.assert_frame_equal(one, two)


def test_rank_prefers_significant_stable_tradeable_pairs():
    """Score = 8 significant + 4 stable + 2 half-life in range + 1 move over cost (or cost unknown)."""
    base = dict(rows=1_000, eg_statistic=-5.0, johansen_rank=1, return_corr=0.1, beta=1.0, alpha=0.0, zscore=0.0,
                last_ms=0, reason="", half_life_low=1.0, half_life_high=2.0, p_a_on_b=1e-9, p_b_on_a=1e-9)
    rows = [
        dict(symbol_a="W", symbol_b="X", p_value=1e-9, p_first_half=0.01, p_second_half=0.01, half_life=30.0,
             spread_vol_bps=10.0, round_trip_bps=30.0),   # significant, stable, in range, but 20 bps < 30 bps cost
        dict(symbol_a="A", symbol_b="B", p_value=1e-8, p_first_half=0.01, p_second_half=0.01, half_life=30.0,
             spread_vol_bps=10.0, round_trip_bps=5.0),    # all four: best
        dict(symbol_a="C", symbol_b="D", p_value=1e-7, p_first_half=0.01, p_second_half=0.40, half_life=300.0,
             spread_vol_bps=10.0, round_trip_bps=np.nan),  # unstable, half-life above 1,000 / 10, cost unknown
        dict(symbol_a="E", symbol_b="F", p_value=0.5, p_first_half=0.5, p_second_half=0.5, half_life=np.nan,
             spread_vol_bps=10.0, round_trip_bps=1.0),
    ]
    ranked = analytics.rank_scan(pd.DataFrame([{**base, **row} for row in rows]))
    assert list(ranked.columns) == analytics.SCAN_COLUMNS
    assert [f"{a}{b}" for a, b in zip(ranked["symbol_a"], ranked["symbol_b"])] == ["AB", "WX", "CD", "EF"]
    assert list(ranked["score"]) == [15, 14, 9, 1]
    assert list(ranked["covers_cost"].astype(object)) == [True, False, pd.NA, True]
    assert ranked["significant"].tolist() == [True, True, True, False] and (ranked["fdr_level"] == 0.05).all()
    assert ranked["expected_move_bps"].iloc[0] == 20.0


@pytest.mark.parametrize("params, words", [
    (dict(fdr_level=0.0), "fdr_level"), (dict(half_life_min_bars=50, half_life_max_bars=10), "empty"),
    (dict(entry_z=0), "entry_z"),
])
def test_rank_params_are_checked(params, words):
    """A level outside (0, 1), an empty half-life range or a non-positive entry z is refused."""
    with pytest.raises(ValueError, match=words):
        analytics.RankParams(**params)


def test_single_blas_thread_restores_the_count():
    """The scan's one-BLAS-thread block leaves the process's thread count as it found it."""
    before = limit_blas_threads(2)
    if before is None:
        pytest.skip("no OpenBLAS in this numpy")
    with single_blas_thread():
        assert limit_blas_threads(1) == 1
    assert limit_blas_threads(before) == 2


def test_scan_recovers_planted_pairs_and_holds_the_false_discovery_rate():
    """Six simulated weeks of 1 m bars (10,080 bars), each of 30 symbols: 6 planted pairs (half-lives
    10 to 80 bars) and 429 pairs without a relation. In every week at least 90 % of the planted pairs
    rank in the top 6; the share of false discoveries among the significant pairs, averaged over the
    weeks (the false discovery rate Benjamini-Hochberg controls), stays at the stated 5 %."""
    shares = []
    for seed in range(20, 26):
        universe = simulate_universe(30, 6, 10_080, seed=seed)
        ranked = analytics.rank_scan(analytics.scan_pairs(universe.bars, workers=2))
        pairs = list(zip(ranked["symbol_a"], ranked["symbol_b"]))
        planted = set(universe.planted)
        assert len(planted & set(pairs[:len(planted)])) >= math.ceil(0.9 * len(planted)), seed
        significant = [pair for pair, flag in zip(pairs, ranked["significant"]) if flag]
        shares.append(sum(pair not in planted for pair in significant) / max(len(significant), 1))
    assert np.mean(shares) <= 0.05, shares


def test_independent_walks_give_no_discoveries_and_calibrated_p_values():
    """30 independent random walks (435 pairs, all without a relation): the two-way p-value is at or
    below its level (at most 5 % of pairs under 0.05) and Benjamini-Hochberg calls none significant
    (under the complete null it controls the chance of any false discovery at 5 %)."""
    universe = simulate_universe(30, 0, 5_000, seed=12)
    ranked = analytics.rank_scan(analytics.scan_pairs(universe.bars, workers=2))
    assert len(ranked) == 435 and ranked["p_value"].notna().all()
    assert (ranked["p_value"] < 0.05).mean() <= 0.05
    assert not ranked["significant"].any()
