"""The samples the statistical tests run on, and the guard that turns a failed test into a reason.

Shared by ``mean_reversion``, ``cointegration``, ``johansen`` and ``half_life``: every test drops
non-finite rows first, refuses fewer than ``MIN_ROWS_FOR_TESTS`` rows or a constant series with a
one-line reason, and never lets a statsmodels exception or rank-deficiency warning escape.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from statistics import NormalDist

import numpy as np
import pandas as pd

from pairdesk.analytics.common import MIN_ROWS_FOR_TESTS, T, _as_float_array, _is_zero_std

SIGNIFICANCE_LEVEL = 0.05  # every verdict's level: "significant" means at 5 %, two-sided intervals are 95 %


def normal_quantile(level: float = SIGNIFICANCE_LEVEL) -> float:
    """The two-sided normal critical value of ``level``: 1.959964 at 0.05."""
    return NormalDist().inv_cdf(1.0 - level / 2.0)


def series_input(values: pd.Series | np.ndarray, name: str = "series",
                 min_rows: int = MIN_ROWS_FOR_TESTS) -> tuple[np.ndarray, str | None]:
    """Finite values of ``values`` and why a test cannot run on them (None: it can)."""
    x = _as_float_array(values)
    x = x[np.isfinite(x)]
    if len(x) < min_rows:
        return x, f"need at least {min_rows} rows, have {len(x)}"
    if _is_zero_std(x.std(), x.mean()):
        return x, f"{name} is constant"
    return x, None


def pair_input(price_a: pd.Series | np.ndarray, price_b: pd.Series | np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, str | None]:
    """The rows where both prices are finite, and why a pair test cannot run on them (or None).
    ValueError when the two inputs differ in length (a programming error, not a data state)."""
    a, b = _as_float_array(price_a), _as_float_array(price_b)
    if len(a) != len(b):
        raise ValueError(f"price_a and price_b differ in length ({len(a)} != {len(b)})")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    for name, values in (("price_a", a), ("price_b", b)):
        _, reason = series_input(values, name)
        if reason:
            return a, b, reason
    return a, b, None


def critical_values(values: Mapping[str, float]) -> dict[str, float]:
    return {key: float(value) for key, value in values.items()}


def run_test(name: str, call: Callable[[], T]) -> tuple[T | None, str | None]:
    """Run a statsmodels test; (None, reason) when it fails or its regression is rank-deficient
    (a degenerate series such as a straight line), instead of an exception or a warning."""
    from statsmodels.tools.sm_exceptions import SingularMatrixWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except (ValueError, np.linalg.LinAlgError) as exc:
            return None, f"{name} failed: {exc}"
    if any(issubclass(w.category, SingularMatrixWarning) for w in caught):
        return None, f"{name}: degenerate input (rank-deficient regression)"
    return result, None
