"""Per-symbol summary statistics, the correlation matrix and hourly pair summaries."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from pairdesk.analytics.bars import _as_of, align_closes, log_returns, segment_ids
from pairdesk.analytics.common import DEFAULT_MAX_STALE_S, HOUR_MS, SECONDS_PER_YEAR, timeframe_ms


def annualisation_factor(timeframe: str) -> float:
    """sqrt(bars per year) = sqrt(SECONDS_PER_YEAR / bar seconds); 365-day year."""
    return math.sqrt(SECONDS_PER_YEAR / (timeframe_ms(timeframe) / 1000))


@dataclass(frozen=True)
class SymbolSummary:
    """One symbol's bars summarised. Prices in quote currency; NaN when there are no bars (or,
    for std and volatility, too few)."""

    bars: int
    last: float
    mean: float  # of closes
    std: float  # of closes, ddof = 1
    min: float  # lowest trade (min of lows)
    max: float  # highest trade (max of highs)
    annualised_volatility: float  # std of grid log returns (ddof = 1) * sqrt(bars per year)
    vwap: float  # sum(quote_volume) / sum(volume)
    volume: float  # base units
    trades: int


def symbol_summary(bars: pd.DataFrame, timeframe: str) -> SymbolSummary:
    """Summary of one symbol's bars at ``timeframe``.

    Volatility uses log returns of the close carried forward on the regular grid within each
    contiguous segment (``segment_ids``: a hole longer than DEFAULT_MAX_STALE_S starts a new one),
    so a quiet bar inside a segment is a zero return, per calendar bar, and no return reaches
    across a hole.
    """
    tf_ms = timeframe_ms(timeframe)
    if len(bars) == 0:
        return SymbolSummary(0, *([math.nan] * 7), volume=0.0, trades=0)
    bars = bars.sort_values("ts_ms", kind="stable")
    close = bars["close"].to_numpy(np.float64)
    ts = bars["ts_ms"].to_numpy(np.int64)
    segments = segment_ids(ts, timeframe, DEFAULT_MAX_STALE_S)
    bounds = np.flatnonzero(np.diff(segments, prepend=-1, append=-1))
    returns = np.concatenate([
        log_returns(_as_of(ts[i:j], close[i:j], np.arange(ts[i], ts[j - 1] + 1, tf_ms, dtype=np.int64), math.inf))
        .to_numpy()[1:] for i, j in zip(bounds[:-1], bounds[1:])])
    vol = float(np.std(returns, ddof=1)) * annualisation_factor(timeframe) if len(returns) > 1 else math.nan
    volume = float(bars["volume"].sum())
    return SymbolSummary(
        bars=len(bars), last=float(close[-1]), mean=float(close.mean()),
        std=float(np.std(close, ddof=1)) if len(close) > 1 else math.nan,
        min=float(bars["low"].min()), max=float(bars["high"].max()), annualised_volatility=vol,
        vwap=float(bars["quote_volume"].sum()) / volume if volume > 0 else math.nan,
        volume=volume, trades=int(bars["trades"].sum()),
    )


def summary_table(bars_by_symbol: Mapping[str, pd.DataFrame], timeframe: str) -> pd.DataFrame:
    """``symbol_summary`` of every symbol, one row each, indexed by symbol."""
    rows = {symbol: vars(symbol_summary(bars, timeframe)) for symbol, bars in bars_by_symbol.items()}
    return pd.DataFrame.from_dict(rows, orient="index")


def correlation_matrix(bars_by_symbol: Mapping[str, pd.DataFrame], timeframe: str,
                       max_stale: float = DEFAULT_MAX_STALE_S,
                       of: Literal["returns", "prices"] = "returns") -> pd.DataFrame:
    """Pearson correlation matrix across symbols of their aligned closes (``of="prices"``) or of
    the log returns of those closes (``of="returns"``, never across a hole longer than
    ``max_stale`` seconds), over all aligned rows. Bars at ``timeframe``. NaN for a symbol
    without variance."""
    if of not in ("returns", "prices"):
        raise ValueError(f"of must be 'returns' or 'prices', got {of!r}")
    aligned = align_closes(bars_by_symbol, timeframe, max_stale)
    new_segment = segment_ids(aligned["ts_ms"].to_numpy(), timeframe, max_stale)
    aligned = aligned.drop(columns="ts_ms")
    if of == "returns":
        aligned = aligned.apply(log_returns)
        aligned[np.diff(new_segment, prepend=-1) != 0] = np.nan
    return aligned.corr()


def hourly_summary(panel: pd.DataFrame) -> pd.DataFrame:
    """Per UTC hour of a ``pair_panel``: one row per hour_start_ms (= floor(ts_ms / 3 600 000)
    * 3 600 000) with rows and, for price_a and price_b, first / last / min / max / mean / std;
    spread mean and std; zscore mean and max; corr mean / min / max. std has ddof = 1;
    statistics skip NaN (an hour whose z-scores are all NaN has NaN z statistics)."""
    hour = (panel["ts_ms"].to_numpy(np.int64) // HOUR_MS) * HOUR_MS
    price_stats = ["first", "last", "min", "max", "mean", "std"]
    spec = {"rows": ("ts_ms", "size")}
    for price in ("price_a", "price_b"):
        spec |= {f"{price}_{stat}": (price, stat) for stat in price_stats}
    spec |= {"spread_mean": ("spread", "mean"), "spread_std": ("spread", "std"),
             "zscore_mean": ("zscore", "mean"), "zscore_max": ("zscore", "max"),
             "corr_mean": ("corr", "mean"), "corr_min": ("corr", "min"), "corr_max": ("corr", "max")}
    out = panel.groupby(pd.Series(hour, index=panel.index, name="hour_start_ms")).agg(**spec)
    return out.reset_index()

