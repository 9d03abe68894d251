"""The Analytics section: mean-reversion tests, backtest, correlation matrix, summary statistics and
the hourly summary, as tabs.

``analytics_section`` is run as a fragment by the page, at most every ``data.HEAVY_REFRESH_S``
seconds; the results come from the cached ``data.heavy_analytics``, the wording from ``verdicts``.
"""
from __future__ import annotations

import streamlit as st

from pairdesk.dashboard import backtest_view, charts, data
from pairdesk.dashboard.data import Analytics, Database, Settings
from pairdesk.dashboard.elements import plot, show_notice, shown_errors
from pairdesk.dashboard.formatting import format_age, format_count, format_times
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
        plot(charts.correlation_heatmap(results.correlation, f"Correlation of {s.timeframe} log returns"),
             "heatmap_chart")
        if len(db.symbols) > MAX_HEATMAP_SYMBOLS:
            st.caption(f"The first {MAX_HEATMAP_SYMBOLS} of {len(db.symbols)} symbols.")
    with summary_tab:
        summary = results.summary.rename_axis("symbol").reset_index()
        st.dataframe(summary, hide_index=True, key="summary_table",
                     column_config={"annualised_volatility": st.column_config.NumberColumn(format="percent")})
    with hourly_tab:
        hourly(results, s)


def hourly(results: Analytics, s: Settings) -> None:
    """The hourly summary table, hours shown in the display zone and legs by symbol."""
    table = results.hourly
    st.caption(f"Per hour of the retained data ({format_age(results.hourly_span_ms)}) at {s.timeframe}, window "
               f"{s.window}, {s.hedge_label} hedge; hours start in UTC and are shown in {s.tz}.")
    if len(table) == 0:
        st.info("No complete pair data yet for an hourly summary.")
        return
    shown = table.copy()
    shown.insert(0, "hour", format_times(shown.pop("hour_start_ms"), s.tz, "%Y-%m-%d %H:%M"))
    shown.columns = [c.replace("price_a", s.symbol_a).replace("price_b", s.symbol_b) for c in shown.columns]
    st.dataframe(shown, hide_index=True, key="hourly_table")
