"""The one signal: for bar t, the hedge known before t, the residual of bar t, its z-score.

For every method but ``kalman`` (see ``pairdesk.analytics.kalman``), with (alpha_t, beta_t) the
causal hedge of ``pairdesk.analytics.causal_hedge`` (estimated from bars up to t-1):

    spread_t = a_t - alpha_t - beta_t * b_t          the residual, intercept included
    zscore_t = (spread_t - mean_w) / std_w           mean and std (ddof 1) of the residuals of the
                                                     SAME (alpha_t, beta_t) over the ``window`` bars
                                                     ending at t: a_j - alpha_t - beta_t * b_j

so z measures mispricing against one fixed hedge, not the drift of beta. Since alpha cancels,
zscore_t = ((a_t - mean(a)) - beta_t (b_t - mean(b))) / sqrt(var(a) + beta_t^2 var(b) - 2 beta_t cov(a, b))
over that window: O(n) from the exact rolling moments. Every number of row t depends on bars up
to t only; appending bars never changes it. Windows never reach across a segment boundary (a hole
in the data longer than ``max_stale``): each segment starts afresh.
"""
from __future__ import annotations

import numpy as np

from pairdesk.analytics.causal_hedge import expanding_hedge, robust_hedge, robust_refit_every, rolling_hedge
from pairdesk.analytics.common import _is_zero_std
from pairdesk.analytics.kalman import kalman_signal
from pairdesk.analytics.rolling import _rolling_moments, rolling_correlation

CAUSAL_HEDGES = ("rolling", "expanding", "kalman", "huber", "theilsen")
INSAMPLE_HEDGES = ("ols_insample",)
INSAMPLE_LABEL = "in-sample: uses future bars"


HEDGE_NAMES = {"rolling": "rolling OLS", "expanding": "expanding OLS", "kalman": "Kalman", "huber": "Huber",
               "theilsen": "Theil-Sen", "ols_insample": "OLS"}


def is_causal(hedge: str) -> bool:
    """False for a hedge fitted on the whole sample (it may only be shown labelled INSAMPLE_LABEL)."""
    return hedge not in INSAMPLE_HEDGES


def hedge_label(hedge: str) -> str:
    """How a hedge is named on a chart, a card or an alert: the in-sample one says so."""
    name = HEDGE_NAMES.get(hedge, hedge)
    return name if is_causal(hedge) else f"{name} ({INSAMPLE_LABEL})"


def warmup_rows(hedge: str, window: int, hedge_window: int) -> int | None:
    """Rows of a segment before row t that row t's values depend on, for the hedges whose memory is a
    window (rolling, huber, theilsen): the hedge window, the robust refit block and the z window.
    None for the hedges that remember their whole segment (expanding, kalman) or sample (ols_insample)."""
    if hedge not in ("rolling", "huber", "theilsen"):
        return None
    return hedge_window + robust_refit_every(hedge_window) + window


def causal_hedge(a: np.ndarray, b: np.ndarray, hedge: str, hedge_window: int,
                 bar_index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, beta) per row of one segment for a non-Kalman ``hedge`` (``bar_index``: each row's bar
    number on the clock, which schedules the robust refits; default the row number)."""
    if hedge == "rolling":
        return rolling_hedge(a, b, hedge_window)
    if hedge == "expanding":
        return expanding_hedge(a, b, hedge_window)
    if hedge in ("huber", "theilsen"):
        return robust_hedge(hedge, a, b, hedge_window, bar_index)
    raise ValueError(f"{hedge!r} is not a causal hedge; use one of {', '.join(CAUSAL_HEDGES)}")


def residual_zscore(a: np.ndarray, b: np.ndarray, beta: np.ndarray, window: int) -> np.ndarray:
    """z of each row's residual against the residuals of the same beta over the ``window`` rows
    ending at it (see the module docstring). NaN until the window is full, where beta is NaN, and
    where the window's residuals do not vary."""
    m = _rolling_moments(b, a, window)  # x = b, y = a
    dev_a = (a - m.ref_y) - m.mean_dev_y
    dev_b = (b - m.ref_x) - m.mean_dev_x
    with np.errstate(invalid="ignore"):
        var = (m.m2_y + beta * beta * m.m2_x - 2.0 * beta * m.c_xy) / (window - 1)
        std = np.sqrt(np.maximum(var, 0.0))
        z = (dev_a - beta * dev_b) / std
    scale = np.sqrt(np.maximum(m.m2_y, 0.0) / (window - 1))  # residuals this small are rounding
    z[~np.isfinite(z) | _is_zero_std(std, scale) | ~(var > 0)] = np.nan
    return z


def residual_signal(a: np.ndarray, b: np.ndarray, alpha: np.ndarray, beta: np.ndarray,
                    window: int) -> dict[str, np.ndarray]:
    """alpha, beta, the residual spread and its z for given per-row hedges (one segment)."""
    with np.errstate(invalid="ignore"):
        spread = a - alpha - beta * b
    zscore = residual_zscore(a, b, beta, window) if len(a) >= window else np.full(len(a), np.nan)
    return {"alpha": alpha, "beta": beta, "spread": spread, "zscore": zscore}


def segment_signal(a: np.ndarray, b: np.ndarray, hedge: str, window: int, hedge_window: int,
                   bar_index: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """alpha, beta, spread and zscore of one contiguous segment for a causal ``hedge``."""
    if hedge == "kalman":
        fit = kalman_signal(a, b, hedge_window)
        return {"alpha": fit["alpha"], "beta": fit["beta"], "spread": fit["spread"], "zscore": fit["zscore"]}
    return residual_signal(a, b, *causal_hedge(a, b, hedge, hedge_window, bar_index), window)


def segment_correlations(a: np.ndarray, b: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling correlation of the price levels and of the log returns within one segment."""
    if len(a) < window:
        nan = np.full(len(a), np.nan)
        return nan, nan.copy()
    corr = rolling_correlation(a, b, window).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        ret_a = np.concatenate([[np.nan], np.diff(np.log(a))])
        ret_b = np.concatenate([[np.nan], np.diff(np.log(b))])
    return corr, rolling_correlation(ret_a, ret_b, window).to_numpy()
