"""Exact O(n) rolling moments: mean, standard deviation, z-score and correlation over trailing windows."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pairdesk.analytics.common import _as_float_array, _check_window, _is_zero_std, _like_input


@dataclass(frozen=True)
class _Moments:
    """Trailing-window moments, one value per row (NaN until the window is full / has a NaN).

    The window mean of x is ref_x + mean_dev_x: a value of the window plus a small offset, so
    that x_t - mean can be formed as (x_t - ref_x) - mean_dev_x without losing digits. m2 is the
    sum of squared deviations from the window mean, c_xy the sum of cross products.
    """

    ref_x: np.ndarray
    mean_dev_x: np.ndarray
    m2_x: np.ndarray
    ref_y: np.ndarray | None = None
    mean_dev_y: np.ndarray | None = None
    m2_y: np.ndarray | None = None
    c_xy: np.ndarray | None = None

    @property
    def mean_x(self) -> np.ndarray:
        return self.ref_x + self.mean_dev_x

    @property
    def mean_y(self) -> np.ndarray:
        return self.ref_y + self.mean_dev_y


@dataclass(frozen=True)
class _Prefixes:
    """Running moments of every prefix of every row of a (blocks x window) array.

    Vectorised Welford: deviations are taken from the row's first value ``ref`` (it lies in any
    window the prefix is used for, so no large offset is ever subtracted), running means come
    from a cumulative sum of those deviations, and M2 is the cumulative sum of Welford's
    non-negative increments (x_j - mean_{j-1}) (x_j - mean_j): no cancellation between large
    running sums.
    """

    ref: np.ndarray  # (blocks, 1)
    dev: np.ndarray  # x - ref
    mean_dev: np.ndarray  # prefix mean - ref
    prev_mean_dev: np.ndarray  # the same one element earlier (0 before the first)
    m2: np.ndarray

    @classmethod
    def of(cls, blocks: np.ndarray) -> _Prefixes:
        ref = blocks[:, :1]
        dev = blocks - ref
        mean_dev = np.cumsum(dev, axis=1) / np.arange(1, blocks.shape[1] + 1, dtype=np.float64)
        prev = np.concatenate([np.zeros((len(blocks), 1)), mean_dev[:, :-1]], axis=1)
        return cls(ref, dev, mean_dev, prev, np.cumsum((dev - prev) * (dev - mean_dev), axis=1))

    def comoment(self, other: _Prefixes) -> np.ndarray:
        """Welford's running co-moment sum (x_j - mean_x,{j-1}) (y_j - mean_y,j) of two series."""
        return np.cumsum((self.dev - self.prev_mean_dev) * (other.dev - other.mean_dev), axis=1)


def _fill_gaps(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Non-finite entries replaced by the nearest earlier (else later) finite one. The windows
    that hold them are masked anyway; this only keeps block offsets small."""
    if valid.all():
        return values
    if not valid.any():
        return np.zeros(len(values))
    idx = np.where(valid, np.arange(len(values)), -1)
    np.maximum.accumulate(idx, out=idx)
    idx[idx < 0] = int(np.argmax(valid))
    return values[idx]


def _window_moments(blocks: np.ndarray) -> tuple[np.ndarray, ...]:
    """Moments of the trailing window ending at every cell of a (blocks x window) array.

    The window ending at block k, position p is the whole block when p = window - 1, else the
    suffix of block k - 1 from position p + 1 (n_a = window - 1 - p rows) followed by the prefix
    of block k up to p (n_b = p + 1 rows); block 0's partial windows are NaN. Returns ref,
    mean - ref, M2 (each blocks x window), the two parts' mean difference delta and their
    weight n_a n_b / n (for co-moments), and the prefix summaries of the blocks and of the
    reversed blocks.
    """
    n_blocks, window = blocks.shape
    pre = _Prefixes.of(blocks)
    suf = _Prefixes.of(np.ascontiguousarray(blocks[:, ::-1]))

    def suffix_from_next(values: np.ndarray) -> np.ndarray:  # suffix stats starting at p + 1
        return values[:-1, ::-1][:, 1:]

    n_b = np.arange(1, window, dtype=np.float64)
    weight = (window - n_b) * n_b / window
    ref, mean_dev, m2 = (np.full((n_blocks, window), np.nan) for _ in range(3))
    ref[:, -1], mean_dev[:, -1], m2[:, -1] = pre.ref[:, 0], pre.mean_dev[:, -1], pre.m2[:, -1]
    ref_a, md_a = suf.ref[:-1], suffix_from_next(suf.mean_dev)
    delta = (pre.ref[1:] - ref_a) + (pre.mean_dev[1:, :-1] - md_a)
    ref[1:, :-1] = ref_a
    mean_dev[1:, :-1] = md_a + delta * (n_b / window)
    m2[1:, :-1] = suffix_from_next(suf.m2) + pre.m2[1:, :-1] + delta * delta * weight
    return ref, mean_dev, np.maximum(m2, 0.0), delta, weight, pre, suf


def _rolling_moments(x: np.ndarray, y: np.ndarray | None, window: int) -> _Moments:
    """Trailing-window moments in O(n) with the accuracy of the centred two-pass formula.

    The series is cut into blocks of ``window`` rows; prefix and suffix moments of each block
    come from ``_Prefixes`` and the two parts of a window are merged (``_window_moments``) with
    Chan, Golub & LeVeque's pairwise formula
        M2 = M2_a + M2_b + delta^2 n_a n_b / n,   C = C_a + C_b + delta_x delta_y n_a n_b / n.
    Rounding error is relative to the window's own spread whatever the price level; a window of
    equal values gives exactly M2 = 0. Windows holding a non-finite value are NaN.
    """
    n = len(x)
    if n < window:
        nan = np.full(n, np.nan)
        return _Moments(nan, nan, nan, *((nan, nan, nan, nan) if y is not None else ()))
    valid = np.isfinite(x) if y is None else np.isfinite(x) & np.isfinite(y)
    n_bad = np.concatenate([[0], np.cumsum(~valid)])
    has_nan = np.zeros(n, dtype=bool)
    has_nan[window - 1:] = (n_bad[window:] - n_bad[:-window]) > 0
    n_blocks = -(-n // window)

    def blocks_of(values: np.ndarray) -> np.ndarray:
        filled = _fill_gaps(values, valid)
        padding = np.repeat(filled[-1:], n_blocks * window - n)  # never inside a returned window
        return np.concatenate([filled, padding]).reshape(n_blocks, window)

    def rows(values: np.ndarray) -> np.ndarray:
        out = values.reshape(-1)[:n]
        out[has_nan] = np.nan
        return out

    bx = blocks_of(x)
    ref_x, md_x, m2_x, delta_x, weight, pre_x, suf_x = _window_moments(bx)
    if y is None:
        return _Moments(rows(ref_x), rows(md_x), rows(m2_x))
    ref_y, md_y, m2_y, delta_y, _, pre_y, suf_y = _window_moments(blocks_of(y))
    c_xy = np.full((n_blocks, window), np.nan)
    pre_c, suf_c = pre_x.comoment(pre_y), suf_x.comoment(suf_y)
    c_xy[:, -1] = pre_c[:, -1]
    c_xy[1:, :-1] = suf_c[:-1, ::-1][:, 1:] + pre_c[1:, :-1] + delta_x * delta_y * weight
    return _Moments(rows(ref_x), rows(md_x), rows(m2_x), rows(ref_y), rows(md_y), rows(m2_y), rows(c_xy))


def rolling_mean_std(values: pd.Series | np.ndarray, window: int) -> tuple[pd.Series, pd.Series]:
    """Trailing mean and standard deviation (ddof = 1) over the last ``window`` rows including
    the current one; NaN until ``window`` rows exist and for windows holding a NaN. Same
    definition as pandas ``rolling(window).mean()/.std()``, computed without cancellation."""
    window = _check_window(window)
    moments = _rolling_moments(_as_float_array(values), None, window)
    std = np.sqrt(moments.m2_x / (window - 1))
    return _like_input(moments.mean_x, values, "mean"), _like_input(std, values, "std")


def rolling_zscore(values: pd.Series | np.ndarray, window: int) -> pd.Series:
    """(x_t - trailing mean) / trailing std (ddof = 1), both over the last ``window`` rows
    including row t. NaN with fewer than ``window`` rows, a NaN in the window, or a zero std
    (std <= ZERO_STD_RTOL * max(1, |mean|)); never infinite."""
    window = _check_window(window)
    x = _as_float_array(values)
    moments = _rolling_moments(x, None, window)
    std = np.sqrt(moments.m2_x / (window - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = ((x - moments.ref_x) - moments.mean_dev_x) / std
    z[_is_zero_std(std, moments.mean_x) | ~np.isfinite(z)] = np.nan
    return _like_input(z, values, "zscore")


def rolling_correlation(x: pd.Series | np.ndarray, y: pd.Series | np.ndarray, window: int) -> pd.Series:
    """Pearson correlation of x and y over the last ``window`` rows including the current one
    (min_periods = window). NaN with fewer rows, a NaN in the window, or either side of zero
    variance (ZERO_STD_RTOL rule). Clipped to [-1, 1] against rounding."""
    window = _check_window(window)
    xa, ya = _as_float_array(x), _as_float_array(y)
    if len(xa) != len(ya):
        raise ValueError(f"x and y differ in length ({len(xa)} != {len(ya)})")
    m = _rolling_moments(xa, ya, window)
    sx, sy = np.sqrt(m.m2_x / (window - 1)), np.sqrt(m.m2_y / (window - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.clip(m.c_xy / np.sqrt(m.m2_x * m.m2_y), -1.0, 1.0)
    corr[_is_zero_std(sx, m.mean_x) | _is_zero_std(sy, m.mean_y) | ~np.isfinite(corr)] = np.nan
    return _like_input(corr, x, "corr")

