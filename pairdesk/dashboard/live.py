"""The live view, redrawn every few seconds: new-alert toasts, Connectivity, the pair's metrics and
the tabs Spread & z-score, Prices (with the bid-ask band), Quoted spread & cost, Funding (USD-M
futures), Correlation and Downloads.

``live_section`` is run as a fragment by the page. Each run does one incremental read
(``data.load_view``), then draws; nothing heavy is computed here.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import streamlit as st

from pairdesk import analytics, store
from pairdesk.dashboard import alerts_data, charts, data, downloads, quotes_view, url_state
from pairdesk.dashboard.data import Database, PairView, Settings, last_value
from pairdesk.dashboard.elements import plot, shown_errors
from pairdesk.dashboard.formatting import (
    correlation_label,
    format_bps,
    format_correlation,
    format_count,
    format_level,
    format_price,
    format_ratio,
    format_spread,
    format_time,
    format_z,
    md_escape,
    price_decimals,
)
from pairdesk.dashboard.markers import hidden_caption
from pairdesk.dashboard.status import connectivity, empty_database_note

MAX_TOASTS = 5  # alerts announced one by one per refresh; more are summed up in one toast
TOAST_ICONS = {"UP": ":material/trending_up:", "DOWN": ":material/trending_down:"}


def live_section(db: Database, s: Settings) -> None:
    """The fragment that refreshes every few seconds: announce new alerts, read what is new, then draw."""
    with shown_errors("alert notifications"):
        announce_alerts(db)
    with shown_errors("live view"):
        draw_live(db, s)


def announce_alerts(db: Database) -> None:
    """A toast for each alert stored since this session last looked (a session's first look announces nothing)."""
    seen = st.session_state.get("alerts_seen")
    newest, events = alerts_data.new_events(db.path, seen[1] if seen and seen[0] == db.key else None)
    st.session_state["alerts_seen"] = (db.key, newest)
    for event in events.tail(MAX_TOASTS).itertuples():
        st.toast(f"**{md_escape(event.rule_name)}**  \n{md_escape(event.message)}", icon=TOAST_ICONS[event.direction],
                 duration="long")
    if len(events) > MAX_TOASTS:
        st.toast(f"{len(events) - MAX_TOASTS} more alerts: see Alerts › History.", icon=":material/notifications:")


def draw_live(db: Database, s: Settings) -> None:
    """Connectivity, the live metrics and the live tabs, from one incremental read."""
    now_ms = store.now_ms()
    view = data.load_view(db, s)
    if view.symbols != db.symbols or view.db_key != db.key:  # a new symbol, or the file was replaced
        st.rerun(scope="app")
    connectivity(view.status, db.symbols, now_ms, s.tz, db.path)
    if not s.pair:
        st.info(empty_database_note(view.status, now_ms))
        return
    st.subheader("Live pair" if view.has_pair else f"Live · {s.symbol_a}")
    metrics(view)
    window_caption(view)
    if not view.has_pair:
        st.info(f"Only {s.symbol_a} is in the database: pair analytics need two symbols. Add one to the ingestor "
                f"(`--symbols`) or import its history below.")
        candle_charts(view, db)
        return
    for note in window_notes(view):
        st.info(note)
    names = ["spread", "prices", "costs", *(["funding"] if view.funding is not None else []), "correlation",
             "downloads"]
    tabs, opened = url_state.live_tabs(names)
    markers_note = hidden_caption(view.hidden_markers)
    colors = charts.symbol_colors(db.symbols)
    # Only the open tab is drawn: opening another reruns the page (the browser would otherwise redraw
    # every tab's charts at each refresh, hours of one-second bars each).
    with tabs[opened]:
        if opened == "spread":
            plot(charts.spread_zscore_figure(view.panel, s.z_threshold, s.tz, s.hedge_label, view.gaps, s.tf_ms,
                                             view.events, s.spread_kind, view.quote_gaps), "spread_chart")
            if markers_note:
                st.caption(markers_note)
            if not charts.is_static(view.panel["hedge_ratio"]):
                plot(charts.hedge_ratio_figure(view.panel, s.tz, s.hedge_label, s.tf_ms, view.quote_gaps),
                     "hedge_chart")
        elif opened == "prices":
            plot(charts.price_comparison_figure(view.panel, s.symbol_a, s.symbol_b, s.tz, colors, view.events,
                                                s.tf_ms, view.quote_gaps), "price_chart")
            if markers_note:
                st.caption(markers_note)
            candle_charts(view, db)
        elif opened == "costs":
            quotes_view.cost_panel(view, colors)
        elif opened == "funding":
            quotes_view.funding_panel(view, colors, now_ms)
        elif opened == "correlation":
            plot(charts.rolling_correlation_figure(view.panel, s.tz, s.window, s.tf_ms, view.quote_gaps,
                                                   s.correlation), "corr_chart")
        else:
            download_buttons(view, db)


def metrics(view: PairView) -> None:
    """The pair's latest figures in one compact row."""
    s, panel = view.settings, view.panel
    cols = st.columns(6)
    decimals = tick_decimals(view)
    for col, symbol in zip(cols, s.pair):
        candles = view.candles[symbol]
        col.metric(symbol, format_price(last_value(candles, "close"), decimals[symbol]), border=True,
                   help=f"Last close at {format_time(candles['ts_ms'].iloc[-1] if len(candles) else None, s.tz)}")
    if not view.has_pair:
        return
    z = last_value(panel, "zscore")
    signal = "inside the bands" if not math.isfinite(z) or abs(z) < s.z_threshold else (
        "above +band: spread rich" if z > 0 else "below −band: spread cheap")
    hedge = signal_help(s)
    cols[2].metric("Hedge ratio β", format_ratio(last_value(panel, "hedge_ratio")), border=True,
                   help=f"{hedge}: units of {s.symbol_b} per {s.symbol_a}; α = "
                        f"{format_spread(last_value(panel, 'alpha'), s.spread_kind, decimals[s.symbol_a])}")
    cols[3].metric("Spread", format_spread(last_value(panel, "spread"), s.spread_kind, decimals[s.symbol_a]),
                   border=True, help=f"{SPREAD_HELP[s.spread_kind]}; {format_bps(last_value(panel, 'spread_bps'), 2)} "
                                     f"of {s.symbol_a}. {hedge}.")
    cols[4].metric("z-score", format_z(z), delta=signal if math.isfinite(z) else None, delta_color="off",
                   delta_arrow="off", border=True,
                   help=f"{ZSCORE_HELP.get(s.hedge, ZSCORE_HELP['rolling']).format(window=s.window)}; bands at "
                        f"±{format_level(s.z_threshold)}. {hedge}.")
    cols[5].metric(correlation_label(s.correlation), format_correlation(last_value(panel, s.corr_column)),
                   border=True, help=f"Rolling {s.window}-bar correlation of the {CORRELATION_OF[s.correlation]} of "
                                     f"{s.symbol_a} and {s.symbol_b} (the sidebar's 'Correlations of' switches it)")


CORRELATION_OF = {"returns": "bars' log returns", "prices": "price levels"}


def tick_decimals(view: PairView) -> dict[str, int | None]:
    """Each pair symbol's price decimals, from the closes in view (``formatting.price_decimals``)."""
    return {symbol: price_decimals(view.candles[symbol]["close"]) for symbol in view.settings.pair}


SPREAD_HELP = {"price": "The residual A − α − β·B in price units of A (intercept included)",
               "log": "The residual ln A − α − β·ln B (log units)", "ratio": "The ratio A / B (no hedge)"}
ZSCORE_HELP = {"rolling": "The spread against the residuals of the same (α, β) over the {window} bars ending here",
               "kalman": "The Kalman filter's standardised one-step forecast error"}


def signal_help(s: Settings) -> str:
    """Which bars the hedge uses, as the cards' help says it ("in-sample: uses future bars" for ols_insample)."""
    if not s.causal:
        return f"{s.hedge_label}: fitted once on every retained bar, later ones included"
    return f"{s.hedge_label} hedge estimated on the {s.hedge_window} bars before each bar, never later ones"


def window_caption(view: PairView) -> None:
    """What the charts cover, and whether the lookback was clipped to ``MAX_CHART_BARS``."""
    s = view.settings
    clipped = (f" (the {s.lookback} lookback is clipped to the last {format_count(data.MAX_CHART_BARS)} bars: "
               f"choose a coarser timeframe to see further)") if view.clipped else ""
    st.caption(f"Charts: {s.timeframe} bars from {format_time(view.first_ms, s.tz)} to "
               f"{format_time(view.end_ms, s.tz)}{clipped}")


def window_notes(view: PairView) -> list[str]:
    """Why parts of the pair view are empty: too little data for the window, constant prices..."""
    s, panel = view.settings, view.panel
    if not view.has_pair:
        return []
    if len(panel) == 0:
        return [f"{s.symbol_a} and {s.symbol_b} have no overlapping bars in this window: nothing to pair yet."]
    notes = []
    for symbol, column in zip(s.pair, ("price_a", "price_b")):
        prices = panel[column].to_numpy("float64")
        if len(prices) > 1 and np.nanmax(prices) == np.nanmin(prices):
            notes.append(f"{symbol}'s price is constant in this window ({format_price(prices[0], price_decimals(prices))}): hedge ratio, "
                         f"spread z-score and correlation are undefined until it moves.")
    if notes:
        return notes
    longest = int(panel.groupby("segment").size().max())
    if s.causal and s.spread_kind != "ratio" and not np.isfinite(panel["spread"].to_numpy("float64")).any():
        notes.append(f"The hedge window ({s.hedge_window} bars) is longer than the aligned data available "
                     f"(at most {longest} consecutive bars of {s.timeframe} in view): the hedge, the spread and the "
                     f"z-score appear once {s.hedge_window + 1} bars exist without a hole. Shorten the hedge window, "
                     f"choose a finer timeframe, or wait for more data.")
    elif not np.isfinite(panel["zscore"].to_numpy("float64")).any():
        notes.append(f"The rolling window ({s.window} bars) is longer than the aligned data available "
                     f"({longest} consecutive bars of {s.timeframe} in view): z-score and correlation appear once "
                     f"{s.window} bars exist. Shorten the window, choose a finer timeframe or a longer lookback.")
    return notes


def candle_charts(view: PairView, db: Database) -> None:
    """Candlesticks with volume, one chart per symbol of the pair, gaps shaded; with quotes, the bid-ask
    band and the quoted spread in bps, quote gaps shaded "no quotes"."""
    s = view.settings
    colors = charts.symbol_colors(db.symbols)
    for column, symbol in zip(st.columns(len(s.pair)), s.pair):
        gaps = view.gaps[view.gaps["symbol"] == symbol] if len(view.gaps) else view.gaps
        quote_gaps = view.quote_gaps[view.quote_gaps["symbol"] == symbol] if len(view.quote_gaps) else None
        with column:
            plot(charts.candlestick_figure(view.candles[symbol], symbol, s.tz, colors[symbol], s.timeframe, gaps,
                                           s.tf_ms, view.quote_bars.get(symbol), quote_gaps), f"candles_{symbol}")


def download_buttons(view: PairView, db: Database) -> None:
    """CSV files of the charted window, built only when a button is clicked."""
    s = view.settings
    st.caption(f"The charted window, {format_time(view.first_ms, s.tz)} → {format_time(view.end_ms, s.tz)}. "
               f"ts_ms is UTC epoch milliseconds; `time` is the same instant in {s.tz}.")
    pair = "_".join(s.pair)
    trades, bars, panel_column = st.columns(3)
    trades.download_button(
        "Trades (CSV)",
        functools.partial(downloads.trades_csv, db.path, s.pair, view.start_ms, view.end_ms + s.tf_ms, s.tz),
        file_name=f"trades_{pair}_{s.lookback.replace(' ', '')}.csv", mime="text/csv", key="dl_trades",
        on_click="ignore", icon=":material/download:",
        help=f"Raw trades, at most {format_count(downloads.MAX_DOWNLOAD_TRADES)} per symbol")
    bars.download_button(
        f"Bars {s.timeframe} (CSV)", functools.partial(downloads.bars_csv, view.candles, s.tz),
        file_name=f"bars_{pair}_{s.timeframe}.csv", mime="text/csv", key="dl_bars", on_click="ignore",
        icon=":material/download:")
    panel_column.download_button(
        "Analytics table (CSV)", functools.partial(downloads.analytics_csv, view.panel),
        file_name=downloads.analytics_file_name(s), mime="text/csv", key="dl_analytics", on_click="ignore",
        icon=":material/download:", help="What the analytics CLI writes with these settings: "
                                        + ",".join(analytics.CLI_COLUMNS))
