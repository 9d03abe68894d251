"""The pair panel: the one table every view of a pair uses, one row per aligned bar.

The live cards and charts, the alerts, ``GET /api/spread`` and its CSV, the export CLI, the hourly
summaries and the backtest all call ``pair_panel``; one bar has one z everywhere.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pairdesk.analytics.bars import align_pair, resample_bars
from pairdesk.analytics.causal_hedge import insample_hedge
from pairdesk.analytics.common import (
    DEFAULT_HEDGE,
    DEFAULT_HEDGE_WINDOW_ROWS,
    DEFAULT_MAX_STALE_S,
    DEFAULT_WINDOW_ROWS,
    HEDGE_METHODS,
    PANEL_COLUMNS,
    SPREAD_KINDS,
    Hedge,
    _check_window,
    timeframe_ms,
)
from pairdesk.analytics.rolling import rolling_zscore
from pairdesk.analytics.signal import residual_signal, segment_correlations, segment_signal, warmup_rows


def _legs(a: np.ndarray, b: np.ndarray, spread_kind: str) -> tuple[np.ndarray, np.ndarray]:
    """The two series the hedge regresses: prices, or log prices."""
    if spread_kind == "log":
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.log(a), np.log(b)
    return a, b


def _ratio_signal(a: np.ndarray, b: np.ndarray, window: int) -> dict[str, np.ndarray]:
    """The ratio spread a / b with its trailing z (no hedge: alpha and beta are NaN)."""
    ratio = a / b
    z = rolling_zscore(ratio, window).to_numpy() if len(a) >= window else np.full(len(a), np.nan)
    nan = np.full(len(a), np.nan)
    return {"alpha": nan, "beta": nan.copy(), "spread": ratio, "zscore": z}


def _spread_bps(spread: np.ndarray, a: np.ndarray, spread_kind: str, window: int) -> np.ndarray:
    """The spread in basis points of leg A: price spread / a; a log spread is already relative;
    a ratio spread against its trailing mean."""
    if spread_kind == "price":
        return spread / a * 1e4
    if spread_kind == "log":
        return spread * 1e4
    mean = pd.Series(spread).rolling(window).mean().to_numpy()
    return (spread / mean - 1.0) * 1e4


def pair_panel(bars_a: pd.DataFrame, bars_b: pd.DataFrame, timeframe: str = "1s",
               window: int = DEFAULT_WINDOW_ROWS, hedge: Hedge = DEFAULT_HEDGE,
               max_stale: float = DEFAULT_MAX_STALE_S, *, hedge_window: int = DEFAULT_HEDGE_WINDOW_ROWS,
               spread_kind: str = "price") -> pd.DataFrame:
    """The pair table, causal: row t depends on bars up to t only and never changes later.

    ``bars_a``/``bars_b``: bars whose length divides ``timeframe`` (the store's one-second bars).
    They are resampled to ``timeframe`` and aligned in time (``align_pair``: a close is carried at
    most ``max_stale`` seconds; bars where neither leg traded are dropped; a hole longer than that
    starts a new ``segment``, and every window restarts there). ``hedge`` (HEDGE_METHODS, see
    ``pairdesk.analytics.signal``) is estimated on ``hedge_window`` bars; the z-score and the
    correlations use ``window`` bars. ``spread_kind``: ``price`` (a on b), ``log`` (ln a on ln b)
    or ``ratio`` (a / b, no hedge). Columns PANEL_COLUMNS:
      ts_ms         bar start, UTC ms
      price_a/b     aligned closes
      hedge_ratio   beta_t, estimated from bars up to t-1 (whole sample for ols_insample)
      alpha         alpha_t, the intercept of the same fit
      spread        the residual a_t - alpha_t - beta_t * b_t (in log units for ``log``)
      zscore        the residual against the same hedge's residuals over the window ending at t
      corr          rolling correlation of the price levels, ``window`` bars
      return_corr   rolling correlation of the log returns, ``window`` bars
      spread_bps    the spread in basis points of leg A
      segment       the contiguous stretch of data the row belongs to (0, 1, ...)
    """
    window = _check_window(window)
    hedge_window = _check_window(hedge_window)
    if hedge not in HEDGE_METHODS:
        raise ValueError(f"unknown hedge {hedge!r}; use one of {', '.join(HEDGE_METHODS)}")
    if spread_kind not in SPREAD_KINDS:
        raise ValueError(f"unknown spread kind {spread_kind!r}; use one of {', '.join(SPREAD_KINDS)}")
    panel = align_pair(resample_bars(bars_a, timeframe), resample_bars(bars_b, timeframe), timeframe, max_stale)
    a, b = panel["price_a"].to_numpy(), panel["price_b"].to_numpy()
    bar_index = panel["ts_ms"].to_numpy(np.int64) // timeframe_ms(timeframe)
    columns = {name: np.full(len(panel), np.nan) for name in ("alpha", "beta", "spread", "zscore", "corr",
                                                                  "return_corr")}
    bounds = np.flatnonzero(np.diff(panel["segment"].to_numpy(), prepend=-1, append=-1))
    insample = insample_hedge(*_legs(a, b, spread_kind)) if hedge == "ols_insample" else None  # all rows, by definition
    for start, stop in zip(bounds[:-1], bounds[1:]):
        seg_a, seg_b = a[start:stop], b[start:stop]
        legs = _legs(seg_a, seg_b, spread_kind)
        if spread_kind == "ratio":
            signal = _ratio_signal(seg_a, seg_b, window)
        elif insample is not None:
            signal = residual_signal(*legs, insample[0][start:stop], insample[1][start:stop], window)
        else:
            signal = segment_signal(*legs, hedge, window, hedge_window, bar_index[start:stop])
        corr, return_corr = segment_correlations(seg_a, seg_b, window)
        for name, values in (*signal.items(), ("corr", corr), ("return_corr", return_corr)):
            columns[name][start:stop] = values
    panel["hedge_ratio"] = columns["beta"]
    panel["alpha"] = columns["alpha"]
    panel["spread"] = columns["spread"]
    panel["zscore"] = columns["zscore"]
    panel["corr"] = columns["corr"]
    panel["return_corr"] = columns["return_corr"]
    panel["spread_bps"] = _spread_bps(columns["spread"], a, spread_kind, window)
    return panel[PANEL_COLUMNS]


def pair_panel_since(bars_a: pd.DataFrame, bars_b: pd.DataFrame, since_ms: int, timeframe: str = "1s",
                     window: int = DEFAULT_WINDOW_ROWS, hedge: Hedge = DEFAULT_HEDGE,
                     max_stale: float = DEFAULT_MAX_STALE_S, *, hedge_window: int = DEFAULT_HEDGE_WINDOW_ROWS,
                     spread_kind: str = "price") -> pd.DataFrame:
    """``pair_panel(...)`` rows with ts_ms >= since_ms, computing only what they depend on: the same
    rows, segments and NaNs, values equal to rounding (the exact rolling moments work in blocks
    counted from the first row read).

    For the hedges with a windowed memory (``warmup_rows``) only the bars from ``warmup_rows`` aligned
    rows before ``since_ms`` (plus ``max_stale`` of carry) are used: a live chart after months of data
    costs what its lookback costs. Segment numbers stay those of the whole computation. Other hedges,
    and the ratio spread's trailing mean, fall back to the whole computation."""
    def whole() -> pd.DataFrame:
        panel = pair_panel(bars_a, bars_b, timeframe, window, hedge, max_stale, hedge_window=hedge_window,
                           spread_kind=spread_kind)
        return panel[panel["ts_ms"] >= since_ms].reset_index(drop=True)

    warmup = warmup_rows(hedge, window, hedge_window) if spread_kind != "ratio" else None
    if warmup is None:
        return whole()
    aligned = align_pair(resample_bars(bars_a, timeframe), resample_bars(bars_b, timeframe), timeframe, max_stale)
    first = int(aligned["ts_ms"].searchsorted(since_ms))
    cut_row = first - warmup
    if cut_row <= 0:
        return whole()
    cut_ms = int(aligned["ts_ms"].iloc[cut_row]) - int(max_stale * 1000) - timeframe_ms(timeframe)
    parts = [frame.iloc[int(frame["ts_ms"].searchsorted(cut_ms)):] for frame in (bars_a, bars_b)]
    panel = pair_panel(*parts, timeframe, window, hedge, max_stale, hedge_window=hedge_window, spread_kind=spread_kind)
    panel = panel[panel["ts_ms"] >= since_ms].reset_index(drop=True)
    if len(panel):  # number the segments as the whole computation does
        whole_segment = int(aligned["segment"].iloc[first])
        panel["segment"] = panel["segment"] - int(panel["segment"].iloc[0]) + whole_segment
    return panel
