"""The value series of each rule kind, from one-second bars (pandas), through ``pairdesk.analytics``.

The value of a rule at bar t (labelled by its start, UTC ms) is computed from the rule's bars up
to and including bar t, never later ones, on the dashboard's grid: closes resampled to the
timeframe and aligned in time (``analytics.align_pair``: a close is carried forward at most
``analytics.DEFAULT_MAX_STALE_S`` seconds). A bar in which none of the rule's symbols traded has
no value. Per kind (``pairdesk.alerts.kinds`` lists every parameter and its default):

- ``zscore`` / ``zscore_extreme``: the z-score of ``analytics.pair_panel`` at bar t, the one
  signal of the chart, the API and the CLI (the rule's hedge estimated on the ``lookback`` bars
  before t, z over ``window`` bars): with the chart's settings, an alert's value IS the chart's z.
- ``price_cross``: the bar's close.
- ``correlation_breakdown``: rolling correlation over the last ``window`` aligned bars, of log
  returns (default) or prices; undefined unless those bars are consecutive.
- ``volume_spike``: the bar's volume / the mean volume of the ``window`` bars before it (a bar
  without trades counts as volume 0).
- ``volatility_spike``: std of log returns over ``window`` bars / the same over ``long_window``.
- ``stationarity_loss``: ADF p-value of the causal spread (``pair_panel``, hedge estimated on the
  ``hedge_window`` bars before each bar) over the last ``window`` aligned bars, computed on the
  first traded bar of every block of ``every`` bars (ADF costs milliseconds).

Every function here has the signature of ``ValueFunction``: the rule, one-second bars per symbol,
and the first and last bar (starts, at the rule's timeframe) whose values are wanted.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pairdesk import analytics
from pairdesk.alerts.rules import AlertRule


@dataclass(frozen=True)
class Observation:
    """A rule's value at one bar (``ts_ms``: bar start, UTC ms); NaN when undefined there."""

    ts_ms: int
    value: float


BarsBySymbol = Mapping[str, pd.DataFrame]
ValueFunction = Callable[[AlertRule, BarsBySymbol, int, int], list[Observation]]


# --------------------------------------------------------------------------- shared steps


def _resampled(bars: BarsBySymbol, symbol: str, timeframe: str) -> pd.DataFrame:
    frame = bars.get(symbol)
    if frame is None or len(frame) == 0:
        return analytics.resample_bars(pd.DataFrame(columns=analytics.BAR_COLUMNS[:-1]), timeframe)
    return analytics.resample_bars(frame, timeframe)


def _targets(ts: np.ndarray, traded: np.ndarray, first_bar_ms: int, last_bar_ms: int) -> np.ndarray:
    """Row indexes of bars first..last in which a rule symbol traded."""
    return np.flatnonzero((ts >= first_bar_ms) & (ts <= last_bar_ms) & np.isin(ts, traded))


def _at_targets(ts: np.ndarray, values: np.ndarray, traded: np.ndarray, first_bar_ms: int, last_bar_ms: int
                ) -> list[Observation]:
    """The observations of ``values`` (one per row of ``ts``) at the traded bars first..last."""
    return [Observation(int(ts[i]), float(values[i])) for i in _targets(ts, traded, first_bar_ms, last_bar_ms)]


def _pair(rule: AlertRule, bars: BarsBySymbol) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ts, price_a, price_b, traded bar starts) on the aligned grid of the rule's pair."""
    res_a, res_b = (_resampled(bars, s, rule.timeframe) for s in rule.symbols)
    aligned = analytics.align_pair(res_a, res_b, rule.timeframe)
    traded = np.union1d(res_a["ts_ms"].to_numpy(np.int64), res_b["ts_ms"].to_numpy(np.int64))
    return (aligned["ts_ms"].to_numpy(np.int64), aligned["price_a"].to_numpy(np.float64),
            aligned["price_b"].to_numpy(np.float64), traded)


def _consecutive(ts: np.ndarray, span: int, tf: int) -> np.ndarray:
    """Per row i: rows i-span..i exist and are consecutive bars."""
    ok = np.zeros(len(ts), dtype=bool)
    if span < len(ts):
        ok[span:] = ts[span:] - ts[:-span] == span * tf if span else True
    return ok


def _gapless_returns(ts: np.ndarray, prices: np.ndarray, tf: int) -> np.ndarray:
    """Log returns between consecutive bars; NaN across a hole in the grid."""
    returns = analytics.log_returns(prices).to_numpy(copy=True)
    returns[1:][np.diff(ts) != tf] = np.nan
    return returns


def _pair_panel(rule: AlertRule, bars: BarsBySymbol, hedge_window: int) -> pd.DataFrame:
    """``analytics.pair_panel`` of the rule's pair on the bars read, with the rule's settings."""
    a, b = (bars.get(s) for s in rule.symbols)
    if a is None or b is None or len(a) == 0 or len(b) == 0:
        return analytics.pair_panel(*(pd.DataFrame(columns=analytics.BAR_COLUMNS[:-1]),) * 2, rule.timeframe,
                                    rule.window, rule.hedge, hedge_window=hedge_window)
    return analytics.pair_panel(a, b, rule.timeframe, rule.window, rule.hedge, hedge_window=hedge_window)


# --------------------------------------------------------------------------- one function per kind


def zscore_values(rule: AlertRule, bars: BarsBySymbol, first_bar_ms: int, last_bar_ms: int) -> list[Observation]:
    """The pair panel's z at each aligned bar first..last (the chart's z with the same settings)."""
    panel = _pair_panel(rule, bars, rule.params["lookback"])
    ts = panel["ts_ms"].to_numpy(np.int64)
    return _at_targets(ts, panel["zscore"].to_numpy(np.float64), ts, first_bar_ms, last_bar_ms)


def price_values(rule: AlertRule, bars: BarsBySymbol, first_bar_ms: int, last_bar_ms: int) -> list[Observation]:
    """The close of each bar of the rule's symbol."""
    res = _resampled(bars, rule.symbols[0], rule.timeframe)
    ts = res["ts_ms"].to_numpy(np.int64)
    return _at_targets(ts, res["close"].to_numpy(np.float64), ts, first_bar_ms, last_bar_ms)


def correlation_values(rule: AlertRule, bars: BarsBySymbol, first_bar_ms: int, last_bar_ms: int
                       ) -> list[Observation]:
    """Rolling correlation over ``window`` consecutive aligned bars, of log returns or of prices."""
    ts, a, b, traded = _pair(rule, bars)
    tf = rule.timeframe_ms
    if rule.params["returns"]:
        corr = analytics.rolling_correlation(_gapless_returns(ts, a, tf), _gapless_returns(ts, b, tf), rule.window)
        corr = corr.to_numpy(copy=True)
    else:
        corr = analytics.rolling_correlation(a, b, rule.window).to_numpy(copy=True)
        corr[~_consecutive(ts, rule.window - 1, tf)] = np.nan
    return _at_targets(ts, corr, traded, first_bar_ms, last_bar_ms)


def volume_values(rule: AlertRule, bars: BarsBySymbol, first_bar_ms: int, last_bar_ms: int) -> list[Observation]:
    """Each bar's volume over the mean volume of the ``window`` bars before it (quiet bars: volume 0)."""
    res = _resampled(bars, rule.symbols[0], rule.timeframe)
    if len(res) == 0:
        return []
    tf = rule.timeframe_ms
    ts = res["ts_ms"].to_numpy(np.int64)
    volume = np.zeros((ts[-1] - ts[0]) // tf + 1)
    rows = (ts - ts[0]) // tf
    volume[rows] = res["volume"].to_numpy(np.float64)  # a bar without trades: volume 0
    mean, _ = analytics.rolling_mean_std(volume, rule.window)
    before = np.r_[np.nan, mean.to_numpy()[:-1]]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(before > 0, volume / before, np.nan)
    return _at_targets(ts, ratio[rows], ts, first_bar_ms, last_bar_ms)


def volatility_values(rule: AlertRule, bars: BarsBySymbol, first_bar_ms: int, last_bar_ms: int
                      ) -> list[Observation]:
    """Std of log returns over ``window`` bars over the same over ``long_window`` bars."""
    res = _resampled(bars, rule.symbols[0], rule.timeframe)
    grid = analytics.align_closes({"close": res}, rule.timeframe)
    ts, close = grid["ts_ms"].to_numpy(np.int64), grid["close"].to_numpy(np.float64)
    returns = _gapless_returns(ts, close, rule.timeframe_ms)
    _, short = analytics.rolling_mean_std(returns, rule.window)
    _, long = analytics.rolling_mean_std(returns, rule.params["long_window"])
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = short.to_numpy() / long.to_numpy()
    ratio[~np.isfinite(ratio)] = np.nan
    return _at_targets(ts, ratio, res["ts_ms"].to_numpy(np.int64), first_bar_ms, last_bar_ms)


def stationarity_values(rule: AlertRule, bars: BarsBySymbol, first_bar_ms: int, last_bar_ms: int
                        ) -> list[Observation]:
    """ADF p-value of the causal spread over the last ``window`` bars, on the first traded bar of each
    block of ``every`` bars within first..last (a caller resuming mid-block starts at the next block)."""
    panel = _pair_panel(rule, bars, rule.params["hedge_window"])
    ts, spread = panel["ts_ms"].to_numpy(np.int64), panel["spread"].to_numpy(np.float64)
    tf, block_ms = rule.timeframe_ms, rule.params["every"] * rule.timeframe_ms
    out, last_block = [], None
    for i in _targets(ts, ts, first_bar_ms, last_bar_ms):
        block = int(ts[i] // block_ms)
        if block == last_block:
            continue
        last_block = block
        lo = int(np.searchsorted(ts, ts[i] - (rule.window - 1) * tf))
        out.append(Observation(int(ts[i]), float(analytics.adf_test(spread[lo:i + 1]).pvalue)))
    return out
