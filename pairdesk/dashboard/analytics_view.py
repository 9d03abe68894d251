"""The Analytics section: mean-reversion tests, backtest, correlation matrix, summary statistics and
the hourly summary, as tabs.

``analytics_section`` is run as a fragment by the page, at most every ``data.HEAVY_REFRESH_S``
seconds; the results come from the cached ``data.heavy_analytics``, the wording from ``verdicts``.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from pairdesk.dashboard import backtest_view, charts, data
from pairdesk.dashboard.data import Analytics, Database, Settings
from pairdesk.dashboard.elements import plot, show_notice, shown_errors
from pairdesk.dashboard.formatting import (
    correlation_label,
    format_age,
    format_correlation,
    format_count,
    format_hours,
    format_percent,
    format_price,
    format_ratio,
    format_spread,
    format_z,
    price_decimals,
)
from pairdesk.dashboard.verdicts import headline, tests_table
from pairdesk.markets import FUTURES

MAX_HEATMAP_SYMBOLS = 12
TESTS_NOTE = ("The headline is Engle-Granger's test at 5 % (the residual of price A on [1, price B], judged with "
              "MacKinnon's critical values for an estimated regression), with Johansen's trace test as a second "
              "opinion; the hedge, the half-life and both tests use the same n rows of the last contiguous stretch "
              "of data. The ADF and the Hurst exponent describe the chosen spread: they are details, not tests of "
              "cointegration.")


def analytics_section(db: Database, s: Settings) -> None:
    """The fragment for the heavy panels (tests, backtest, summaries): cached, at most every ``HEAVY_REFRESH_S``."""
    if len(s.pair) < 2:
        return
    st.subheader("Analytics", help=f"Recomputed at most every {data.HEAVY_REFRESH_S} s; the tests and the backtest "
                                   f"use the last {format_count(data.HEAVY_TEST_ROWS)} bars of the charted window.")
    with shown_errors("analytics"):
        draw_analytics(db, s)


def draw_analytics(db: Database, s: Settings) -> None:
    """Mean reversion, backtest, correlation matrix, summary statistics and hourly summary tabs."""
    view = data.load_view(db, s)
    all_bars = data.retained_bars(db, db.symbols[:MAX_HEATMAP_SYMBOLS])
    if len(view.panel) == 0:
        st.info("No aligned bars of the pair yet: the analytics appear once both symbols have data in the window.")
        return
    params, params_error = backtest_view.chosen_params()
    results = data.heavy_analytics(view, all_bars, (*data.heavy_key(db, s), params))
    decimals = {symbol: price_decimals(candles["close"]) for symbol, candles in view.candles.items()}
    tests_tab, backtest_tab, matrix_tab, summary_tab, hourly_tab = st.tabs(
        ["Mean reversion", "Backtest", "Correlation matrix", "Summary statistics", "Hourly summary"],
        key="analytics_tabs")
    with tests_tab:
        show_notice(*headline(results.tests, s))
        st.dataframe(tests_table(results.tests, s), hide_index=True, key="tests_table")
        st.caption(TESTS_NOTE)
    with backtest_tab:
        backtest_view.backtest_panel(results, s, params_error, futures=db.market == FUTURES)
    with matrix_tab:
        what = f"{s.timeframe} log returns" if s.correlation == "returns" else f"{s.timeframe} price levels (closes)"
        plot(charts.correlation_heatmap(results.correlation, f"Correlation of {what}"), "heatmap_chart")
        st.caption("Switch between returns and price levels with 'Correlations of' in the sidebar.")
        if len(db.symbols) > MAX_HEATMAP_SYMBOLS:
            st.caption(f"The first {MAX_HEATMAP_SYMBOLS} of {len(db.symbols)} symbols.")
    with summary_tab:
        summary_table(results, s, decimals)
    with hourly_tab:
        hourly(results, s, decimals)


SUMMARY_NAMES = {"last": "Last price", "mean": "Mean close", "std": "Std dev of closes", "min": "Low", "max": "High",
                 "vwap": "VWAP"}
FINER = {"mean": 2, "std": 2, "vwap": 2}  # statistics of prices shown two decimals finer than the tick


def summary_table(results: Analytics, s: Settings, decimals: dict[str, int | None]) -> None:
    """Per-symbol statistics with human headers: prices to each symbol's tick, volatility in percent."""
    summary = results.summary.rename_axis("symbol").reset_index()
    shown = pd.DataFrame({"Symbol": summary["symbol"], "Bars": [format_count(v) for v in summary["bars"]]})
    ticks = [decimals.get(symbol) for symbol in summary["symbol"]]
    for column, label in SUMMARY_NAMES.items():
        shown[label] = [format_price(v, None if d is None else d + FINER.get(column, 0))
                        for v, d in zip(summary[column], ticks)]
    shown["Annualised volatility"] = [format_percent(v, 2) for v in summary["annualised_volatility"]]
    shown["Volume (base units)"] = [format_ratio(v) for v in summary["volume"]]
    shown["Trades"] = [format_count(v) for v in summary["trades"]]
    st.dataframe(shown, hide_index=True, key="summary_table")
    st.caption(f"{s.timeframe} bars of the charted window. Volatility: the standard deviation of the bars' log "
               f"returns, annualised (365-day year). Mean, std dev and VWAP two decimals finer than the tick.")


HOURLY_NAMES = {"hour": "Hour", "rows": "Bars", "spread_mean": "Spread mean", "spread_std": "Spread std dev",
                "zscore_mean": "z-score mean", "zscore_max": "z-score max"}
PRICE_STATS = {"first": "first", "last": "last", "min": "low", "max": "high", "mean": "mean", "std": "std dev"}


def hourly(results: Analytics, s: Settings, decimals: dict[str, int | None]) -> None:
    """The hourly summary table: each row labelled by the hour it covers in the display zone, legs by symbol,
    every number in its kind's format."""
    table = results.hourly
    st.caption(f"Per hour of the retained data ({format_age(results.hourly_span_ms)}) at {s.timeframe}, window "
               f"{s.window}, {s.hedge_label} hedge; each row is the hour it covers, in {s.tz}.")
    if len(table) == 0:
        st.info("No complete pair data yet for an hourly summary.")
        return
    corr = correlation_label(s.correlation)
    shown = pd.DataFrame({"Hour": format_hours(table["hour_start_ms"], s.tz),
                          "Bars": [format_count(v) for v in table["rows"]]})
    for leg, symbol in (("price_a", s.symbol_a), ("price_b", s.symbol_b)):
        for stat, label in PRICE_STATS.items():
            tick = decimals.get(symbol)
            finer = None if tick is None else tick + FINER.get(stat, 0)
            shown[f"{symbol} {label}"] = [format_price(v, finer) for v in table[f"{leg}_{stat}"]]
    for column in ("spread_mean", "spread_std"):
        shown[HOURLY_NAMES[column]] = [format_spread(v, s.spread_kind, decimals.get(s.symbol_a)) for v in table[column]]
    for column in ("zscore_mean", "zscore_max"):
        shown[HOURLY_NAMES[column]] = [format_z(v) for v in table[column]]
    for stat in ("mean", "min", "max"):
        shown[f"{corr}, {stat}"] = [format_correlation(v) for v in table[f"corr_{stat}"]]
    st.dataframe(shown, hide_index=True, key="hourly_table")
