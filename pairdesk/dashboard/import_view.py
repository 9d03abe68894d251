"""Import history: upload a Binance dump or a simple bars file into the open database.

Parse -> check -> store is the one shared path of every import (the CLI and the API use it too):
``history.parse_history``, ``history.check_fits_database``, ``importer.store_parsed``. This
section only adds the widgets, a progress bar and the message that says what was stored. Beyond
loopback an upload needs the desk's token (``write_access``): the uploader is disabled without it.
"""
from __future__ import annotations

import sqlite3

import streamlit as st

from pairdesk import history, store
from pairdesk.dashboard import write_access
from pairdesk.dashboard.data import Database
from pairdesk.dashboard.elements import show_notice
from pairdesk.dashboard.formatting import format_count, format_time
from pairdesk.history import importer

PARSED_SHARE = 0.5  # of the progress bar: parsing and checking; storing fills the rest

IMPORT_HELP = """
Binance dumps (data.binance.vision) as they come, `.csv` or `.zip`: spot or futures **trades** and
**aggTrades**, and **klines** of any interval; times in ms or µs, a header row or none; into a
futures database also USD-M **bookTicker** dumps (stored as one-second quote bars) and
**fundingRate** dumps (settled funding rates). Or the
**simple format**: a header `time,open,high,low,close,volume`, then one bar per row, `time` in
epoch ms / µs or ISO 8601 (UTC unless an offset is given). The symbol comes from a Binance file name
(`BTCUSDT-trades-2024-01-01.csv`) or is chosen here. The whole file is checked before anything is
stored; trades already stored (live) are never overwritten, and bars, quote seconds and funding
rates are added only where none exist.
"""


def import_section(db: Database, tz: str) -> None:
    """Upload historical trades, bars, quotes or funding (Binance dump CSVs or the simple format) into the database."""
    st.subheader("Import history")
    done = st.session_state.pop("import_result", None)
    if done:
        show_notice(*done)
    with st.expander("Upload a CSV of trades, bars, quotes or funding", expanded=False):
        st.markdown(IMPORT_HELP)
        write_access.explain()
        upload = st.file_uploader("CSV or zip file", type=["csv", "zip"], key="import_file",
                                  disabled=write_access.locked())
        if upload is None:
            return
        named = history.symbol_from_file_name(upload.name)
        if named:
            symbol = named
            st.caption(f"Symbol **{symbol}** (from the file name)")
        else:
            symbol = st.selectbox("Symbol of this file", db.symbols, key="import_symbol", accept_new_options=True,
                                  index=None, placeholder="Choose or type a symbol, e.g. BTCUSDT")
        if st.button("Import", key="import_go", type="primary", disabled=not symbol or write_access.locked()):
            kind, message = import_file(db, upload.name, upload.getvalue(), symbol, tz)
            if kind != "success":
                show_notice(kind, message)
                return
            st.session_state["import_result"] = (kind, message)
            st.rerun()  # new symbols and bars show up everywhere


def import_file(db: Database, file_name: str, content: bytes, symbol: str, tz: str) -> tuple[str, str]:
    """Parse, check and store one uploaded file with a progress bar; returns the (kind, message) to show."""
    try:
        write_access.guard()
    except write_access.WriteRefused as exc:
        return "error", f"{file_name}: not imported. {exc}"
    progress = st.progress(0.0, text=f"Checking {file_name}…")
    try:
        parsed = history.parse_history(content, file_name, symbol,
                                       on_progress=lambda f: progress.progress(f * PARSED_SHARE, text="Checking…"))
        history.check_fits_database(parsed, db.market, db.stream)
    except history.HistoryImportError as exc:
        progress.empty()
        return "error", f"{file_name}: {exc}. Nothing was stored."
    try:
        stored = importer.store_parsed(
            db.path, parsed, db.market, db.stream,
            lambda f: progress.progress(PARSED_SHARE + f * (1 - PARSED_SHARE), text="Storing…"))
    except (store.StoreError, sqlite3.Error) as exc:
        progress.empty()
        return "error", f"{file_name}: could not store ({exc}). Trades already stored stay; importing again is safe."
    progress.empty()
    what = history.stored_unit(parsed.kind)
    span = f"{format_time(parsed.first_ms, tz)} → {format_time(parsed.last_ms, tz)}"
    dropped = f" {format_count(stored.stale)} updates too far out of order were dropped." if stored.stale else ""
    return "success", (f"{file_name}: {parsed.format.name}, {format_count(parsed.rows)} rows of {parsed.symbol} "
                       f"({span}); {format_count(stored.new)} new {what} stored, {format_count(stored.already)} "
                       f"were already there.{dropped}")
