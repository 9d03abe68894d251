"""Plotly figure builders for the dashboard: DataFrame in, ``go.Figure`` out.

No database access and no statistics: the frames come from ``pairdesk.store`` and
``pairdesk.analytics``; this module only draws them (numbers in titles and names through
``formatting``, as on the rest of the page). Times arrive as UTC epoch milliseconds and are
drawn as wall-clock times of the display time zone (Plotly has no time zones, so the axis is
labelled with the zone's name). Every builder returns a figure even for an empty frame, so the
page never has to special-case drawing.

Quote gaps (``store.read_quote_gaps`` rows: from_ms, to_ms) are shaded amber on every time chart,
with one legend entry "no quotes"; quote lines are broken there (a bar inside a gap has no book:
NaN), never bridged.

Holes: pair panel rows of different ``segment``s are separated by a hole in the data longer than
``max_stale`` (every window restarts after it). The pair charts shade each hole like a recorded
gap and never draw a line across it (``with_breaks`` puts a row of NaN between the segments).
"""
from __future__ import annotations

import copy
import functools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from pairdesk.dashboard.formatting import correlation_label, format_correlation, format_level, format_ratio

# --------------------------------------------------------------------------- look

TEMPLATE_NAME = "pairs_desk"
# Symbols keep their colour everywhere (candles' volume, price lines, legends), chosen by the
# symbol's position in the database's sorted symbol list.
SYMBOL_PALETTE = ("#F59E0B", "#60A5FA", "#34D399", "#F472B6", "#A78BFA", "#FB7185", "#2DD4BF", "#FACC15",
                  "#818CF8", "#4ADE80")
SPREAD_COLOR = "#C4B5FD"
ZSCORE_COLOR = "#38BDF8"
HEDGE_COLOR = "#FBBF24"
CORR_COLOR = "#34D399"
EQUITY_COLOR = "#22C55E"
BAND_COLOR = "#F87171"
UP_COLOR, DOWN_COLOR = "#22C55E", "#EF4444"
GAP_FILL = {"open": "rgba(239, 68, 68, 0.22)", "unfillable": "rgba(239, 68, 68, 0.22)",
            "filled": "rgba(148, 163, 184, 0.18)",
            "paused": "rgba(100, 116, 139, 0.30)"}  # collection paused by the trader: not a fault
HOLE_FILL = "rgba(148, 163, 184, 0.14)"  # a hole between two segments of the pair panel
QUOTE_GAP_FILL = "rgba(245, 158, 11, 0.16)"  # a period without quotes (disconnect, start-up): amber
QUOTE_GAP_NAME = "no quotes"
GRID_COLOR = "rgba(148, 163, 184, 0.18)"
TEXT_COLOR = "#CBD5E1"
MAX_GAP_BANDS = 200  # the most recent gaps drawn per chart (shapes cost the browser)
# Alert events: ▲ for UP, ▼ for DOWN, in the up / down colours, outlined so they stand out on a line.
EVENT_MARKERS = {"UP": ("triangle-up", UP_COLOR, "▲"), "DOWN": ("triangle-down", DOWN_COLOR, "▼")}
ZSCORE_KINDS = ("zscore", "zscore_extreme")

pio.templates[TEMPLATE_NAME] = go.layout.Template(
    layout=go.Layout(
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",  # the page's background shows through
        font=dict(family="Inter, system-ui, sans-serif", size=12, color=TEXT_COLOR),
        colorway=list(SYMBOL_PALETTE),
        xaxis=dict(gridcolor=GRID_COLOR, zeroline=False, showspikes=True, spikemode="across", spikethickness=1,
                   spikecolor="rgba(148,163,184,0.5)", spikedash="dot", automargin=True,
                   title=dict(standoff=8, font=dict(size=11))),
        yaxis=dict(gridcolor=GRID_COLOR, zeroline=False, automargin=True, title=dict(font=dict(size=11))),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1, bgcolor="rgba(0,0,0,0)"),
        hovermode="x unified",
        hoverlabel=dict(bgcolor="#0F172A", font=dict(color="#E2E8F0")),
        margin=dict(l=64, r=24, t=56, b=40),
        title=dict(font=dict(size=15), x=0, xanchor="left", y=0.98, yanchor="top"),
    )
)


def symbol_colors(symbols: Sequence[str]) -> dict[str, str]:
    """A stable colour per symbol: the palette in the order of ``symbols`` (pass the sorted list)."""
    return {symbol: SYMBOL_PALETTE[i % len(SYMBOL_PALETTE)] for i, symbol in enumerate(symbols)}


# --------------------------------------------------------------------------- helpers


def display_times(ts_ms: pd.Series | np.ndarray | Sequence[int], tz: str) -> pd.DatetimeIndex:
    """UTC epoch ms as naive wall-clock times of ``tz`` (what Plotly draws on a date axis)."""
    utc = pd.to_datetime(np.asarray(ts_ms, dtype="int64"), unit="ms", utc=True)
    return utc.tz_convert(tz).tz_localize(None)


@functools.lru_cache(maxsize=16)
def _grid_layout(rows: int, row_heights: tuple[float, ...] | None, secondary_y: bool) -> dict:
    """The axes (domains, anchors, shared x) of ``rows`` stacked plots, as make_subplots lays them out.

    Computed once per shape: make_subplots costs several milliseconds, a live refresh draws
    several figures a second. Row r's traces go on axes x{r}/y{r} ("x"/"y" for row 1); a
    secondary y axis of a single row is y2.
    """
    specs = [[{"secondary_y": secondary_y}] for _ in range(rows)]
    grid = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.06, row_heights=row_heights,
                         specs=specs)
    return grid.layout.to_plotly_json()


def _axis(kind: str, row: int) -> str:
    """Axis reference of a row: ``_axis("y", 1) == "y"``, ``_axis("y", 2) == "y2"``."""
    return kind if row == 1 else f"{kind}{row}"


def _on(trace, row: int = 1, secondary_y: bool = False):
    """``trace`` placed on row ``row`` (or on the secondary y axis of a one-row figure)."""
    trace.update(xaxis=_axis("x", row), yaxis="y2" if secondary_y else _axis("y", row))
    return trace


def _figure(title: str, tz: str, height: int, rows: int = 1, row_heights: Sequence[float] | None = None,
            secondary_y: bool = False) -> go.Figure:
    """An empty figure in the desk's template; the time axis (the bottom one) names the time zone."""
    grid = rows > 1 or secondary_y
    layout = copy.deepcopy(_grid_layout(rows, tuple(row_heights) if row_heights else None, secondary_y)) if grid else {}
    fig = go.Figure(layout=layout)
    # uirevision keeps the user's zoom and legend clicks across live refreshes
    fig.update_layout({"template": TEMPLATE_NAME, "title": title, "height": height, "uirevision": "keep",
                       f"{_axis('xaxis', rows)}": {"title": {"text": f"time ({tz})"}}})
    return fig


def _no_data(fig: go.Figure, message: str) -> go.Figure:
    fig.add_annotation(text=message, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False,
                       font=dict(size=13, color="#94A3B8"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _has_values(values: pd.Series | np.ndarray) -> bool:
    return bool(np.isfinite(np.asarray(values, dtype="float64")).any())


def _line(x: pd.DatetimeIndex, y: pd.Series | np.ndarray, name: str, color: str, **kwargs) -> go.Scatter:
    return go.Scatter(x=x, y=np.asarray(y, dtype="float64"), name=name, mode="lines",
                      line=dict(color=color, width=kwargs.pop("width", 1.6), dash=kwargs.pop("dash", None)),
                      **kwargs)


def gap_shapes(gaps: pd.DataFrame | None, tz: str, min_width_ms: int = 1000) -> list[dict]:
    """Vertical bands (layout shapes spanning every row) over the time spans of recorded gaps.

    ``gaps``: store.read_gap_spans rows (start_ms, end_ms, status). Spans missing an end are
    skipped; spans narrower than ``min_width_ms`` are widened to it so they stay visible.
    """
    if gaps is None or len(gaps) == 0:
        return []
    spans = gaps.dropna(subset=["start_ms", "end_ms"]).tail(MAX_GAP_BANDS)
    if len(spans) == 0:
        return []
    start = spans["start_ms"].to_numpy("int64")
    end = np.maximum(spans["end_ms"].to_numpy("int64"), start + min_width_ms)
    x0, x1 = display_times(start, tz), display_times(end, tz)
    return [dict(type="rect", xref="x", yref="paper", x0=a, x1=b, y0=0, y1=1, line=dict(width=0), layer="below",
                 fillcolor=GAP_FILL.get(status, GAP_FILL["open"]))
            for a, b, status in zip(x0, x1, spans["status"])]


def _shade_gaps(fig: go.Figure, gaps: pd.DataFrame | None, tz: str, min_width_ms: int) -> None:
    shapes = gap_shapes(gaps, tz, min_width_ms)
    if shapes:
        fig.update_layout(shapes=list(fig.layout.shapes) + shapes)


def quote_gap_shapes(quote_gaps: pd.DataFrame | None, tz: str, min_width_ms: int = 1000) -> list[dict]:
    """Amber bands over the periods without quotes (``store.read_quote_gaps`` rows: from_ms, to_ms), the
    most recent MAX_GAP_BANDS, at least ``min_width_ms`` wide; the first one carries the legend entry
    "no quotes" for all of them."""
    if quote_gaps is None or len(quote_gaps) == 0:
        return []
    spans = quote_gaps.sort_values("from_ms", kind="stable").tail(MAX_GAP_BANDS)
    start = spans["from_ms"].to_numpy("int64")
    end = np.maximum(spans["to_ms"].to_numpy("int64"), start + min_width_ms)
    x0, x1 = display_times(start, tz), display_times(end, tz)
    return [dict(type="rect", xref="x", yref="paper", x0=a, x1=b, y0=0, y1=1, line=dict(width=0), layer="below",
                 fillcolor=QUOTE_GAP_FILL, name=QUOTE_GAP_NAME, legendgroup=QUOTE_GAP_NAME, showlegend=i == 0)
            for i, (a, b) in enumerate(zip(x0, x1))]


def shade_quote_gaps(fig: go.Figure, quote_gaps: pd.DataFrame | None, tz: str, min_width_ms: int = 1000) -> None:
    """Add ``quote_gap_shapes`` to ``fig``."""
    shapes = quote_gap_shapes(quote_gaps, tz, min_width_ms)
    if shapes:
        fig.update_layout(shapes=list(fig.layout.shapes) + shapes)


def band_polygons(ts_ms: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(times, y) of one closed polygon per run of rows where both ``low`` and ``high`` are finite, each
    followed by a NaN: a trace with fill="toself" shades each run between the two (high along, low
    back) and nothing across a NaN. Arrays, so the figure serialises fast."""
    ts = np.asarray(ts_ms, np.int64)
    low, high = np.asarray(low, "float64"), np.asarray(high, "float64")
    known = np.isfinite(low) & np.isfinite(high)
    edges = np.flatnonzero(np.diff(np.r_[0, known.astype(np.int8), 0]))
    times, ys = [], []
    for first, stop in zip(edges[::2], edges[1::2]):
        run = slice(first, stop)
        times += [ts[run], ts[run][::-1], ts[stop - 1:stop]]
        ys += [high[run], low[run][::-1], [np.nan]]
    if not times:
        return np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(times), np.concatenate(ys)


def bid_ask_band(quote_bars: pd.DataFrame, tz: str, color: str, name: str = "bid-ask (book at close)") -> go.Scatter:
    """The book at each bar's close shaded between bid and ask (``quote_bars``: ts_ms, bid, ask: quote
    bars at the chart's timeframe, drawn at the bar start like the candles); broken where no book stood."""
    ts, y = band_polygons(quote_bars["ts_ms"], quote_bars["bid"], quote_bars["ask"])
    return go.Scatter(x=display_times(ts, tz), y=y, name=name, mode="lines", fill="toself",
                      fillcolor=_translucent(color, 0.35), line=dict(color=_translucent(color, 0.7), width=0.6),
                      hoverinfo="skip")


def _translucent(hex_color: str, alpha: float) -> str:
    """``#RRGGBB`` as rgba with ``alpha``."""
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def _segment_ends(panel: pd.DataFrame) -> np.ndarray:
    """Row positions i where row i and row i + 1 belong to different segments (a hole follows row i)."""
    if len(panel) < 2 or "segment" not in panel.columns:
        return np.array([], dtype=np.int64)
    segment = panel["segment"].to_numpy("float64")
    return np.flatnonzero(segment[1:] != segment[:-1])


def hole_shapes(panel: pd.DataFrame, tz: str, bar_ms: int) -> list[dict]:
    """Vertical bands over the holes between the panel's segments: from the end of a segment's last
    bar to the start of the next segment's first bar (the most recent MAX_GAP_BANDS)."""
    ends = _segment_ends(panel)[-MAX_GAP_BANDS:]
    if len(ends) == 0:
        return []
    ts = panel["ts_ms"].to_numpy("int64")
    x0, x1 = display_times(ts[ends] + bar_ms, tz), display_times(ts[ends + 1], tz)
    return [dict(type="rect", xref="x", yref="paper", x0=a, x1=b, y0=0, y1=1, line=dict(width=0), layer="below",
                 fillcolor=HOLE_FILL) for a, b in zip(x0, x1)]


def with_breaks(panel: pd.DataFrame) -> pd.DataFrame:
    """``panel`` with one row of NaN (time halfway) inside each hole between segments: Plotly breaks
    a line at a NaN, so no line is drawn across a hole. The panel itself when it has no hole."""
    ends = _segment_ends(panel)
    if len(ends) == 0:
        return panel
    ts = panel["ts_ms"].to_numpy("int64")
    breaks = pd.DataFrame({column: np.full(len(ends), np.nan) for column in panel.columns})
    breaks["ts_ms"] = (ts[ends] + ts[ends + 1]) // 2
    order = np.argsort(np.r_[np.arange(len(panel)), ends + 0.5], kind="stable")
    return pd.concat([panel.astype({c: "float64" for c in panel.columns if c != "ts_ms"}), breaks],
                     ignore_index=True).iloc[order].reset_index(drop=True)


def _shade_holes(fig: go.Figure, panel: pd.DataFrame, tz: str, bar_ms: int) -> None:
    shapes = hole_shapes(panel, tz, bar_ms)
    if shapes:
        fig.update_layout(shapes=list(fig.layout.shapes) + shapes)


def values_at(ts_ms: pd.Series | np.ndarray, values: pd.Series | np.ndarray,
              at_ms: pd.Series | np.ndarray) -> np.ndarray:
    """The last finite value at or before each instant of ``at_ms`` (NaN before the first one).

    ``ts_ms`` sorted; used to put a marker on a drawn line at a time the line may not have a row for.
    """
    ts, vals = np.asarray(ts_ms, dtype="int64"), np.asarray(values, dtype="float64")
    finite = np.isfinite(vals)
    ts, vals = ts[finite], vals[finite]
    index = np.searchsorted(ts, np.asarray(at_ms, dtype="int64"), side="right") - 1
    return np.where(index >= 0, vals[np.maximum(index, 0)] if len(vals) else np.nan, np.nan)


def event_marker_traces(events: pd.DataFrame, y: np.ndarray, tz: str, row: int = 1,
                        secondary_y: bool = False) -> list[go.Scatter]:
    """Alert events as markers at their bar times: one trace per direction (▲ UP, ▼ DOWN).

    ``events``: store.read_alert_events rows (ts_ms, direction, message); ``y``: where each
    event's marker sits (NaN: not drawn). Hovering a marker shows the event's message.
    """
    if events is None or len(events) == 0:
        return []
    y = np.asarray(y, dtype="float64")
    traces = []
    for direction, (symbol, color, arrow) in EVENT_MARKERS.items():
        chosen = (events["direction"].to_numpy() == direction) & np.isfinite(y)
        if not chosen.any():
            continue
        picked = events[chosen]
        traces.append(_on(go.Scatter(
            x=display_times(picked["ts_ms"], tz), y=y[chosen], name=f"alert {arrow} {direction}", mode="markers",
            text=picked["message"].astype(str).tolist(), hovertemplate="%{text}<extra></extra>",
            marker=dict(symbol=symbol, size=13, color=color, line=dict(color="#0F172A", width=1))),
            row=row, secondary_y=secondary_y))
    return traces


# --------------------------------------------------------------------------- prices


def candlestick_figure(bars: pd.DataFrame, symbol: str, tz: str, color: str, timeframe: str = "",
                       gaps: pd.DataFrame | None = None, bar_ms: int = 1000, quotes: pd.DataFrame | None = None,
                       quote_gaps: pd.DataFrame | None = None) -> go.Figure:
    """Candlesticks over volume for one symbol. ``bars``: ts_ms, open, high, low, close, volume.

    ``quotes`` (the symbol's quote bars at the same timeframe, ``quote_data.leg_quote_bars``) add the
    bid-ask band (the book at each bar's close) on the candles and a row "quoted spread (bps)" at the
    close (thin books like BTC's stay readable there); ``quote_gaps`` are shaded "no quotes"."""
    quoted = quotes is not None and len(quotes) > 0 and _has_values(quotes["bid"])
    rows, heights = (3, (0.6, 0.18, 0.22)) if quoted else (2, (0.74, 0.26))
    fig = _figure(f"{symbol} {timeframe}".strip(), tz, height=480 if quoted else 420, rows=rows, row_heights=heights)
    if len(bars) == 0:
        return _no_data(fig, f"no {symbol} bars in this window")
    x = display_times(bars["ts_ms"], tz)
    if quoted:
        fig.add_trace(bid_ask_band(quotes, tz, color))
    fig.add_trace(go.Candlestick(x=x, open=bars["open"], high=bars["high"], low=bars["low"], close=bars["close"],
                                 name=symbol, increasing=dict(line=dict(color=UP_COLOR), fillcolor=UP_COLOR),
                                 decreasing=dict(line=dict(color=DOWN_COLOR), fillcolor=DOWN_COLOR),
                                 showlegend=False))
    if quoted:
        fig.add_trace(_on(_line(display_times(quotes["ts_ms"], tz), quotes["spread_bps"], "quoted spread (bps)",
                                color, width=1.2, hovertemplate="%{y:.4f} bps"), row=2))
        fig.update_layout(yaxis2_title_text="spread (bps)")
    fig.add_trace(_on(go.Bar(x=x, y=bars["volume"].to_numpy("float64"), name="volume", marker_color=color,
                             marker_line_width=0, opacity=0.75, showlegend=False), row=rows))
    fig.update_layout({"yaxis_title_text": "price", f"{_axis('yaxis', rows)}_title_text": "volume",
                       "xaxis_rangeslider_visible": False})
    _shade_gaps(fig, gaps, tz, bar_ms)
    shade_quote_gaps(fig, quote_gaps, tz, bar_ms)
    return fig


def price_comparison_figure(panel: pd.DataFrame, symbol_a: str, symbol_b: str, tz: str,
                            colors: Mapping[str, str], events: pd.DataFrame | None = None,
                            bar_ms: int = 1000, quote_gaps: pd.DataFrame | None = None) -> go.Figure:
    """Both legs' aligned closes on two y axes (A left, B right). ``panel``: ts_ms, price_a, price_b
    (and segment: holes between segments are shaded, lines broken there).

    ``events`` (alert events, store.read_alert_events columns) become ▲/▼ markers on the price
    line at each event's bar: events of a rule on B alone on B's line, every other one on A's.
    """
    fig = _figure(f"{symbol_a} vs {symbol_b}", tz, height=360, secondary_y=True)
    if len(panel) == 0:
        return _no_data(fig, "no aligned prices in this window")
    drawn = with_breaks(panel)
    x = display_times(drawn["ts_ms"], tz)
    fig.add_trace(_line(x, drawn["price_a"], symbol_a, colors[symbol_a]))
    fig.add_trace(_on(_line(x, drawn["price_b"], symbol_b, colors[symbol_b]), secondary_y=True))
    _shade_holes(fig, panel, tz, bar_ms)
    shade_quote_gaps(fig, quote_gaps, tz, bar_ms)
    if events is not None and len(events):
        on_b = (events["symbols"] == symbol_b).to_numpy()
        for leg, chosen, column in ((symbol_a, ~on_b, "price_a"), (symbol_b, on_b, "price_b")):
            picked = events[chosen]
            y = values_at(panel["ts_ms"], panel[column], picked["ts_ms"])
            for trace in event_marker_traces(picked, y, tz, secondary_y=leg == symbol_b):
                fig.add_trace(trace.update(name=f"{trace.name} ({leg})"))
    fig.update_layout(yaxis=dict(title=dict(text=symbol_a, font_color=colors[symbol_a])),
                      yaxis2=dict(title=dict(text=symbol_b, font_color=colors[symbol_b]), showgrid=False))
    return fig


# --------------------------------------------------------------------------- spread, z-score, hedge


def is_static(values: pd.Series | np.ndarray) -> bool:
    """True when every finite value is the same (a hedge ratio fitted once over the window)."""
    finite = np.asarray(values, dtype="float64")
    finite = finite[np.isfinite(finite)]
    return len(finite) == 0 or bool(np.all(finite == finite[0]))


SPREAD_AXIS = {"price": "spread (price of A)", "log": "spread (log price)", "ratio": "ratio A / B"}


def hedge_title(panel: pd.DataFrame, hedge_label: str, spread_kind: str = "price") -> str:
    """"<hedge label> hedge ratio β = x" (fitted once), "dynamic, now β = x", or why there is none."""
    if spread_kind == "ratio":
        return "ratio A / B (no hedge)"
    beta = panel["hedge_ratio"].to_numpy("float64") if len(panel) else np.array([])
    finite_beta = beta[np.isfinite(beta)]
    if len(finite_beta) == 0:
        text = "hedge ratio not estimated yet"
    elif is_static(beta):
        text = f"hedge ratio β = {format_ratio(finite_beta[-1])}"
    else:
        text = f"hedge ratio dynamic, now β = {format_ratio(finite_beta[-1])}"
    return f"{hedge_label} {text}".strip()


def spread_zscore_figure(panel: pd.DataFrame, threshold: float, tz: str, hedge_label: str = "",
                         gaps: pd.DataFrame | None = None, bar_ms: int = 1000,
                         events: pd.DataFrame | None = None, spread_kind: str = "price",
                         quote_gaps: pd.DataFrame | None = None) -> go.Figure:
    """Spread (top) and its z-score with the ±threshold bands (bottom), gaps and holes shaded.

    ``panel``: pair_panel rows (ts_ms, hedge_ratio, spread, spread_bps, zscore, segment). The
    spread is the residual a − α − β·b in price units of A (``spread_kind`` "log": of ln a on
    ln b; "ratio": a / b), its bps of A in the hover. The title names the hedge (its label says
    "in-sample: uses future bars" for ols_insample) and β: its value when it is fitted once,
    "dynamic" otherwise (drawn by ``hedge_ratio_figure``). ``events``: alert events
    (store.read_alert_events columns); those of pair rules (symbols "A/B") become ▲/▼ markers on
    the z-score row at each event's bar, at the rule's own z for z-score rules (the value that
    crossed, which is the line's z when the rule has the page's settings) and on the drawn
    z-score line for the other kinds (at 0 where it has none).
    """
    title = f"Spread & z-score · {hedge_title(panel, hedge_label, spread_kind)}"
    fig = _figure(title, tz, height=520, rows=2, row_heights=(0.5, 0.5))
    if len(panel) == 0 or not _has_values(panel["spread"]):
        return _no_data(fig, "no spread in this window: the hedge is not estimated yet")
    drawn = with_breaks(panel)
    x = display_times(drawn["ts_ms"], tz)
    bps = drawn["spread_bps"].to_numpy("float64") if "spread_bps" in drawn.columns else np.full(len(drawn), np.nan)
    fig.add_trace(_line(x, drawn["spread"], "spread", SPREAD_COLOR, customdata=bps,
                        hovertemplate="%{y:.6g} (%{customdata:+.2f} bps of A)"))
    if _has_values(panel["zscore"]):
        fig.add_trace(_on(_line(x, drawn["zscore"], "z-score", ZSCORE_COLOR, hovertemplate="%{y:+.3f}"), row=2))
        ends = [x[0], x[-1]]
        band = format_level(threshold)
        for level, name in ((threshold, f"+{band} band"), (-threshold, f"−{band} band")):
            fig.add_trace(_on(go.Scatter(x=ends, y=[level, level], name=name, mode="lines", hoverinfo="skip",
                                         line=dict(color=BAND_COLOR, width=1.2, dash="dash"), showlegend=False),
                              row=2))
        fig.add_trace(_on(go.Scatter(x=ends, y=[0.0, 0.0], name="mean", mode="lines", hoverinfo="skip",
                                     line=dict(color=GRID_COLOR, width=1), showlegend=False), row=2))
    else:
        fig.add_annotation(text="no z-score yet: the window is not full", xref="paper", yref="y2 domain",
                           x=0.5, y=0.5, showarrow=False, font=dict(size=13, color="#94A3B8"))
    if events is not None and len(events):
        pair_events = events[events["symbols"].astype(str).str.contains("/", regex=False)]
        on_line = np.nan_to_num(values_at(panel["ts_ms"], panel["zscore"], pair_events["ts_ms"]), nan=0.0)
        own_z = pair_events["kind"].isin(ZSCORE_KINDS).to_numpy()
        y = np.where(own_z, pair_events["value"].to_numpy("float64"), on_line)
        fig.add_traces(event_marker_traces(pair_events, y, tz, row=2))
    fig.update_layout(yaxis_title_text=SPREAD_AXIS.get(spread_kind, "spread"), yaxis2_title_text="z-score")
    _shade_gaps(fig, gaps, tz, bar_ms)
    _shade_holes(fig, panel, tz, bar_ms)
    shade_quote_gaps(fig, quote_gaps, tz, bar_ms)
    return fig


def hedge_ratio_figure(panel: pd.DataFrame, tz: str, hedge_label: str, bar_ms: int = 1000,
                       quote_gaps: pd.DataFrame | None = None) -> go.Figure:
    """The hedge ratio β over time, α in the hover (every hedge that is not fitted once).

    ``panel``: ts_ms, hedge_ratio, alpha (and segment: holes shaded, the line broken there). Row
    t's β and α were estimated before bar t (the whole sample for ols_insample, whose label says so).
    """
    fig = _figure(f"Hedge ratio over time · {hedge_label}", tz, height=300)
    if len(panel) == 0 or not _has_values(panel["hedge_ratio"]):
        return _no_data(fig, "no hedge ratio yet (the hedge window is not full)")
    drawn = with_breaks(panel)
    alpha = drawn["alpha"].to_numpy("float64") if "alpha" in drawn.columns else np.full(len(drawn), np.nan)
    fig.add_trace(_line(display_times(drawn["ts_ms"], tz), drawn["hedge_ratio"], "β", HEDGE_COLOR, customdata=alpha,
                        hovertemplate="β %{y:.6g} · α %{customdata:.6g}"))
    fig.update_yaxes(title_text="β (units of B per A)")
    _shade_holes(fig, panel, tz, bar_ms)
    shade_quote_gaps(fig, quote_gaps, tz, bar_ms)
    return fig


# --------------------------------------------------------------------------- correlation


def rolling_correlation_figure(panel: pd.DataFrame, tz: str, window: int, bar_ms: int = 1000,
                               quote_gaps: pd.DataFrame | None = None, of: str = "returns") -> go.Figure:
    """Rolling correlation over ``window`` bars of one segment (-1..1) of the log returns (``of="returns"``,
    column return_corr) or the price levels (``"prices"``, column corr), holes shaded; the title says which.
    ``panel``: ts_ms, corr, return_corr (and segment)."""
    column = "return_corr" if of == "returns" else "corr"
    fig = _figure(f"Rolling {correlation_label(of).lower()} · {window} bars", tz, height=320)
    if len(panel) == 0 or not _has_values(panel[column]):
        return _no_data(fig, f"no correlation yet: it needs {window} aligned bars")
    drawn = with_breaks(panel)
    fig.add_trace(_line(display_times(drawn["ts_ms"], tz), drawn[column], "correlation", CORR_COLOR,
                        hovertemplate="%{y:.3f}"))
    fig.update_yaxes(title_text="correlation", range=[-1.05, 1.05])
    _shade_holes(fig, panel, tz, bar_ms)
    shade_quote_gaps(fig, quote_gaps, tz, bar_ms)
    return fig


def correlation_heatmap(matrix: pd.DataFrame, title: str = "Correlation of returns") -> go.Figure:
    """A symbols x symbols correlation matrix as an annotated heatmap (diverging, -1..1)."""
    fig = go.Figure()
    fig.update_layout(template=TEMPLATE_NAME, title=title, height=max(300, 60 * len(matrix) + 120),
                      uirevision="keep", hovermode="closest")
    if matrix.empty:
        return _no_data(fig, "no aligned data for a correlation matrix")
    values = matrix.to_numpy("float64")
    text = [[format_correlation(v) for v in row] for row in values]
    fig.add_trace(go.Heatmap(z=values, x=list(matrix.columns), y=list(matrix.index), zmin=-1, zmax=1,
                             colorscale="RdBu", reversescale=False, text=text, texttemplate="%{text}",
                             hovertemplate="%{y} / %{x}: %{z:.3f}<extra></extra>", colorbar=dict(title="ρ")))
    fig.update_yaxes(autorange="reversed")
    return fig


# --------------------------------------------------------------------------- backtest


def equity_figure(equity: pd.DataFrame, tz: str) -> go.Figure:
    """The backtest's equity curve (1 = start) with the position (+1 / 0 / -1) underneath."""
    fig = _figure("Backtest equity", tz, height=380, rows=2, row_heights=(0.75, 0.25))
    if len(equity) == 0:
        return _no_data(fig, "no backtest yet")
    x = display_times(equity["ts_ms"], tz)
    fig.add_trace(_line(x, equity["equity"], "equity", EQUITY_COLOR, fill="tozeroy",
                        fillcolor="rgba(34,197,94,0.08)"))
    fig.add_trace(_on(go.Scatter(x=x, y=equity["position"].to_numpy("float64"), name="position", mode="lines",
                                 line=dict(color=ZSCORE_COLOR, width=1, shape="hv")), row=2))
    low, high = float(np.nanmin(equity["equity"])), float(np.nanmax(equity["equity"]))
    pad = max((high - low) * 0.1, 1e-4)
    fig.update_layout(yaxis=dict(title_text="equity", range=[low - pad, high + pad]),
                      yaxis2=dict(title_text="position", range=[-1.3, 1.3], tickvals=[-1, 0, 1]))
    return fig
