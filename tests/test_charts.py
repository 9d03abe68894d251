"""Figure builders on real recorded BTC/ETH data and on edge cases: traces, axes, bands, gaps, no NaN-only traces."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from pairdesk import analytics
from pairdesk.dashboard import charts, formatting
from pairdesk import store
from test_app import build_real_db

TZ = "Asia/Kolkata"


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> dict:
    """1 s bars of the recorded BTCUSDT / ETHUSDT spot trades, their 1 s rolling pair panel (hedge window
    40: the trimmed recordings hold 121 aligned bars) and their in-sample OLS panel."""
    path = build_real_db(tmp_path_factory.mktemp("charts") / "ticks.db")
    conn = store.open_reader(path)
    bars = {s: store.read_bars_1s(conn, s) for s in ("BTCUSDT", "ETHUSDT")}
    conn.close()
    return {"bars": bars,
            "panel": analytics.pair_panel(bars["BTCUSDT"], bars["ETHUSDT"], "1s", 60, "rolling", hedge_window=40),
            "insample": analytics.pair_panel(bars["BTCUSDT"], bars["ETHUSDT"], "1s", 60, "ols_insample")}


def two_segment_panel() -> pd.DataFrame:
    """A pair panel of 1 s bars with a 300 s hole after row 99 (so two segments), prices of a known line."""
    ts = np.r_[np.arange(100), 400 + np.arange(100)] * 1000 + 1_723_161_600_000
    rng = np.random.default_rng(7)
    b = 2600 + np.cumsum(rng.normal(0, 0.5, 200))
    a = 1000 + 20 * b + rng.normal(0, 2, 200)
    bars = [pd.DataFrame({"ts_ms": ts, "open": p, "high": p, "low": p, "close": p, "volume": 1.0,
                          "quote_volume": p, "trades": 1}) for p in (a, b)]
    return analytics.pair_panel(*bars, "1s", 20, "rolling", hedge_window=30)


def trace_types(fig: go.Figure) -> list[str]:
    return [trace.type for trace in fig.data]


def y_axes(fig: go.Figure) -> list[str]:
    """The y axis of each trace ("y" when the trace uses the default)."""
    return [trace.yaxis or "y" for trace in fig.data]


def assert_no_nan_only_traces(fig: go.Figure) -> None:
    for trace in fig.data:
        values = trace.z if trace.type == "heatmap" else (trace.close if trace.type == "candlestick" else trace.y)
        assert np.isfinite(np.asarray(values, dtype="float64")).any(), f"trace {trace.name!r} is NaN only"


def test_candlestick_has_price_and_volume_rows_in_the_display_zone(real):
    """Candles over volume bars: two y axes sharing time, x in Asia/Kolkata wall-clock time."""
    bars = real["bars"]["BTCUSDT"]
    fig = charts.candlestick_figure(bars, "BTCUSDT", TZ, "#F59E0B", "1s")
    assert trace_types(fig) == ["candlestick", "bar"]
    assert y_axes(fig) == ["y", "y2"]
    assert fig.layout.xaxis2.title.text == f"time ({TZ})"
    first = pd.Timestamp(fig.data[0].x[0])
    assert first == pd.Timestamp(int(bars["ts_ms"].iloc[0]), unit="ms", tz="UTC").tz_convert(TZ).tz_localize(None)
    assert_no_nan_only_traces(fig)


def test_price_comparison_uses_two_y_axes(real):
    """Dual-axis comparison: A on the left axis, B on an overlaying right axis, in each symbol's colour."""
    colors = charts.symbol_colors(["BTCUSDT", "ETHUSDT"])
    fig = charts.price_comparison_figure(real["panel"], "BTCUSDT", "ETHUSDT", TZ, colors)
    assert trace_types(fig) == ["scatter", "scatter"]
    assert y_axes(fig) == ["y", "y2"]
    assert fig.layout.yaxis2.overlaying == "y" and fig.layout.yaxis2.side == "right"
    assert [t.line.color for t in fig.data] == [colors["BTCUSDT"], colors["ETHUSDT"]]
    assert_no_nan_only_traces(fig)


def test_spread_and_zscore_with_threshold_bands(real):
    """Spread on top, z-score below with dashed band lines exactly at ±threshold, β in the title."""
    panel = real["panel"]
    fig = charts.spread_zscore_figure(panel, 1.5, TZ, "rolling OLS")
    names = [t.name for t in fig.data]
    assert names[:2] == ["spread", "z-score"]
    bands = {t.name: list(t.y) for t in fig.data if "band" in t.name}
    assert bands == {"+1.5 band": [1.5, 1.5], "−1.5 band": [-1.5, -1.5]}
    assert y_axes(fig) == ["y"] + ["y2"] * 4
    assert fig.layout.title.text == (f"Spread & z-score · rolling OLS hedge ratio dynamic, now β = "
                                     f"{formatting.format_ratio(panel['hedge_ratio'].iloc[-1])}")
    static = charts.spread_zscore_figure(real["insample"], 1.5, TZ, f"OLS ({analytics.INSAMPLE_LABEL})")
    assert static.layout.title.text == (f"Spread & z-score · OLS (in-sample: uses future bars) hedge ratio β = "
                                        f"{formatting.format_ratio(real['insample']['hedge_ratio'].iloc[-1])}")
    assert_no_nan_only_traces(fig)


def test_spread_is_the_residual_in_price_units_with_its_bps_in_the_hover(real):
    """The spread trace is a − α − β·b of the panel (price units, a sane range), its customdata the bps of A."""
    panel = real["panel"]
    fig = charts.spread_zscore_figure(panel, 2.0, TZ, "rolling OLS")
    spread = fig.data[0]
    expected = panel["price_a"] - panel["alpha"] - panel["hedge_ratio"] * panel["price_b"]
    np.testing.assert_allclose(np.asarray(spread.y, dtype="float64"), expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(spread.customdata, dtype="float64"), expected / panel["price_a"] * 1e4,
                               rtol=1e-9)
    assert "bps of A" in spread.hovertemplate and fig.layout.yaxis.title.text == "spread (price of A)"
    finite = expected.dropna()
    assert finite.abs().max() < 0.01 * panel["price_a"].min()  # a residual, not a price level (no 0..60k axis)
    z = np.asarray(fig.data[1].y, dtype="float64")
    np.testing.assert_array_equal(z, panel["zscore"].to_numpy())


def test_holes_are_shaded_and_no_line_crosses_them():
    """Between two segments every pair chart shades the hole (end of the last bar to the next bar) and its
    lines hold a NaN there, so nothing is drawn across it; the data rows are drawn unchanged."""
    panel = two_segment_panel()
    assert list(np.unique(panel["segment"])) == [0, 1]
    colors = {"A": "#fff", "B": "#000"}
    figures = [charts.spread_zscore_figure(panel, 2.0, TZ, "rolling OLS"), charts.hedge_ratio_figure(panel, TZ, "r"),
               charts.price_comparison_figure(panel, "A", "B", TZ, colors), charts.rolling_correlation_figure(panel, TZ, 20)]
    hole_start, hole_end = charts.display_times([panel["ts_ms"].iloc[99] + 1000, panel["ts_ms"].iloc[100]], TZ)
    for fig in figures:
        (hole,) = [shape for shape in fig.layout.shapes if shape.fillcolor == charts.HOLE_FILL]
        assert (pd.Timestamp(hole.x0), pd.Timestamp(hole.x1), hole.yref) == (hole_start, hole_end, "paper")
        for trace in fig.data:
            if trace.mode != "lines" or len(trace.x) == 2:  # the bands and the mean line span the chart
                continue
            x = pd.DatetimeIndex(trace.x)
            y = np.asarray(trace.y, dtype="float64")
            inside = (x > hole_start) & (x < hole_end)
            assert inside.sum() == 1 and np.isnan(y[inside]).all(), (fig.layout.title.text, trace.name)
            assert len(x) == len(panel) + 1
    drawn = charts.with_breaks(panel)
    pd.testing.assert_frame_equal(drawn.drop(index=100).reset_index(drop=True), panel.astype(drawn.dtypes))
    assert len(charts.with_breaks(panel.iloc[:100])) == 100  # one segment: nothing inserted
    assert charts.hole_shapes(panel.iloc[:100], TZ, 1000) == []


def test_gap_spans_become_shaded_bands_on_every_row(real):
    """Gaps become paper-high rectangles (red when open, grey when filled), at least a bar wide."""
    t0 = int(real["panel"]["ts_ms"].iloc[100])
    gaps = pd.DataFrame({"start_ms": [t0, t0 + 5000, np.nan], "end_ms": [t0, t0 + 9000, t0], "status":
                         ["open", "filled", "open"]})
    fig = charts.spread_zscore_figure(real["panel"], 2.0, TZ, "rolling OLS", gaps, bar_ms=1000)
    shapes = fig.layout.shapes
    assert len(shapes) == 2  # the span without a start is skipped
    assert all(s.yref == "paper" and (s.y0, s.y1) == (0, 1) for s in shapes)
    assert pd.Timestamp(shapes[0].x1) - pd.Timestamp(shapes[0].x0) == pd.Timedelta(seconds=1)
    assert shapes[0].fillcolor == charts.GAP_FILL["open"] and shapes[1].fillcolor == charts.GAP_FILL["filled"]


def test_hedge_ratio_chart_only_for_moving_ratios(real):
    """The in-sample fit is static; every causal hedge moves and gets its own chart, α in the hover."""
    bars = real["bars"]
    assert charts.is_static(real["insample"]["hedge_ratio"])
    for hedge in analytics.CAUSAL_HEDGES:
        panel = analytics.pair_panel(bars["BTCUSDT"], bars["ETHUSDT"], "1s", 60, hedge, hedge_window=40)
        assert not charts.is_static(panel["hedge_ratio"]), hedge
        fig = charts.hedge_ratio_figure(panel, TZ, hedge)
        assert trace_types(fig) == ["scatter"]
        np.testing.assert_array_equal(np.asarray(fig.data[0].y, dtype="float64"), panel["hedge_ratio"].to_numpy())
        np.testing.assert_array_equal(np.asarray(fig.data[0].customdata, dtype="float64"), panel["alpha"].to_numpy())
        assert "α" in fig.data[0].hovertemplate
        assert_no_nan_only_traces(fig)


def test_rolling_correlation_and_heatmap(real):
    """Rolling correlation stays in [-1, 1]; the heatmap is symmetric with a unit diagonal."""
    fig = charts.rolling_correlation_figure(real["panel"], TZ, 60)
    assert trace_types(fig) == ["scatter"] and list(fig.layout.yaxis.range) == [-1.05, 1.05]
    assert_no_nan_only_traces(fig)
    bars = real["bars"]
    matrix = analytics.correlation_matrix(bars, "1s")
    heat = charts.correlation_heatmap(matrix)
    z = np.asarray(heat.data[0].z, dtype="float64")
    assert trace_types(heat) == ["heatmap"] and z.shape == (2, 2)
    assert np.allclose(np.diag(z), 1.0) and np.allclose(z, z.T)
    assert (heat.data[0].zmin, heat.data[0].zmax) == (-1, 1)


def test_equity_curve_over_position(real):
    """The backtest figure: equity on top, position (+1/0/-1) as a step line underneath."""
    result = analytics.backtest_zscore(real["panel"], "1s", entry=1.5, exit=0.5, stop=4.0)
    fig = charts.equity_figure(result.equity, TZ)
    assert trace_types(fig) == ["scatter", "scatter"]
    assert fig.data[1].line.shape == "hv" and set(np.unique(fig.data[1].y)) <= {-1.0, 0.0, 1.0}
    assert_no_nan_only_traces(fig)


@pytest.mark.parametrize("build", [
    lambda empty: charts.candlestick_figure(empty, "BTCUSDT", TZ, "#fff"),
    lambda empty: charts.price_comparison_figure(empty, "A", "B", TZ, {"A": "#fff", "B": "#000"}),
    lambda empty: charts.spread_zscore_figure(empty, 2.0, TZ),
    lambda empty: charts.hedge_ratio_figure(empty, TZ, "Kalman"),
    lambda empty: charts.rolling_correlation_figure(empty, TZ, 60),
    lambda empty: charts.equity_figure(empty, TZ),
    lambda empty: charts.correlation_heatmap(pd.DataFrame()),
])
def test_empty_frames_give_a_message_not_an_empty_trace(build):
    """An empty frame draws no trace at all, only a 'no ...' note in the middle of the figure."""
    empty = pd.DataFrame(columns=[*store.BAR_COLUMNS, *analytics.PANEL_COLUMNS, "equity", "position"])
    fig = build(empty)
    assert len(fig.data) == 0
    assert fig.layout.annotations[-1].text.startswith("no ")


def test_window_longer_than_data_draws_spread_without_zscore(real):
    """With a window longer than the data, z is all NaN: the spread is drawn, z and its bands are not."""
    bars = real["bars"]
    panel = analytics.pair_panel(bars["BTCUSDT"], bars["ETHUSDT"], "1m", 60, "ols_insample")
    fig = charts.spread_zscore_figure(panel, 2.0, TZ, "OLS")
    assert [t.name for t in fig.data] == ["spread"]
    assert_no_nan_only_traces(fig)


def test_display_times_convert_utc_milliseconds_to_the_zone():
    """0 ms is 05:30 in Kolkata and 00:00 in UTC: the axis shows wall-clock time of the chosen zone."""
    assert str(charts.display_times([0], "Asia/Kolkata")[0]) == "1970-01-01 05:30:00"
    assert str(charts.display_times([0], "UTC")[0]) == "1970-01-01 00:00:00"


def test_symbol_colours_are_stable_per_position():
    """A symbol's colour depends only on its place in the (sorted) symbol list."""
    colors = charts.symbol_colors(["BTCUSDT", "ETHUSDT", "SOLUSDT"])
    assert colors["BTCUSDT"] == charts.SYMBOL_PALETTE[0] and colors["SOLUSDT"] == charts.SYMBOL_PALETTE[2]
    assert len(set(colors.values())) == 3


# --------------------------------------------------------------------------- alert markers


def alert_events(panel: pd.DataFrame) -> pd.DataFrame:
    """Four alerts at panel rows 70..100: z-score UP and correlation DOWN on the pair, a price cross on
    ETHUSDT alone, a volume spike on BTCUSDT alone (store.read_alert_events columns that matter)."""
    ts = panel["ts_ms"].to_numpy()
    return pd.DataFrame({
        "event_id": [1, 2, 3, 4], "ts_ms": [ts[70], ts[80], ts[90], ts[100]],
        "kind": ["zscore", "correlation_breakdown", "price_cross", "volume_spike"],
        "symbols": ["BTCUSDT/ETHUSDT", "BTCUSDT/ETHUSDT", "ETHUSDT", "BTCUSDT"],
        "value": [2.31, 0.2, 2600.5, 4.2], "threshold": [2.0, 0.3, 2600.0, 3.0],
        "direction": ["UP", "DOWN", "UP", "UP"], "message": ["z up", "corr down", "eth crosses", "btc volume"]})


def markers(fig: go.Figure) -> dict[str, go.Scatter]:
    return {trace.name: trace for trace in fig.data if trace.mode == "markers"}


def test_zscore_chart_marks_the_pairs_alerts_at_their_bars(real):
    """Pair alerts become ▲/▼ markers on the z-score row: z-score rules at their own z, others on the line."""
    panel = real["panel"]
    events = alert_events(panel)
    fig = charts.spread_zscore_figure(panel, 2.0, TZ, "rolling OLS", events=events)
    up, down = markers(fig)["alert ▲ UP"], markers(fig)["alert ▼ DOWN"]
    assert set(markers(fig)) == {"alert ▲ UP", "alert ▼ DOWN"}  # single-symbol alerts are not on this chart
    assert (up.yaxis, up.marker.symbol, list(up.text), list(up.y)) == ("y2", "triangle-up", ["z up"], [2.31])
    assert (down.marker.symbol, list(down.text)) == ("triangle-down", ["corr down"])
    assert list(down.y) == [panel["zscore"].iloc[80]]
    assert pd.Timestamp(up.x[0]) == charts.display_times([events["ts_ms"].iloc[0]], TZ)[0]
    assert up.hovertemplate == "%{text}<extra></extra>"
    assert_no_nan_only_traces(fig)


def test_price_chart_marks_alerts_on_the_leg_they_watch(real):
    """On the price comparison, B-only alerts sit on B's line (right axis), every other one on A's line."""
    panel = real["panel"]
    colors = charts.symbol_colors(["BTCUSDT", "ETHUSDT"])
    fig = charts.price_comparison_figure(panel, "BTCUSDT", "ETHUSDT", TZ, colors, alert_events(panel))
    shown = markers(fig)
    assert set(shown) == {"alert ▲ UP (BTCUSDT)", "alert ▼ DOWN (BTCUSDT)", "alert ▲ UP (ETHUSDT)"}
    on_a, on_b = shown["alert ▲ UP (BTCUSDT)"], shown["alert ▲ UP (ETHUSDT)"]
    assert list(on_a.text) == ["z up", "btc volume"] and on_a.yaxis == "y"
    assert list(on_a.y) == [panel["price_a"].iloc[70], panel["price_a"].iloc[100]]
    assert (list(on_b.text), list(on_b.y), on_b.yaxis) == (["eth crosses"], [panel["price_b"].iloc[90]], "y2")
    assert on_b.marker.color == charts.UP_COLOR and shown["alert ▼ DOWN (BTCUSDT)"].marker.color == charts.DOWN_COLOR


def test_no_alerts_no_markers(real):
    """Without events (None or an empty frame) the figures have no marker traces."""
    panel = real["panel"]
    empty = alert_events(panel).iloc[0:0]
    for events in (None, empty):
        assert markers(charts.spread_zscore_figure(panel, 2.0, TZ, "rolling OLS", events=events)) == {}
        colors = charts.symbol_colors(["BTCUSDT", "ETHUSDT"])
        assert markers(charts.price_comparison_figure(panel, "BTCUSDT", "ETHUSDT", TZ, colors, events)) == {}


def test_values_at_carries_the_last_finite_value():
    """A marker between rows sits on the last finite value at or before it; NaN before the first."""
    at = charts.values_at([0, 1000, 2000], [1.0, np.nan, 3.0], [-1, 0, 1500, 2500])
    assert np.array_equal(at, [np.nan, 1.0, 1.0, 3.0], equal_nan=True)
    assert np.isnan(charts.values_at([0, 1000], [np.nan, np.nan], [500])).all()
