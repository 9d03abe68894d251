"""Johansen's trace test of the cointegration rank, with the constant restricted to the relation.

Why not statsmodels ``coint_johansen``: its ``det_order=0`` leaves the constant unrestricted (a
linear trend in the prices) and uses that case's critical values; on driftless prices, which is
what bars of seconds to hours are, its last statistic is then compared with 3.84 instead of ~9.2
and it rejects too often (11-14 % of pairs of independent random walks at 5 %, and "rank 2" for
some of them). Pair prices have no deterministic trend but their relation has an intercept, so
this is Johansen's case 2: Δy_t = α(β'y_{t-1} + ρ) + Σ_{i=1..p} Γ_i Δy_{t-i} + ε_t.

Computation (Johansen 1991): R0 and R1 are the residuals of Δy_t and of (y_{t-1}, 1) regressed on
the p lagged differences; S_ij = R_i'R_j / T; λ are the eigenvalues of S11⁻¹ S10 S00⁻¹ S01 (the
largest k of k + 1); the trace statistic for "rank ≤ r" is -T Σ_{i>r} ln(1 - λ_i). It equals
twice the log-likelihood gap between the full-rank and the rank-r VECM of statsmodels
(``VECM(deterministic="ci")``): the tests check that. Critical values: Osterwald-Lenum (1992),
Table 1* (the case-2 trace test, as R's urca ``ca.jo(ecdet="const")`` uses them).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pairdesk.analytics.inputs import run_test, series_input

JOHANSEN_LAGGED_DIFFERENCES = 1  # p: a VAR(2) in levels

# Trace critical values (90 %, 95 %, 99 %) by the number of series minus the rank tested, k - r = 1..11.
OSTERWALD_LENUM_TRACE_CONSTANT: dict[int, tuple[float, float, float]] = {
    1: (7.52, 9.24, 12.97), 2: (17.85, 19.96, 24.60), 3: (32.00, 34.91, 41.07), 4: (49.65, 53.12, 60.16),
    5: (71.86, 76.07, 84.45), 6: (97.18, 102.14, 111.01), 7: (126.58, 131.70, 143.09),
    8: (159.48, 165.58, 177.20), 9: (196.37, 202.92, 215.74), 10: (236.54, 244.15, 257.68),
    11: (282.45, 291.40, 307.64),
}


@dataclass(frozen=True)
class JohansenResult:
    """Johansen trace test, constant restricted to the cointegrating relation.

    trace_statistics[r] tests "rank ≤ r"; critical_values[r] are its (90 %, 95 %, 99 %) critical
    values; rank_95 is the rank at 5 %: the first r whose statistic is at or below its critical
    value (k when none is). For two series the rank is 0 (no relation), 1 (one cointegrating
    relation) or 2, which means both series are stationary on their own (never "two relations");
    ``conclusion`` says which in words. ``nobs`` is the rows given; T = nobs - 1 - lags are the rows
    of the regression. Figures empty and rank None when ``reason`` says why.
    """

    trace_statistics: tuple[float, ...] = ()
    critical_values: tuple[tuple[float, float, float], ...] = ()
    eigenvalues: tuple[float, ...] = ()
    rank_95: int | None = None
    nobs: int | None = None
    lags: int = JOHANSEN_LAGGED_DIFFERENCES
    deterministic: str = "constant restricted to the cointegrating relation"
    conclusion: str | None = None
    reason: str | None = None


def rank_conclusion(rank: int, series: int) -> str:
    """The rank in words: 0 none, full rank "each series stationary on its own", else r relations."""
    if rank == 0:
        return "rank 0: no cointegrating relation"
    if rank == series:
        every = "both series are" if series == 2 else f"all {series} series are"
        return f"rank {rank}: {every} stationary on their own (not {rank} cointegrating relations)"
    return f"rank {rank}: {'one' if rank == 1 else rank} cointegrating relation{'s' * (rank > 1)}"


def _trace_statistics(y: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """(trace statistics for r = 0..k-1, the k largest eigenvalues) of the case-2 VECM of ``y``."""
    k = y.shape[1]
    dy = np.diff(y, axis=0)
    z0 = dy[lags:]
    z1 = np.column_stack([y[lags:-1], np.ones(len(z0))])
    if lags:
        lagged = np.column_stack([dy[lags - i - 1: len(dy) - i - 1] for i in range(lags)])
        z0 = z0 - lagged @ np.linalg.lstsq(lagged, z0, rcond=None)[0]
        z1 = z1 - lagged @ np.linalg.lstsq(lagged, z1, rcond=None)[0]
    t = len(z0)
    s00, s11, s01 = z0.T @ z0 / t, z1.T @ z1 / t, z0.T @ z1 / t
    inv_chol = np.linalg.inv(np.linalg.cholesky(s11))
    symmetric = inv_chol @ s01.T @ np.linalg.solve(s00, s01) @ inv_chol.T
    eigenvalues = np.clip(np.sort(np.linalg.eigvalsh(symmetric))[::-1][:k], 0.0, 1.0 - 1e-15)
    log_terms = np.log1p(-eigenvalues)
    trace = np.array([-t * log_terms[r:].sum() for r in range(k)])
    return trace, eigenvalues


def johansen_test(prices: pd.DataFrame | np.ndarray, k_ar_diff: int = JOHANSEN_LAGGED_DIFFERENCES) -> JohansenResult:
    """Johansen trace test on two or more price columns (case 2, ``k_ar_diff`` lagged differences).
    Rows with a NaN are dropped first."""
    data = np.asarray(prices, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] < 2:
        return JohansenResult(reason="need at least 2 series")
    series = data.shape[1]
    if series > max(OSTERWALD_LENUM_TRACE_CONSTANT):
        return JohansenResult(reason=f"critical values exist for at most {max(OSTERWALD_LENUM_TRACE_CONSTANT)} series")
    data = data[np.all(np.isfinite(data), axis=1)]
    for column in range(series):
        _, reason = series_input(data[:, column], f"series {column}")
        if reason:
            return JohansenResult(nobs=len(data), lags=k_ar_diff, reason=reason)
    result, reason = run_test("johansen", lambda: _trace_statistics(data, k_ar_diff))
    if result is None or not np.all(np.isfinite(result[0])):
        return JohansenResult(nobs=len(data), lags=k_ar_diff, reason=reason or "johansen: degenerate input")
    trace, eigenvalues = result
    crit = tuple(OSTERWALD_LENUM_TRACE_CONSTANT[series - r] for r in range(series))
    rank = next((r for r, (stat, cv) in enumerate(zip(trace, crit)) if stat <= cv[1]), series)
    return JohansenResult(tuple(float(v) for v in trace), crit, tuple(float(v) for v in eigenvalues), rank,
                          len(data), k_ar_diff, conclusion=rank_conclusion(rank, series))

