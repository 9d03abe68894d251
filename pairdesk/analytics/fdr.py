"""The false discovery rate of many tests at once: Benjamini-Hochberg q-values.

Testing 1,225 pairs at 5 % each calls about 61 independent pairs "cointegrated" by chance. The
Benjamini-Hochberg step-up procedure (1995) controls instead the expected share of false discoveries
among the pairs called significant: with the m p-values sorted, p_(1) <= ... <= p_(m),
q_(i) = min over k >= i of (m / k) p_(k) (capped at 1), and a test is significant at level q when
its q-value is <= q. This holds for independent tests and under positive dependence (Benjamini &
Yekutieli 2001), which is what pairs sharing a symbol have.
"""
from __future__ import annotations

import numpy as np


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values of ``p_values`` (same order); NaN p-values (tests that could not
    run) stay NaN and do not count in m."""
    p = np.asarray(p_values, dtype=np.float64)
    q = np.full(len(p), np.nan)
    known = np.flatnonzero(np.isfinite(p))
    m = len(known)
    if m == 0:
        return q
    order = known[np.argsort(p[known], kind="stable")]
    scaled = p[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return q
