"""The top of the page: which database it opens, its title and DEMO label, and what it shows while
the database cannot be read yet.

    streamlit run app.py -- --db ticks.db          (or: TICKS_DB=ticks.db streamlit run app.py)
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from pairdesk import store
from pairdesk.dashboard import data
from pairdesk.dashboard.data import Database, Settings

DEFAULT_DB = "ticks.db"
DB_ENV_VAR = "TICKS_DB"
WAIT_RETRY_S = 2  # how often a page waiting for its database looks again


def database_path(argv: Sequence[str] | None = None) -> str:
    """``--db PATH`` after ``streamlit run app.py --``, else $TICKS_DB, else ticks.db."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    known, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    return known.db or os.environ.get(DB_ENV_VAR) or DEFAULT_DB


def wait_for_database(path: str, problem: str) -> None:
    """The page while the database is missing or being created: say what to do, look again every few seconds."""
    st.title("Pairs desk")
    shown = store.display_name(path)
    if store.is_url(path):
        st.error(f"`{shown}` cannot be read: {problem}. Start the ingestor on it (`python data_ingestor.py --db "
                 f"{shown}`), or pass another database: `streamlit run app.py -- --db PATH_OR_URL`.")
    elif not Path(path).exists():
        st.error(f"No database at `{path}`. Start the ingestor (`python data_ingestor.py --db {path}`, or "
                 f"`make demo`), or pass the database: `streamlit run app.py -- --db PATH` (or set {DB_ENV_VAR}).")
    else:
        st.warning(f"`{path}` cannot be read yet: {problem}. If the ingestor is creating it, this page opens it "
                   f"by itself; otherwise pass another database with `--db PATH`.")

    def look_again() -> None:
        try:
            data.describe_database(path)
        except store.StoreError:
            st.caption(f"Looking again every {WAIT_RETRY_S} s…")
            return
        st.rerun(scope="app")

    st.fragment(look_again, run_every=WAIT_RETRY_S)()


def page_header(db: Database, s: Settings) -> None:
    """Title with the pair, the DEMO label when the data is from the local exchange, what is shown."""
    title, badge = st.columns([5, 1], vertical_alignment="bottom")
    pair = " / ".join(s.pair) if s.pair else "no symbols yet"
    title.title(f"Pairs desk · {pair}")
    if db.demo:
        badge.badge("DEMO data", icon=":material/science:", color="orange",
                    help="This database was filled from the local exchange simulator, not from Binance.")
    live = "paused" if s.refresh_s is None else f"refreshing every {s.refresh_s} s"
    st.caption(f"`{db.path}` · {db.market} {db.stream} · {len(db.symbols)} symbol(s) · times in {s.tz} · {live}")
    if db.demo:
        st.warning("DEMO: this data comes from the local exchange simulator (`exchange_sim.py`), not from Binance.",
                   icon=":material/science:")
