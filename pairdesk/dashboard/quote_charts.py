"""Figure builders of the quote panels: the quoted spread and the pair's cost over time, and the
funding rates of USD-M perpetuals (DataFrame in, ``go.Figure`` out, like ``charts``)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pairdesk import analytics
from pairdesk.dashboard.charts import (
    BAND_COLOR,
    EQUITY_COLOR,
    HEDGE_COLOR,
    _figure,
    _has_values,
    _line,
    _no_data,
    _on,
    _shade_holes,
    display_times,
    shade_quote_gaps,
    with_breaks,
)
from pairdesk.quote_data import FundingState

PERCENT = 100.0
COST_LINES = (("long_cost_bps", "long entry", EQUITY_COLOR), ("short_cost_bps", "short entry", BAND_COLOR))


def quoted_spread_figure(quote_bars: Mapping[str, pd.DataFrame], costs: pd.DataFrame, panel: pd.DataFrame,
                         pair: Sequence[str], tz: str, colors: Mapping[str, str], notional_text: str,
                         bar_ms: int = 1000, quote_gaps: pd.DataFrame | None = None) -> go.Figure:
    """Each leg's quoted spread in bps over time (the bar's mean, solid, and its largest spread, dotted,
    in bps of the mid at the close), the pair's executable spread of entering long / short at the touch
    and its round trip with fees (``quote_data.pair_cost_rows`` on the panel rows, for ``notional_text``),
    all in bps. Lines break inside quote gaps (no book) and at holes between the panel's segments."""
    fig = _figure(f"Quoted spread & pair cost · {notional_text}", tz, height=620, rows=3, row_heights=(0.4, 0.3, 0.3))
    if not any(len(bars) and _has_values(bars["mean_spread_bps"]) for bars in quote_bars.values()):
        return _no_data(fig, "no quotes in this window")
    for symbol in pair:
        bars = quote_bars.get(symbol)
        if bars is None or len(bars) == 0:
            continue
        x = display_times(bars["ts_ms"], tz)
        max_bps = analytics.spread_bps(bars["max_spread"], bars["bid"], bars["ask"])
        fig.add_trace(_line(x, bars["mean_spread_bps"], f"{symbol} mean", colors[symbol],
                            hovertemplate="%{y:.4f} bps"))
        fig.add_trace(_line(x, max_bps, f"{symbol} max", colors[symbol], dash="dot", width=1.0,
                            hovertemplate="%{y:.4f} bps"))
    if len(costs) and len(panel) == len(costs):
        drawn = with_breaks(costs.drop(columns=["long_exceeds_touch", "short_exceeds_touch"])
                            .assign(segment=panel["segment"].to_numpy()))
        x = display_times(drawn["ts_ms"], tz)
        for column, name, color in COST_LINES:
            fig.add_trace(_on(_line(x, drawn[column], name, color, hovertemplate="%{y:.4f} bps"), row=2))
        fig.add_trace(_on(_line(x, drawn["round_trip_bps"], "round trip (fees incl.)", HEDGE_COLOR,
                                hovertemplate="%{y:.3f} bps"), row=3))
        _shade_holes(fig, panel, tz, bar_ms)
    fig.update_layout(yaxis_title_text="quoted spread (bps)", yaxis2_title_text="executable (bps)",
                      yaxis3_title_text="round trip (bps)")
    shade_quote_gaps(fig, quote_gaps, tz, bar_ms)
    _from_first_quote(fig, quote_bars, panel, tz, bar_ms)
    return fig


def _from_first_quote(fig: go.Figure, quote_bars: Mapping[str, pd.DataFrame], panel: pd.DataFrame, tz: str,
                      bar_ms: int) -> None:
    """When quotes start inside the window (a new database: the trades' history is fetched from REST,
    quotes cannot be), the time axis starts at the first quote, saying so, instead of an empty plot."""
    firsts = [int(bars["ts_ms"][bars["mean_spread_bps"].notna()].iloc[0]) for bars in quote_bars.values()
              if len(bars) and bars["mean_spread_bps"].notna().any()]
    if not firsts or not len(panel) or min(firsts) <= int(panel["ts_ms"].iloc[0]) + bar_ms:
        return
    start, end = min(firsts), int(panel["ts_ms"].iloc[-1]) + bar_ms
    x0, x1 = display_times(pd.Series([start, end]), tz)
    fig.update_xaxes(range=[x0, x1])
    fig.add_annotation(text="quotes from here on: top of book is recorded live, it cannot be fetched back",
                       xref="paper", yref="paper", x=0, y=1.0, xanchor="left", yanchor="bottom", showarrow=False,
                       font=dict(size=11, color="#9CA3AF"))


def funding_figure(states: Mapping[str, FundingState], tz: str, colors: Mapping[str, str]) -> go.Figure:
    """Each leg's settled funding rates (% per settlement, a step at each settlement) and the rate of
    the coming settlement from the newest mark price (an open marker at the settlement's time)."""
    fig = _figure("Funding rate per settlement (%)", tz, height=340)
    if all(state.empty for state in states.values()):
        return _no_data(fig, "no funding or mark price stored yet")
    for symbol, state in states.items():
        settled = state.settled
        if len(settled):
            fig.add_trace(go.Scatter(x=display_times(settled["funding_time_ms"], tz),
                                     y=settled["rate"].to_numpy("float64") * PERCENT, name=f"{symbol} settled",
                                     mode="lines+markers", line=dict(color=colors[symbol], width=1.4, shape="hv"),
                                     hovertemplate="%{y:.4f} %"))
        if state.rate is not None and state.next_funding_ms is not None:
            fig.add_trace(go.Scatter(x=display_times(np.array([state.next_funding_ms]), tz),
                                     y=[state.rate * PERCENT], name=f"{symbol} next (from mark)", mode="markers",
                                     marker=dict(symbol="circle-open", size=12, color=colors[symbol],
                                                 line=dict(width=2)),
                                     hovertemplate="%{y:.4f} % at the coming settlement"))
    fig.update_yaxes(title_text="rate (%)")
    return fig
