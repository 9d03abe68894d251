"""The pairs desk: a live Streamlit dashboard over the tick database.

    streamlit run app.py -- --db ticks.db          (or: TICKS_DB=ticks.db streamlit run app.py)

The page, top to bottom: the header (database, DEMO label), Connectivity, the live metrics and
tabs (Spread & z-score, Prices, Quoted spread & cost, Funding on
USD-M futures, Correlation, Downloads), Analytics (mean-reversion tests,
backtest, correlation matrix, summary statistics, hourly summary), the Scanner (the ranked pairs of
the latest stored scan), Alerts (rules and history)
and Import history; the sidebar holds the settings and the symbols the ingestor follows.

The live fragment redraws every few seconds (and announces new alerts with a toast); the heavy
panels refresh every ``data.HEAVY_REFRESH_S`` seconds; the alert history and the watchlist
refresh with the live view. The settings and the live tab live in the URL (``url_state``): a reload
keeps them, a link reproduces the view. Each section is its own module; this one only lays them out.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from pairdesk import store
from pairdesk.dashboard import data, url_state
from pairdesk.dashboard.alerts_view import alerts_section
from pairdesk.dashboard.analytics_view import analytics_section
from pairdesk.dashboard.elements import shown_errors
from pairdesk.dashboard.header import database_path, page_header, wait_for_database
from pairdesk.dashboard.import_view import import_section
from pairdesk.dashboard.live import live_section
from pairdesk.dashboard.scanner_view import scanner_section
from pairdesk.dashboard.sidebar import sidebar

# Metric values sized so that six fit in one row of a laptop screen (Streamlit's default is larger);
# the rules table in a smaller type, so that its twelve columns fit beside the sidebar.
FAVICON = Path(__file__).with_name("favicon.png")  # served by the page itself: a :material: icon is fetched from Google
PAGE_CSS = """<style>
[data-testid="stMetricValue"] { font-size: 1.55rem; }
[data-testid="stMetricLabel"] { font-size: 0.8rem; }
.st-key-rules_table p, .st-key-rules_table code { font-size: 0.85rem; }
</style>"""


def main() -> None:
    """The page: header, live fragment, heavy fragment, alerts, import; the sidebar beside them."""
    st.set_page_config(page_title="Pairs desk", page_icon=str(FAVICON), layout="wide")
    st.html(PAGE_CSS)
    path = database_path()
    try:
        db = data.describe_database(path)
    except store.StoreError as exc:
        wait_for_database(path, str(exc))
        st.stop()
    settings = sidebar(db)
    page_header(db, settings)
    link_notes = st.container()  # filled last: the live tabs read the URL's tab while they draw
    st.fragment(live_section, run_every=settings.refresh_s)(db, settings)
    st.fragment(analytics_section, run_every=None if settings.refresh_s is None else data.HEAVY_REFRESH_S)(db, settings)
    with shown_errors("scanner"):
        scanner_section(db, settings.tz)
    alerts_section(db, settings)
    with shown_errors("import section"):
        import_section(db, settings.tz)
    url_state.show_warnings(link_notes)
