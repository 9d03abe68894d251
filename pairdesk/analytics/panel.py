"""The pair panel: aligned prices, hedge ratio, spread, z-score and correlations, one row per bar."""
from __future__ import annotations

import numpy as np
import pandas as pd

from pairdesk.analytics.bars import align_pair, log_returns, resample_bars
from pairdesk.analytics.common import (
    DEFAULT_MAX_STALE_STEPS,
    DEFAULT_WINDOW_ROWS,
    HEDGE_METHODS,
    KALMAN_DELTA,
    KALMAN_OBSERVATION_VAR,
    PANEL_COLUMNS,
    Hedge,
    _check_window,
)
from pairdesk.analytics.hedges import (
    hedge_ratio_huber,
    hedge_ratio_ols,
    hedge_ratio_theilsen,
    kalman_hedge,
    rolling_ols,
    spread_series,
)
from pairdesk.analytics.rolling import rolling_correlation, rolling_zscore


def _hedge_columns(a: np.ndarray, b: np.ndarray, hedge: str, window: int, kalman_delta: float,
                   kalman_observation_var: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-row (hedge_ratio, alpha) for ``hedge`` (one of HEDGE_METHODS)."""
    n = len(a)
    if hedge == "rolling":
        fit = rolling_ols(a, b, window)
        return fit["beta"].to_numpy(), fit["alpha"].to_numpy()
    if hedge == "kalman":
        fit = kalman_hedge(a, b, kalman_delta, kalman_observation_var)
        return fit["beta"].to_numpy(), fit["alpha"].to_numpy()
    static_fit = {"ols": hedge_ratio_ols, "huber": hedge_ratio_huber, "theilsen": hedge_ratio_theilsen}[hedge]
    fit = static_fit(a, b)
    return np.full(n, fit.beta), np.full(n, fit.alpha)


def pair_panel(bars_a: pd.DataFrame, bars_b: pd.DataFrame, timeframe: str = "1s",
               window: int = DEFAULT_WINDOW_ROWS, hedge: Hedge = "ols",
               max_stale: int = DEFAULT_MAX_STALE_STEPS, *, kalman_delta: float = KALMAN_DELTA,
               kalman_observation_var: float = KALMAN_OBSERVATION_VAR) -> pd.DataFrame:
    """The per-refresh pair table the dashboard, the API and the CLI all use.

    ``bars_a``/``bars_b``: bars whose length divides ``timeframe`` (tickstore's 1-second bars).
    They are resampled to ``timeframe`` and aligned (``align_pair``, ``max_stale`` steps). One
    row per aligned bar, columns PANEL_COLUMNS:
      ts_ms         bar start, UTC ms
      price_a/b     aligned closes
      hedge_ratio   beta: one static fit over all rows (ols, huber, theilsen, repeated), the
                    trailing-window OLS beta (rolling) or the filtered Kalman beta (kalman)
      spread        price_a - hedge_ratio * price_b
      zscore        rolling_zscore(spread, window)
      corr          rolling_correlation(price_a, price_b, window)
      alpha         the intercept paired with hedge_ratio (not part of the spread)
      return_corr   rolling_correlation of the two log-return series, same window
    """
    window = _check_window(window)
    if hedge not in HEDGE_METHODS:
        raise ValueError(f"unknown hedge {hedge!r}; use one of {', '.join(HEDGE_METHODS)}")
    panel = align_pair(resample_bars(bars_a, timeframe), resample_bars(bars_b, timeframe), timeframe, max_stale)
    a, b = panel["price_a"].to_numpy(), panel["price_b"].to_numpy()
    beta, alpha = _hedge_columns(a, b, hedge, window, kalman_delta, kalman_observation_var)
    spread = spread_series(a, b, beta).to_numpy()
    panel["hedge_ratio"] = beta
    panel["spread"] = spread
    panel["zscore"] = rolling_zscore(spread, window).to_numpy()
    panel["corr"] = rolling_correlation(a, b, window).to_numpy()
    panel["alpha"] = alpha
    panel["return_corr"] = rolling_correlation(log_returns(a), log_returns(b), window).to_numpy()
    return panel[PANEL_COLUMNS]

