"""The Scanner section: the latest stored pair scan, ranked (``scanner.read_latest_rows``: the rows the
CLI's CSV and ``GET /api/scanner`` give), filterable by significance and half-life, sortable by any
column; when and how it was scanned; a rescan button (a scan in its own low-priority process, behind
the write guard); and a pair picker that opens the chosen pair in the main view with the scan's
settings (the sidebar's ``symbol_a`` / ``symbol_b`` / ``timeframe`` / ``window`` / ``hedge`` /
``hedge_window``, and the query parameters ``a`` / ``b`` / ``tf``). The page only reads the results;
the scan process writes them."""
from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from pairdesk import scanner, store
from pairdesk.dashboard import data, sidebar, write_access
from pairdesk.dashboard.elements import attempt, show_outcome
from pairdesk.dashboard.formatting import format_time

SHOWN_COLUMNS = {"rank": "Rank", "symbol_a": "A", "symbol_b": "B", "significant": "Significant",
                 "q_value": "q-value", "p_value": "p-value", "stable": "Stable", "half_life": "Half-life (bars)",
                 "return_corr": "Return corr.", "zscore": "z now", "beta": "β", "spread_vol_bps": "Spread vol (bps)",
                 "expected_move_bps": "Expected move (bps)", "round_trip_bps": "Round trip (bps)",
                 "johansen_rank": "Johansen rank", "score": "Score", "rows": "Bars"}
OUTCOME_KEY = "scanner_outcome"
PICK_KEY = "scanner_pair"


def scanner_table(rows: list[dict], significant_only: bool = False, half_life_min: float | None = None,
                  half_life_max: float | None = None) -> pd.DataFrame:
    """The rows (``scanner.scan_rows``) shown, filtered, with the SHOWN_COLUMNS labels, by rank."""
    frame = pd.DataFrame(rows, columns=store.SCAN_RESULT_COLUMNS)
    keep = pd.Series(True, index=frame.index)
    if significant_only:
        keep &= frame["significant"].astype(bool)
    half_life = pd.to_numeric(frame["half_life"], errors="coerce")
    if half_life_min is not None:
        keep &= half_life >= half_life_min
    if half_life_max is not None:
        keep &= half_life <= half_life_max
    return frame[keep][list(SHOWN_COLUMNS)].rename(columns=SHOWN_COLUMNS).reset_index(drop=True)


def scan_caption(scan: dict, tz: str) -> str:
    """When and how the scan ran, in one line."""
    params = scan["params"]
    lookback_h = scan["lookback_ms"] / 3_600_000
    span = f"{lookback_h / 24:g} days" if lookback_h >= 24 else f"{lookback_h:g} h"
    return (f"Scan {scan['scan_id']} of {len(scan['symbols'])} symbols ({scan['pairs']:,} pairs) at "
            f"{scan['timeframe']} bars over {span}, finished {format_time(scan['finished_ms'], tz)}: "
            f"false discovery rate {params['fdr_level']:g}, stability at {params['stability_level']:g} on each half, "
            f"half-life {params['half_life_min_bars']:g} to "
            f"{'a tenth of the bars' if params['half_life_max_bars'] is None else params['half_life_max_bars']} bars, "
            f"{params['hedge']} hedge over {params['hedge_window']} bars, z window {params['window']}.")


def _open_pair(pair: tuple[str, str], scan: dict) -> None:
    """Show ``pair`` in the main view with the scan's settings: its timeframe, z window, hedge and hedge
    window, the price spread (a callback: it runs before the sidebar is drawn), so the page's z of
    the last bar is the scan's."""
    params = scan["params"]
    state = st.session_state
    state["symbol_a"], state["symbol_b"] = pair
    if scan["timeframe"] in data.TIMEFRAMES:
        state["timeframe"] = scan["timeframe"]
    if sidebar.WINDOW_RANGE_BARS[0] <= params["window"] <= sidebar.WINDOW_RANGE_BARS[1]:
        state["window"] = params["window"]
    if sidebar.HEDGE_WINDOW_RANGE_BARS[0] <= params["hedge_window"] <= sidebar.HEDGE_WINDOW_RANGE_BARS[1]:
        state["hedge_window"] = params["hedge_window"]
    state["hedge"], state["spread_kind"] = params["hedge"], "price"
    st.query_params.update({"a": pair[0], "b": pair[1], "tf": scan["timeframe"]})


def _rescan(path: str, scan: dict | None) -> str:
    write_access.guard()
    settings = scanner.ScanSettings() if scan is None else scanner.ScanSettings.from_params(scan["params"])
    try:
        scan_id = scanner.start_scan(path, settings)
    except scanner.ScanBusy as exc:
        return f"Not started: {exc}."
    return f"Scan {scan_id} started; its results replace these when it finishes."


def _number(key: str, label: str) -> float | None:
    value = st.number_input(label, min_value=0.0, value=None, step=1.0, key=key, placeholder="any")
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def scanner_section(db: data.Database, tz: str) -> None:
    """The Scanner section (see the module docstring)."""
    st.subheader("Scanner", anchor="scanner")
    with data.reader(db.path) as conn:
        read = scanner.read_latest_rows(conn)
    newest = read.newest
    if newest is not None and newest["status"] == "running":
        st.caption(f":material/hourglass_top: Scan {newest['scan_id']} is running "
                   f"(since {format_time(newest['requested_ms'], tz)}).")
    elif newest is not None and newest["status"] == "failed":
        st.warning(f"The last scan ({newest['scan_id']}) failed: {newest['error']}")
    left, right = st.columns([4, 1])
    right.button("Rescan", key="scanner_rescan", icon=":material/refresh:", disabled=write_access.locked(),
                 on_click=lambda: attempt(OUTCOME_KEY, lambda: _rescan(db.path, read.scan)),
                 help="Scan every pair again with the last scan's settings, in its own low-priority process.")
    with right:
        write_access.explain()
    show_outcome(OUTCOME_KEY)
    if read.scan is None:
        left.info("No pair scan stored yet: run_all.py scans every 15 minutes, or press Rescan "
                  "(or run `analytics_engine.py scan --db ... --out scan.csv`).")
        return
    left.caption(scan_caption(read.scan, tz))
    filters = st.columns(3)
    with filters[0]:
        significant = st.toggle("Significant only", key="scanner_significant",
                                help=f"q-value at or below the false discovery rate "
                                     f"{read.scan['params']['fdr_level']:g} (Benjamini-Hochberg)")
    with filters[1]:
        low = _number("scanner_half_life_min", "Half-life from (bars)")
    with filters[2]:
        high = _number("scanner_half_life_max", "Half-life to (bars)")
    table = scanner_table(read.rows, significant, low, high)
    st.dataframe(table, key="scanner_table", hide_index=True, use_container_width=True)
    st.caption(f"{len(table):,} of {len(read.rows):,} pairs shown, best first; click a column to sort.")
    pairs = list(zip(table["A"], table["B"]))
    if not pairs:
        return
    pick, go = st.columns([4, 1])
    chosen = pick.selectbox("Pair", pairs, key=PICK_KEY, format_func=lambda p: f"{p[0]} / {p[1]}")
    go.button("Open in the main view", key="scanner_open", icon=":material/open_in_new:",
              on_click=_open_pair, args=(tuple(chosen), read.scan),
              disabled=not all(s in db.symbols for s in chosen))
