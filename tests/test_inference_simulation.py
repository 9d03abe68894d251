"""The cointegration headline, the half-life and the Hurst interval on simulations with known answers:
false-positive rates on independent random walks, power and interval coverage on cointegrated pairs.

Seeded; every rate is printed in its assertion message. Random walks are generated as one matrix
(one cumsum); each pair goes through the public ``analytics.cointegration_verdict``.
"""
from __future__ import annotations

import ctypes
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import lfilter

from pairdesk import analytics

PAIRS = 500
HALF_LIFE_BARS = 30
PHI = 0.5 ** (1 / HALF_LIFE_BARS)  # AR(1) coefficient whose deviations halve in 30 bars


def _numpy_openblas() -> ctypes.CDLL | None:
    """numpy's bundled OpenBLAS (already loaded), or None when this numpy has another BLAS."""
    found = sorted((Path(np.__file__).parent.parent / "numpy.libs").glob("libscipy_openblas64_*.so"))
    lib = ctypes.CDLL(str(found[0])) if found else None
    return lib if lib is not None and hasattr(lib, "scipy_openblas_set_num_threads64_") else None


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread() -> Iterator[None]:
    """Thousands of small regressions: on two shared cores OpenBLAS threads only contend (5-10 times
    slower), so this module runs them on one thread and restores the count afterwards."""
    lib = _numpy_openblas()
    if lib is None:
        yield
        return
    before = lib.scipy_openblas_get_num_threads64_()
    lib.scipy_openblas_set_num_threads64_(1)
    try:
        yield
    finally:
        lib.scipy_openblas_set_num_threads64_(before)


def random_walks(count: int, n: int, seed: int) -> np.ndarray:
    """``count`` independent Gaussian random walks of ``n`` steps starting at 100, one per row."""
    return 100 + np.cumsum(np.random.default_rng(seed).standard_normal((count, n)), axis=1)


def cointegrated_pairs(count: int, n: int, seed: int, beta: float = 2.0, alpha: float = 5.0
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(price_a, price_b) rows: b a random walk, a = alpha + beta b + e with e an AR(1) of half-life 30 bars."""
    rng = np.random.default_rng(seed)
    b = 100 + np.cumsum(rng.standard_normal((count, n)), axis=1)
    e = lfilter([1.0], [1.0, -PHI], rng.standard_normal((count, n)), axis=1)
    return alpha + beta * b + e, b


@pytest.mark.parametrize(("n", "seed"), [(650, 650), (5_000, 5_000)])
def test_headline_says_cointegrated_for_about_5_percent_of_independent_random_walks(n, seed):
    """On 500 pairs of independent random walks the 5 % headline fires for 5 % ± 2.5 % of them, and
    a half-life is shown for at most 7.5 % of them."""
    a, b = random_walks(PAIRS, n, seed), random_walks(PAIRS, n, seed + 1)
    verdicts = [analytics.cointegration_verdict(a[i], b[i]) for i in range(PAIRS)]
    rate = np.mean([v.cointegrated for v in verdicts])
    shown = np.mean([math.isfinite(v.half_life.half_life_bars) for v in verdicts])
    johansen = np.mean([v.johansen.rank_95 >= 1 for v in verdicts])
    assert all(v.nobs == n and v.reason is None for v in verdicts)
    assert 0.025 <= rate <= 0.075, f"headline false-positive rate {rate:.1%} at n = {n} (Johansen alone {johansen:.1%})"
    assert shown <= 0.075, f"half-life shown for {shown:.1%} of random walks at n = {n}"


def test_headline_finds_cointegrated_pairs_and_the_half_life_interval_covers_30_bars():
    """On 200 pairs a = 5 + 2 b + AR(1) (half-life 30 bars), n = 5,000: cointegrated for ≥ 90 %, Johansen
    agrees for ≥ 90 %, and the half-life interval covers 30 bars for 85-99 % of them."""
    a, b = cointegrated_pairs(200, 5_000, seed=30)
    verdicts = [analytics.cointegration_verdict(a[i], b[i]) for i in range(len(a))]
    power = np.mean([v.cointegrated for v in verdicts])
    agree = np.mean([v.johansen_agrees for v in verdicts])
    covered = np.mean([v.half_life.ci_low_bars <= HALF_LIFE_BARS <= v.half_life.ci_high_bars for v in verdicts])
    median = np.median([v.half_life.half_life_bars for v in verdicts])
    assert power >= 0.90, f"power {power:.1%}"
    assert agree >= 0.90, f"Johansen agrees for {agree:.1%}"
    assert 0.85 <= covered <= 0.99, f"half-life interval covers 30 bars for {covered:.1%} (median estimate {median:.1f})"
    assert median == pytest.approx(HALF_LIFE_BARS, rel=0.1)
    assert all(v.nobs == 5_000 for v in verdicts)
    assert np.median([abs(v.hedge.beta - 2.0) for v in verdicts]) < 0.03


def test_hurst_interval_excludes_the_random_walk_value_for_about_5_percent_of_random_walks():
    """On 400 random walks of 2,000 steps the Hurst interval excludes random_walk_mean for 5 % ± 2.5 %
    of them; on a fast AR(1) it lies wholly below it."""
    walks = random_walks(400, 2_000, seed=7)
    results = [analytics.hurst_exponent(w) for w in walks]
    outside = np.mean([not (r.ci_low <= r.random_walk_mean <= r.ci_high) for r in results])
    assert 0.025 <= outside <= 0.075, f"Hurst interval excludes the random walk for {outside:.1%}"
    ar = analytics.hurst_exponent(lfilter([1.0], [1.0, -0.5], np.random.default_rng(8).standard_normal(2_000)))
    assert ar.ci_high < ar.random_walk_mean and ar.nobs == 2_000
