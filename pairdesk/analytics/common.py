"""Constants, timeframes and the small input helpers every analytics module shares."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeVar

import numpy as np
import pandas as pd

TIMEFRAME_MS: dict[str, int] = {
    "1s": 1_000, "5s": 5_000, "10s": 10_000, "30s": 30_000,
    "1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000,
}


HOUR_MS = 3_600_000


SECONDS_PER_YEAR = 365 * 24 * 3600  # crypto trades every day of the year


HEDGE_METHODS = ("rolling", "expanding", "kalman", "huber", "theilsen", "ols_insample")
DEFAULT_HEDGE = "rolling"


DEFAULT_MAX_STALE_S = 60.0  # carry a close forward at most this many seconds, whatever the timeframe


DEFAULT_WINDOW_ROWS = 60  # the z-score's and the correlations' window, in bars
DEFAULT_HEDGE_WINDOW_ROWS = 300  # the causal hedge's estimation window, in bars

SPREAD_KINDS = ("price", "log", "ratio")


# A standard deviation is treated as zero (statistic -> NaN) when
# std <= ZERO_STD_RTOL * max(1, |mean|): rounding noise in a window of equal values, never real
# variation (one 0.01 tick in 60 rows of a 60 000 price has std ~1e-3, far above 6e-8).
ZERO_STD_RTOL = 1e-12


MIN_ROWS_FOR_FIT = 3  # a line and a residual degree of freedom


MIN_ROWS_FOR_TESTS = 20  # ADF, Engle-Granger, Johansen, half-life, Hurst


HEAVY_TEST_WINDOW_ROWS = 2_000  # the dashboard runs the heavy tests on the last this many aligned rows


THEILSEN_MAX_ROWS = 2_000  # Theil-Sen is O(n^2) in time and memory: above this, an even subsample


HURST_MAX_LAG = 100  # lags 2..min(HURST_MAX_LAG, n // 2)


# Backtest defaults: z thresholds and Binance spot's standard taker fee, per leg per fill.
BACKTEST_ENTRY_Z = 2.0


BACKTEST_EXIT_Z = 0.5


BACKTEST_STOP_Z = 4.0


BACKTEST_FEE_BPS = 10.0


BAR_COLUMNS = ["ts_ms", "open", "high", "low", "close", "volume", "quote_volume", "trades", "vwap"]


PANEL_COLUMNS = ["ts_ms", "price_a", "price_b", "hedge_ratio", "spread", "zscore", "corr", "alpha", "return_corr",
                 "spread_bps", "segment"]
CLI_COLUMNS = PANEL_COLUMNS[:9]  # the export CLI's columns, unchanged since its first release


Hedge = Literal["rolling", "expanding", "kalman", "huber", "theilsen", "ols_insample"]


T = TypeVar("T")


def timeframe_ms(timeframe: str) -> int:
    """Length of ``timeframe`` (one of TIMEFRAME_MS's keys) in milliseconds; ValueError otherwise."""
    try:
        return TIMEFRAME_MS[timeframe]
    except (KeyError, TypeError):
        raise ValueError(f"unknown timeframe {timeframe!r}; use one of {', '.join(TIMEFRAME_MS)}") from None


def _check_window(window: int) -> int:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 2:
        raise ValueError(f"window must be an integer >= 2 rows, got {window!r}")
    return int(window)


def _as_float_array(values: pd.Series | np.ndarray | Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _like_input(values: np.ndarray, template: object, name: str | None = None) -> pd.Series:
    """``values`` as a Series carrying ``template``'s index when it is a Series."""
    index = template.index if isinstance(template, pd.Series) else None
    return pd.Series(values, index=index, name=name)


def _is_zero_std(std: np.ndarray | float, mean: np.ndarray | float) -> np.ndarray | bool:
    """The ZERO_STD_RTOL rule: std <= ZERO_STD_RTOL * max(1, |mean|) (NaN std: False)."""
    with np.errstate(invalid="ignore"):
        return std <= ZERO_STD_RTOL * np.maximum(1.0, np.abs(mean))

