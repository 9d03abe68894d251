"""The sidebar: the pair and the analytics settings, the refresh, and the symbols the ingestor follows.

``sidebar`` returns what was chosen as a frozen ``Settings``, the argument every section takes. The
settings start from the page's URL and are written back to it (``url_state``: one key per setting).
The watchlist panel is a fragment refreshed with the live view; saving it checks the list with
``pairdesk.watchlist`` (the rule ``PUT /api/watchlist`` applies) before anything is written. Its
pause / resume control writes through ``store.set_collection``, as ``POST /api/stop`` / ``/api/start`` do.
Beyond loopback both need the desk's token (``write_access``: the "Write access" field, drawn first).
"""
from __future__ import annotations

import streamlit as st

from pairdesk import analytics, store, watchlist
from pairdesk.dashboard import data, url_state, write_access
from pairdesk.dashboard.data import Database, Settings
from pairdesk.dashboard.elements import attempt, keep_choice, show_outcome, shown_errors
from pairdesk.dashboard.formatting import format_count
from pairdesk.dashboard.status import STATUS_RULES
from pairdesk.dashboard.url_state import (  # noqa: F401 (re-exported)
    CORRELATIONS,
    DEFAULT_HEDGE_WINDOW_BARS,
    DEFAULT_TZ,
    DEFAULT_WINDOW_BARS,
    HEDGE_WINDOW_RANGE_BARS,
    NOTIONAL_RANGE,
    PREFERRED_PAIR,
    TIME_ZONES,
    WINDOW_RANGE_BARS,
    Z_RANGE,
)

REFRESH_CHOICES_S = (1, 2, 5, 10, 30)
DEFAULT_REFRESH_S = 2
SPREAD_KIND_LABELS = {"price": "Price: A − α − β·B", "log": "Log: ln A − α − β·ln B", "ratio": "Ratio: A / B"}
HEDGE_HELP = ("Each bar's hedge (α, β) is estimated from earlier bars only, so no value changes when later bars "
              "arrive: rolling OLS on the hedge window before the bar (the default, the alerts' signal), "
              "expanding OLS on every bar of the segment before it, Kalman (a dynamic regression; z is its "
              "standardised forecast error), Huber and Theil-Sen (robust fits on the hedge window, refitted "
              f"every 1/{analytics.ROBUST_REFITS_PER_WINDOW} of it). OLS ({analytics.INSAMPLE_LABEL}) fits the "
              "whole sample at once: a research view, never used by alerts or the backtest.")

MAX_LISTED_SYMBOLS = 30  # symbols named in the watchlist's caption; the box holds them all
WATCHLIST_HELP = (f"1 to {watchlist.MAX_WATCHLIST} Binance symbols (letters and digits, any case). Saving checks "
                  "them against the exchange's listing: a symbol it does not list as trading is refused (not "
                  "saved; the reason is shown), the others are saved. The running ingestor subscribes to added "
                  "symbols (pending until it does) and unsubscribes from removed ones within a few seconds.")


def sidebar(db: Database) -> Settings:
    """The controls; returns what they chose. Every widget has a stable key."""
    side = st.sidebar
    side.header("Pairs desk")
    write_access.token_field()
    url_state.load(db)  # the URL's settings (first run), defaults: every widget below starts from session state
    symbols = list(db.symbols)
    keep_choice("symbol_a", symbols, PREFERRED_PAIR[0])
    symbol_a = side.selectbox("Symbol A (dependent leg)", symbols, key="symbol_a", disabled=not symbols,
                              help="Regressed on B: spread = A − α − β·B.")
    others = [s for s in symbols if s != symbol_a]
    keep_choice("symbol_b", others, PREFERRED_PAIR[1])
    symbol_b = side.selectbox("Symbol B (hedge leg)", others, key="symbol_b", disabled=not others)
    timeframe = side.segmented_control("Timeframe", data.TIMEFRAMES, key="timeframe", required=True) \
        or url_state.DEFAULT_TIMEFRAME
    lookback = side.selectbox("Lookback", list(data.LOOKBACK_MS), key="lookback",
                              help=f"How far back the charts go from the newest bar (at most "
                                   f"{format_count(data.MAX_CHART_BARS)} bars).")
    window = int(side.number_input("Rolling window (bars)", *WINDOW_RANGE_BARS, step=10, key="window",
                                   help="Bars in the z-score's and the correlations' windows, ending at each bar."))
    z_threshold = float(side.number_input("z threshold", *Z_RANGE, step=0.1, format="%.1f", key="z_threshold",
                                          help="The ± bands of the z chart (the backtest has its own entry level, "
                                               "in its tab)."))
    hedge = side.selectbox("Hedge ratio", list(analytics.HEDGE_METHODS), format_func=data.HEDGE_LABELS.get,
                           key="hedge", help=HEDGE_HELP)
    hedge_window = int(side.number_input(
        "Hedge window (bars)", *HEDGE_WINDOW_RANGE_BARS, step=50, key="hedge_window",
        disabled=not analytics.is_causal(hedge),
        help="Bars the hedge is estimated on, ending one bar before each bar (rolling, Huber, Theil-Sen); the "
             "burn-in of expanding and Kalman, and Kalman's memory. An alert rule's lookback is its hedge window: "
             "its markers are drawn when both windows match the page's."))
    spread_kind = side.selectbox("Spread", list(analytics.SPREAD_KINDS), format_func=SPREAD_KIND_LABELS.get,
                                 key="spread_kind", help="Price: the residual in price units of A (and its bps); "
                                                         "log: of log prices; ratio: A / B, no hedge.")
    correlation = side.segmented_control(
        "Correlations of", list(CORRELATIONS), format_func=CORRELATIONS.get, key="correlation", required=True,
        help="What the live card, the rolling correlation, the correlation matrix and the hourly summary correlate: "
             "the bars' log returns (the default: how the legs move together) or their price levels (two trending "
             "prices correlate strongly whether or not they move together).") or url_state.DEFAULT_CORRELATION
    notional = float(side.number_input(
        "Notional (quote currency of A)", *NOTIONAL_RANGE, step=1_000.0, key="notional",
        help="The size the pair's costs at the touch and its funding carry are computed for: this much of A "
             "(e.g. USDT), against β units of B per unit of A."))
    tz = side.selectbox("Time zone", TIME_ZONES, key="tz", help="Display only: every time is stored in UTC.")
    side.divider()
    paused = side.toggle("Pause live updates", key="paused")
    refresh_s = side.selectbox("Refresh every", REFRESH_CHOICES_S, index=REFRESH_CHOICES_S.index(DEFAULT_REFRESH_S),
                               format_func=lambda s: f"{s} s", key="refresh_s", disabled=paused)
    refresh = None if paused else int(refresh_s)
    with side.expander("Symbols the ingestor follows", icon=":material/visibility:"):
        st.fragment(watchlist_panel, run_every=refresh)(db)
    with side.expander("How to read this page"):
        st.markdown(STATUS_RULES)
    settings = Settings(symbol_a, symbol_b, timeframe, lookback, window, z_threshold, hedge, tz, refresh,
                        hedge_window, spread_kind, notional, correlation)
    url_state.publish(settings)
    return settings


def watchlist_panel(db: Database) -> None:
    """The symbols the ingestor follows, and a box to change them (what ``PUT /api/watchlist`` does)."""
    with shown_errors("watchlist"):
        stored = data.read_watchlist(db.path)
        if st.session_state.get("watchlist_shown") != stored:  # first look, or the list changed: show what is stored
            st.session_state["watchlist_shown"] = stored
            st.session_state["watchlist_text"] = ", ".join(stored)
        if not stored:
            st.caption("No list stored yet: the ingestor follows the symbols it was started with (`--symbols`).")
        for state, symbols in states_by_kind(data.watchlist_states(db.path, db.market)).items():
            more = f" … and {len(symbols) - MAX_LISTED_SYMBOLS} more" if len(symbols) > MAX_LISTED_SYMBOLS else ""
            st.caption(f"{state.capitalize()} ({len(symbols)}): {', '.join(symbols[:MAX_LISTED_SYMBOLS])}{more}")
        st.text_area("Symbols, separated by commas or spaces", key="watchlist_text", height=90,
                     placeholder="BTCUSDT, ETHUSDT", help=WATCHLIST_HELP,
                     on_change=st.session_state.pop, args=("watchlist_outcome", None))
        write_access.explain()
        st.button("Save watchlist", key="watchlist_save", icon=":material/save:", on_click=save_watchlist,
                  args=(db.path, db.market), disabled=write_access.locked())
        show_outcome("watchlist_outcome")
        collection_control(db.path, stored)


PAUSE_HELP = ("Pause: the running ingestor unsubscribes the chosen symbols (none chosen: all it follows); their "
              "cards turn grey (paused) and the trades they miss are recorded as a paused gap. Resume subscribes "
              "again; tick 'fetch missed trades' to back-fill that gap (POST /api/stop, POST /api/start).")


def collection_control(path: str, followed: list[str]) -> None:
    """Pause and resume collection of followed symbols (what ``POST /api/stop`` / ``/api/start`` do)."""
    with data.reader(path) as conn:
        paused = store.paused_symbols(conn)
    st.caption(f"Paused: {', '.join(paused)}" if paused else "Collection runs for every followed symbol.")
    st.multiselect("Symbols to pause or resume (none: all)", followed, key="collection_symbols", help=PAUSE_HELP)
    st.checkbox("On resume, fetch missed trades", key="collection_backfill")
    pause_col, resume_col = st.columns(2)
    locked = write_access.locked()
    pause_col.button("Pause", key="collection_pause", icon=":material/pause:", on_click=change_collection,
                     args=(path, True), disabled=not followed or locked)
    resume_col.button("Resume", key="collection_resume", icon=":material/play_arrow:", on_click=change_collection,
                      args=(path, False), disabled=not followed or locked)
    show_outcome("collection_outcome")


def change_collection(path: str, pause: bool) -> None:
    """Pause / Resume button callback: ``store.set_collection`` on the chosen symbols (all when none)."""
    def write() -> str:
        backfill = bool(st.session_state.get("collection_backfill")) and not pause
        with data.writer(path) as conn:
            changed = store.set_collection(conn, st.session_state.get("collection_symbols") or None, pause,
                                           backfill)
        verb = "Paused" if pause else "Resumed" + (" with backfill" if backfill else "")
        return f"{verb}: {', '.join(changed) or 'nothing to change'}. The running ingestor follows within seconds."

    attempt("collection_outcome", write)


def states_by_kind(states: dict[str, str]) -> dict[str, list[str]]:
    """Symbols grouped by state, followed first, then pending, then each refusal."""
    groups: dict[str, list[str]] = {watchlist.FOLLOWED: [], watchlist.PENDING: []}
    for symbol, state in states.items():
        groups.setdefault(state, []).append(symbol)
    return {state: symbols for state, symbols in groups.items() if symbols}


def save_watchlist(path: str, market: str) -> None:
    """Save-button callback: check the typed symbols (the watchlist rule, then the exchange's listing), then
    replace the watchlist with those not refused (nothing is saved on an error or when all are refused)."""
    def write() -> str:
        write_access.guard()
        symbols = watchlist.parse_watchlist(st.session_state.get("watchlist_text", ""))
        states = data.watchlist_states(path, market, symbols, ask_exchange=True)
        keep = [s for s in watchlist.accepted(states) if s in symbols]
        refused = [s for s in symbols if s not in keep]
        if not keep:
            raise watchlist.WatchlistError(f"{', '.join(refused)}: {watchlist.refused_state(market)}")
        added, removed = data.save_watchlist(path, keep, {s: states[s] for s in refused})
        told = "; ".join(f"{s} {states[s]}" for s in symbols)
        return (f"Watchlist saved: {len(keep)} symbol(s); added {', '.join(added) or 'none'}, removed "
                f"{', '.join(removed) or 'none'}. {told}.")

    if attempt("watchlist_outcome", write):
        st.session_state.pop("watchlist_shown", None)  # show what was stored, without the refused
