"""The pairs desk: a live Streamlit dashboard over the tick database.

    streamlit run app.py -- --db ticks.db          (or: TICKS_DB=ticks.db streamlit run app.py)

The page, top to bottom: the header (database, DEMO label), Connectivity, the live metrics and
tabs (Spread & z-score, Prices, Correlation, Downloads), Analytics (mean-reversion tests,
backtest, correlation matrix, summary statistics, hourly summary), Alerts (rules and history)
and Import history; the sidebar holds the settings and the symbols the ingestor follows.

The live fragment redraws every few seconds (and announces new alerts with a toast); the heavy
panels refresh every ``HEAVY_REFRESH_S`` seconds; the alert history and the watchlist refresh
with the live view. The page reads the store and writes only what the trader asks for (alert
rules, acknowledgements, the watchlist, uploads). Data comes from ``dashboard_data``, figures
from ``charts``: this file lays out the page.
"""
from __future__ import annotations

import argparse
import functools
import logging
import math
import os
import re
import sqlite3
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

# One BLAS thread: on 2 cores a multithreaded OpenBLAS made the 2,000-row ADF take up to 2.3 s
# instead of 40 ms (its threads spin against the page's own). OpenBLAS reads this once, when numpy
# is first imported, so it must come before the imports below.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytz  # noqa: E402
import streamlit as st  # noqa: E402

from pairdesk import alerts
from pairdesk import analytics
from pairdesk.dashboard import charts
from pairdesk.dashboard import data
from pairdesk import history
from pairdesk import store
from pairdesk.dashboard.data import Analytics, Database, PairView, Settings  # noqa: E402

if TYPE_CHECKING:
    import plotly.graph_objects as go

log = logging.getLogger("app")

# --------------------------------------------------------------------------- constants

DEFAULT_DB = "ticks.db"
DB_ENV_VAR = "TICKS_DB"
DEFAULT_TZ = "Asia/Kolkata"
PREFERRED_PAIR = ("BTCUSDT", "ETHUSDT")
TIMEFRAMES = tuple(analytics.TIMEFRAME_MS)
DEFAULT_LOOKBACK = "1 h"
REFRESH_CHOICES_S = (1, 2, 5, 10, 30)
DEFAULT_REFRESH_S = 2
DEFAULT_WINDOW_BARS = analytics.DEFAULT_WINDOW_ROWS
WINDOW_RANGE_BARS = (5, 5_000)
DEFAULT_Z = 2.0
Z_RANGE = (0.5, 5.0)
MAX_HEATMAP_SYMBOLS = 12
WAIT_RETRY_S = 2  # how often a page waiting for its database looks again
MAX_TOASTS = 5  # alerts announced one by one per refresh; more are summed up in one toast

# Connectivity colours (documented in STATUS_RULES below; keep the two in step).
HEARTBEAT_STALE_MS = 10_000
DELAYED_AFTER_MS = 5_000
LIGHTS = {"live": ("green", "●"), "delayed": ("orange", "●"), "disconnected": ("red", "●")}

# Metric values sized so that six fit in one row of a laptop screen (Streamlit's default is larger);
# the rules table in a smaller type, so that its eleven columns fit beside the sidebar.
PAGE_CSS = """<style>
[data-testid="stMetricValue"] { font-size: 1.55rem; }
[data-testid="stMetricLabel"] { font-size: 0.8rem; }
.st-key-rules_table p, .st-key-rules_table code { font-size: 0.85rem; }
</style>"""

# Plain-language verdicts.
SIGNIFICANCE_LEVELS = ("1%", "5%", "10%")
HURST_MEAN_REVERTING_BELOW = 0.45
HURST_TRENDING_ABOVE = 0.55

STATUS_RULES = f"""
**Status colours**, per symbol, from the ingestor's feed status (heartbeat written about every second):

- :green-badge[live] the feed state is `live`, the heartbeat is at most {HEARTBEAT_STALE_MS // 1000} s old,
  a message arrived in the last {DELAYED_AFTER_MS // 1000} s and no gap is open.
- :orange-badge[delayed] the ingestor is writing (heartbeat at most {HEARTBEAT_STALE_MS // 1000} s old) but the
  feed is `starting`, `connecting`, `silent` or `polling` (REST fallback), or no message arrived for more than
  {DELAYED_AFTER_MS // 1000} s, or gaps in the trade ids are still open.
- :red-badge[disconnected] the feed is `disconnected` or `stopped`, or its heartbeat is more than
  {HEARTBEAT_STALE_MS // 1000} s old (no ingestor is writing), or the symbol has no status row.

A banner says so when no ingestor is writing at all. Shaded chart bands mark gaps in the trade ids
(red: open or unfillable, grey: filled later). Times are shown in the selected time zone.
"""


# Alerts.
ALERTS_HELP = """The ingestor evaluates the rules on every completed bar, whether or not this page is open,
and picks up a change made here within a second. A new alert pops up here as a toast and is marked on
the Spread & z-score and Prices charts (▲ UP, ▼ DOWN; hover for the message). Times are the start of
the bar that crossed, in the display time zone."""
KINDS_HELP = "  \n".join(f"**{kind}**: {text}" for kind, text in alerts.KIND_DESCRIPTIONS.items())
RULE_COLUMNS = {"Rule": 2.4, "Kind": 1.9, "Symbols": 2.2, "Timeframe": 1.6, "Window": 1.2, "Hedge": 1.1,
                "Threshold & params": 2.7, "Cooldown": 1.5, "Webhook": 1.3, "Enabled": 1.2, "": 1.2}  # title: width
PARAM_CHOICES = {"side": ("both", "up", "down"), "returns": (True, False)}  # parameters with a few values
PARAM_CHOICE_LABELS = {True: "log returns", False: "prices"}
DIRECTION_LABELS = {"UP": "▲ UP", "DOWN": "▼ DOWN"}
ANY = 0  # the history filters' "all" choice (a selectbox shows None as "nothing chosen"; rule ids start at 1)
TOAST_ICONS = {"UP": ":material/trending_up:", "DOWN": ":material/trending_down:"}

# The watchlist.
MAX_LISTED_SYMBOLS = 30  # symbols named in the sidebar's caption; the box holds them all
WATCHLIST_HELP = (f"1 to {data.MAX_WATCHLIST} Binance symbols (letters and digits, any case). The running ingestor "
                  "subscribes to added symbols and unsubscribes from removed ones within a few seconds; a symbol "
                  "Binance does not list is dropped (the ingestor logs it) and leaves this list at the next refresh.")

# --------------------------------------------------------------------------- the database


def database_path(argv: Sequence[str] | None = None) -> str:
    """``--db PATH`` after ``streamlit run app.py --``, else $TICKS_DB, else ticks.db."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    known, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    return known.db or os.environ.get(DB_ENV_VAR) or DEFAULT_DB


# --------------------------------------------------------------------------- presentation helpers


def fmt_time(ms: float | None, tz: str, with_date: bool = True) -> str:
    """An epoch-ms instant as wall-clock time in ``tz`` with the zone's abbreviation."""
    if ms is None or not math.isfinite(ms):
        return "—"
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc).astimezone(pytz.timezone(tz))
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z" if with_date else "%H:%M:%S %Z")


def fmt_age(ms: float | None) -> str:
    """A duration in ms as '0.4 s', '12 s', '5 min', '3.2 h', '2.0 d'."""
    if ms is None or not math.isfinite(ms):
        return "never"
    seconds = max(ms, 0) / 1000
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7_200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"


def fmt_number(value: float, digits: int = 6) -> str:
    """Prices and ratios: thousands separators for large values, significant digits for small; NaN -> '—'."""
    if value is None or not math.isfinite(value):
        return "—"
    if abs(value) >= 1_000:
        return f"{value:,.2f}"
    return f"{value:.{digits}g}"


def fmt_signed(value: float, decimals: int = 2) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:+.{decimals}f}"


def last_value(frame: pd.DataFrame, column: str) -> float:
    """The last finite value of ``column`` (NaN when there is none)."""
    values = frame[column].to_numpy("float64") if len(frame) else np.array([])
    finite = values[np.isfinite(values)]
    return float(finite[-1]) if len(finite) else math.nan


def local_ms(moment: datetime | None, tz: str) -> int | None:
    """A wall-clock time of ``tz`` (naive, as a date-time widget gives it) as UTC epoch ms; None stays None."""
    if moment is None:
        return None
    return int(pytz.timezone(tz).localize(moment.replace(tzinfo=None)).timestamp() * 1000)


def md_escape(text: str) -> str:
    """``text`` shown literally in Markdown (rule names and messages may hold *, _, <, :...)."""
    return re.sub(r"([\\`*_\[\]<>#|~$:])", r"\\\1", str(text))


def breakable(text: str) -> str:
    """``text`` that may wrap after '/' and '_' in a narrow table cell (a zero-width space after each)."""
    return text.replace("/", "/\u200b").replace("_", "_\u200b")


def param_text(value: object) -> str:
    """A rule parameter as the form and the rules table show it: '' for None, true/false, numbers in full."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return np.format_float_positional(value, trim="-")
    return str(value)


def parse_param(text: str | None) -> bool | int | float | str | None:
    """A parameter typed into the form: '' is None (the default); true/false; a number (nan included: the rule
    check refuses it with a message); anything else stays text (the rule check says what it expected)."""
    text = (text or "").strip()
    if not text:
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def local_times(ms: pd.Series, tz: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> pd.Series:
    """Epoch-ms values as wall-clock strings in ``tz`` (for tables)."""
    times = pd.to_datetime(ms.to_numpy("int64"), unit="ms", utc=True).tz_convert(tz)
    return pd.Series(times.strftime(fmt), index=ms.index)


@dataclass(frozen=True)
class FeedLight:
    """One symbol's connectivity: ``light`` is live / delayed / disconnected, ``why`` says why."""

    symbol: str
    light: str
    why: str
    row: Mapping[str, object] | None


def feed_lights(status: pd.DataFrame, symbols: Sequence[str], now_ms: int) -> list[FeedLight]:
    """Apply the colour rules of STATUS_RULES to each symbol (status rows first, then symbols without one)."""
    lights: list[FeedLight] = []
    rows = {row["symbol"]: row for row in status.to_dict("records")}
    for symbol in [*rows, *[s for s in symbols if s not in rows]]:
        row = rows.get(symbol)
        if row is None:
            lights.append(FeedLight(symbol, "disconnected", "no status row: no ingestor follows this symbol", None))
            continue
        heartbeat_age = now_ms - int(row["updated_ms"])
        last_heard = max((float(row[c]) for c in ("last_message_ms", "last_trade_ms") if _present(row[c])),
                         default=math.nan)
        if heartbeat_age > HEARTBEAT_STALE_MS:
            lights.append(FeedLight(symbol, "disconnected", f"no heartbeat for {fmt_age(heartbeat_age)}", row))
        elif row["state"] in ("disconnected", "stopped"):
            error = row.get("last_error") or ""
            lights.append(FeedLight(symbol, "disconnected", f"feed {row['state']}" + (f": {error}" if error else ""),
                                    row))
        elif row["state"] != "live":
            via = " over REST" if row["state"] == "polling" else ""
            lights.append(FeedLight(symbol, "delayed", f"feed {row['state']}{via}", row))
        elif not math.isfinite(last_heard) or now_ms - last_heard > DELAYED_AFTER_MS:
            lights.append(FeedLight(symbol, "delayed", f"no message for {fmt_age(now_ms - last_heard)}", row))
        elif int(row["open_gaps"]) > 0:
            lights.append(FeedLight(symbol, "delayed", f"{int(row['open_gaps'])} open gap(s) being filled", row))
        else:
            lights.append(FeedLight(symbol, "live", "streaming", row))
    return lights


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def ingestor_banner(status: pd.DataFrame, now_ms: int, tz: str, db_path: str) -> str | None:
    """The warning to show when no ingestor is writing, or None."""
    start = f"start it with `python data_ingestor.py --db {db_path}`"
    if len(status) == 0:
        return f"No ingestor has written to this database yet: the data shown is what is stored; {start}."
    heartbeat = int(status["updated_ms"].max())
    if now_ms - heartbeat > HEARTBEAT_STALE_MS:
        return (f"No ingestor is writing: the last heartbeat was {fmt_age(now_ms - heartbeat)} ago "
                f"({fmt_time(heartbeat, tz)}). The data shown is what is stored; {start}.")
    return None


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
            notes.append(f"{symbol}'s price is constant in this window ({fmt_number(prices[0])}): hedge ratio, "
                         f"spread z-score and correlation are undefined until it moves.")
    if not notes and not np.isfinite(panel["zscore"].to_numpy("float64")).any():
        notes.append(f"The rolling window ({s.window} bars) is longer than the aligned data available "
                     f"({len(panel)} bars of {s.timeframe} in view): z-score and correlation appear once "
                     f"{s.window} bars exist. Shorten the window, choose a finer timeframe or a longer lookback.")
    return notes


def _critical_level(statistic: float, critical_values: Mapping[str, float]) -> str | None:
    """The strictest level ('1%', '5%', '10%') at which ``statistic`` is below its critical value."""
    return next((level for level in SIGNIFICANCE_LEVELS
                 if level in critical_values and statistic < critical_values[level]), None)


def adf_verdict(result: analytics.AdfResult) -> str:
    if result.reason:
        return f"not computed: {result.reason}"
    level = _critical_level(result.statistic, result.critical_values)
    if level:
        return f"the spread is stationary at {level}"
    return "the spread is not stationary at 10%: no evidence of mean reversion"


def engle_granger_verdict(result: analytics.CointResult, pair: Sequence[str]) -> str:
    if result.reason:
        return f"not computed: {result.reason}"
    level = _critical_level(result.statistic, result.critical_values)
    if level:
        return f"{pair[0]} and {pair[1]} are cointegrated at {level}"
    return f"{pair[0]} and {pair[1]} are not cointegrated at 10%"


def johansen_verdict(result: analytics.JohansenResult) -> str:
    if result.reason:
        return f"not computed: {result.reason}"
    if result.rank_95:
        return f"{result.rank_95} cointegrating relation{'s' * (result.rank_95 > 1)} at 5%"
    return "no cointegrating relation at 5%"


def half_life_verdict(result: analytics.HalfLifeResult, tf_ms: int) -> str:
    if result.reason:
        return f"no half-life: {result.reason}"
    return f"deviations halve in about {result.half_life_bars:.1f} bars ({fmt_age(result.half_life_bars * tf_ms)})"


def hurst_verdict(result: analytics.HurstResult) -> str:
    if result.reason:
        return f"not computed: {result.reason}"
    if result.hurst < HURST_MEAN_REVERTING_BELOW:
        return "mean-reverting (H < 0.45)"
    if result.hurst > HURST_TRENDING_ABOVE:
        return "trending (H > 0.55)"
    return "close to a random walk (0.45 ≤ H ≤ 0.55)"


def tests_table(report: analytics.MeanReversionReport, s: Settings) -> pd.DataFrame:
    """One row per test: the figures and the plain-language verdict."""
    adf, eg, jo, hl, hu = report.adf, report.engle_granger, report.johansen, report.half_life, report.hurst
    jo_figures = "—" if jo.reason else ", ".join(
        f"r≤{r}: {stat:.2f} (5% cv {cv[1]:.2f})" for r, (stat, cv) in enumerate(zip(jo.trace_statistics,
                                                                                  jo.critical_values)))
    rows = [
        ("ADF (spread)", "—" if adf.reason else f"stat {adf.statistic:.3f}, p {adf.pvalue:.4f}, "
                                               f"5% cv {adf.critical_values.get('5%', math.nan):.3f}",
         adf_verdict(adf)),
        ("Engle-Granger (prices)", "—" if eg.reason else f"stat {eg.statistic:.3f}, p {eg.pvalue:.4f}, "
                                                       f"5% cv {eg.critical_values.get('5%', math.nan):.3f}",
         engle_granger_verdict(eg, s.pair)),
        ("Johansen trace (prices)", jo_figures, johansen_verdict(jo)),
        ("Half-life (spread)", "—" if hl.reason else f"{hl.half_life_bars:.2f} bars, b {hl.b:.4g}",
         half_life_verdict(hl, s.tf_ms)),
        ("Hurst exponent (spread)", "—" if hu.reason else f"H {hu.hurst:.3f}", hurst_verdict(hu)),
    ]
    return pd.DataFrame(rows, columns=["test", "figures", "verdict"])


def headline(report: analytics.MeanReversionReport, s: Settings) -> tuple[str, str]:
    """(kind, text) of the one-line conclusion: success / info / warning."""
    if report.rows == 0:
        return "info", "No finite spread in this window to test: see the notes above the charts."
    if report.adf.reason:
        return "info", f"Not enough data for the tests yet: {report.adf.reason}."
    adf_level = _critical_level(report.adf.statistic, report.adf.critical_values)
    eg_level = None if report.engle_granger.reason else _critical_level(report.engle_granger.statistic,
                                                                        report.engle_granger.critical_values)
    strong = {"1%", "5%"}
    text = f"{adf_verdict(report.adf).capitalize()}; {engle_granger_verdict(report.engle_granger, s.pair)} " \
           f"(last {report.rows} bars of {s.timeframe})."
    if adf_level in strong and eg_level in strong:
        return "success", text
    if adf_level in strong or eg_level in strong:
        return "info", text
    return "warning", text


def _alert(kind: str, text: str) -> None:
    """st.success / st.info / st.warning / st.error by name."""
    {"success": st.success, "info": st.info, "warning": st.warning, "error": st.error}[kind](text)


def plot(fig: go.Figure, key: str) -> None:
    """Draw a figure with the desk's own template (Streamlit's theme would override it)."""
    st.plotly_chart(fig, theme=None, key=key, config={"displaylogo": False, "scrollZoom": False})


# --------------------------------------------------------------------------- sections


def wait_for_database(path: str, problem: str) -> None:
    """The page while the database is missing or being created: say what to do, look again every few seconds."""
    st.title("Pairs desk")
    missing = not Path(path).exists()
    if missing:
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


def keep_choice(key: str, options: Sequence[str], preferred: str) -> None:
    """Keep a symbol choice valid as the database's symbols change (preferred, else the first option)."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = preferred if preferred in options else (options[0] if options else None)


def sidebar(db: Database) -> Settings:
    """The controls; returns what they chose. Every widget has a stable key."""
    side = st.sidebar
    side.header("Pairs desk")
    symbols = list(db.symbols)
    keep_choice("symbol_a", symbols, PREFERRED_PAIR[0])
    symbol_a = side.selectbox("Symbol A (dependent leg)", symbols, key="symbol_a", disabled=not symbols,
                              help="Regressed on B: spread = A − β·B.")
    others = [s for s in symbols if s != symbol_a]
    keep_choice("symbol_b", others, PREFERRED_PAIR[1])
    symbol_b = side.selectbox("Symbol B (hedge leg)", others, key="symbol_b", disabled=not others)
    timeframe = side.segmented_control("Timeframe", TIMEFRAMES, default="1s", key="timeframe", required=True) or "1s"
    lookbacks = list(data.LOOKBACK_MS)
    lookback = side.selectbox("Lookback", lookbacks, index=lookbacks.index(DEFAULT_LOOKBACK), key="lookback",
                              help=f"How far back the charts go from the newest bar (at most {data.MAX_CHART_BARS:,} "
                                   f"bars).")
    window = int(side.number_input("Rolling window (bars)", *WINDOW_RANGE_BARS, value=DEFAULT_WINDOW_BARS, step=10,
                                   key="window", help="Bars in the z-score, correlation and rolling-OLS windows."))
    z_threshold = float(side.number_input("z threshold", *Z_RANGE, value=DEFAULT_Z, step=0.1, format="%.1f",
                                          key="z_threshold", help="The ± bands and the backtest's entry level."))
    hedge = side.selectbox("Hedge ratio", list(data.HEDGE_LABELS), format_func=data.HEDGE_LABELS.get, key="hedge",
                           help="OLS, Huber and Theil-Sen fit one β over the window; rolling OLS and Kalman "
                                "let it move (then its chart appears).")
    zones = [DEFAULT_TZ, "UTC", *[z for z in pytz.common_timezones if z not in (DEFAULT_TZ, "UTC")]]
    tz = side.selectbox("Time zone", zones, key="tz", help="Display only: every time is stored in UTC.")
    side.divider()
    paused = side.toggle("Pause live updates", key="paused")
    refresh_s = side.selectbox("Refresh every", REFRESH_CHOICES_S, index=REFRESH_CHOICES_S.index(DEFAULT_REFRESH_S),
                               format_func=lambda s: f"{s} s", key="refresh_s", disabled=paused)
    refresh = None if paused else int(refresh_s)
    with side.expander("Symbols the ingestor follows", icon=":material/visibility:"):
        st.fragment(watchlist_panel, run_every=refresh)(db)
    with side.expander("How to read this page"):
        st.markdown(STATUS_RULES)
    return Settings(symbol_a, symbol_b, timeframe, lookback, window, z_threshold, hedge, tz, refresh)


def watchlist_panel(db: Database) -> None:
    """The symbols the ingestor follows, and a box to change them (what ``PUT /api/watchlist`` does)."""
    with shown_errors("watchlist"):
        stored = data.read_watchlist(db.path)
        if st.session_state.get("watchlist_shown") != stored:  # first look, or the list changed: show what is stored
            st.session_state["watchlist_shown"] = stored
            st.session_state["watchlist_text"] = ", ".join(stored)
        if stored:
            more = f" … and {len(stored) - MAX_LISTED_SYMBOLS} more" if len(stored) > MAX_LISTED_SYMBOLS else ""
            st.caption(f"Following {len(stored)}: {', '.join(stored[:MAX_LISTED_SYMBOLS])}{more}")
        else:
            st.caption("No list stored yet: the ingestor follows the symbols it was started with (`--symbols`).")
        st.text_area("Symbols, separated by commas or spaces", key="watchlist_text", height=90,
                     placeholder="BTCUSDT, ETHUSDT", help=WATCHLIST_HELP,
                     on_change=st.session_state.pop, args=("watchlist_outcome", None))
        st.button("Save watchlist", key="watchlist_save", icon=":material/save:", on_click=save_watchlist,
                  args=(db.path,))
        show_outcome("watchlist_outcome")


def save_watchlist(path: str) -> None:
    """Save-button callback: check the typed symbols, then replace the watchlist (nothing is saved on an error)."""
    def write() -> str:
        symbols = data.parse_watchlist(st.session_state.get("watchlist_text", ""))
        added, removed = data.save_watchlist(path, symbols)
        return (f"Watchlist saved: {len(symbols)} symbol(s); added {', '.join(added) or 'none'}, removed "
                f"{', '.join(removed) or 'none'}. The running ingestor follows it within a few seconds.")

    attempt("watchlist_outcome", write)


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


def connectivity(view: PairView, db: Database, now_ms: int) -> None:
    """Connectivity: one card per symbol with its colour, and a banner when nothing is writing."""
    tz = view.settings.tz
    st.subheader("Connectivity", help=STATUS_RULES)
    banner = ingestor_banner(view.status, now_ms, tz, db.path)
    if banner:
        st.warning(banner, icon=":material/power_off:")
    lights = feed_lights(view.status, db.symbols, now_ms)
    if not lights:
        return
    for chunk_start in range(0, len(lights), 4):
        columns = st.columns(4)
        for column, light in zip(columns, lights[chunk_start:chunk_start + 4]):
            color, dot = LIGHTS[light.light]
            with column.container(border=True):
                st.markdown(f"**{light.symbol}** :{color}-badge[{dot} {light.light}]")
                row = light.row
                if row is None:
                    st.caption(light.why)
                    continue
                last_trade = row["last_trade_ms"] if _present(row["last_trade_ms"]) else None
                st.caption(f"{light.why} · {row['transport']}  \n"
                           f"last trade {fmt_time(last_trade, tz, with_date=False)} "
                           f"({fmt_age(None if last_trade is None else now_ms - last_trade)} ago)  \n"
                           f"{float(row['message_rate']):.1f} msg/s · {int(row['reconnects'])} reconnects · "
                           f"{int(row['open_gaps'])} open gaps")


def metrics(view: PairView) -> None:
    """The pair's latest figures in one compact row."""
    s, panel = view.settings, view.panel
    cols = st.columns(6)
    for col, symbol in zip(cols, s.pair):
        candles = view.candles[symbol]
        col.metric(symbol, fmt_number(last_value(candles, "close")), border=True,
                   help=f"Last close at {fmt_time(candles['ts_ms'].iloc[-1] if len(candles) else None, s.tz)}")
    if not view.has_pair:
        return
    z = last_value(panel, "zscore")
    signal = "inside the bands" if not math.isfinite(z) or abs(z) < s.z_threshold else (
        "above +band: spread rich" if z > 0 else "below −band: spread cheap")
    cols[2].metric("Hedge ratio β", fmt_number(last_value(panel, "hedge_ratio")), border=True,
                   help=f"{s.hedge_label}: units of {s.symbol_b} per {s.symbol_a}")
    cols[3].metric("Spread", fmt_number(last_value(panel, "spread")), border=True, help="A − β·B")
    cols[4].metric("z-score", fmt_signed(z), delta=signal if math.isfinite(z) else None, delta_color="off",
                   delta_arrow="off", border=True, help=f"Rolling {s.window} bars; bands at ±{s.z_threshold:g}")
    cols[5].metric("Correlation", fmt_number(last_value(panel, "corr"), 3), border=True,
                   help=f"Rolling {s.window}-bar correlation of the prices")


def window_caption(view: PairView) -> None:
    """What the charts cover, and whether the lookback was clipped to ``MAX_CHART_BARS``."""
    s = view.settings
    clipped = (f" (the {s.lookback} lookback is clipped to the last {data.MAX_CHART_BARS:,} bars: choose a coarser "
               f"timeframe to see further)") if view.clipped else ""
    st.caption(f"Charts: {s.timeframe} bars from {fmt_time(view.first_ms, s.tz)} to "
               f"{fmt_time(view.end_ms, s.tz)}{clipped}")


@contextmanager
def shown_errors(what: str) -> Iterator[None]:
    """A failure while drawing ``what`` becomes a one-line message; the rest of the page still draws."""
    try:
        yield
    except (store.StoreError, sqlite3.Error) as exc:
        st.warning(f"Could not read the database for {what} this time ({exc}); trying again at the next refresh.")
    except Exception as exc:  # a bug must not cost the trader the page: log the traceback, show one line
        log.exception("drawing %s failed", what)
        st.error(f"The {what} could not be drawn ({type(exc).__name__}: {exc}); the dashboard's log has the details.")


def live_section(db: Database, s: Settings) -> None:
    """The fragment that refreshes every few seconds: announce new alerts, read what is new, then draw."""
    with shown_errors("alert notifications"):
        announce_alerts(db)
    with shown_errors("live view"):
        draw_live(db, s)


def announce_alerts(db: Database) -> None:
    """A toast for each alert stored since this session last looked (a session's first look announces nothing)."""
    seen = st.session_state.get("alerts_seen")
    newest, events = data.new_events(db.path, seen[1] if seen and seen[0] == db.key else None)
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
    connectivity(view, db, now_ms)
    if not s.pair:
        st.info("The database holds no bars yet. Start the ingestor, or import history below.")
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
    spread_tab, prices_tab, corr_tab, download_tab = st.tabs(
        ["Spread & z-score", "Prices", "Correlation", "Downloads"], key="live_tabs")
    with spread_tab:
        plot(charts.spread_zscore_figure(view.panel, s.z_threshold, s.tz, s.hedge_label, view.gaps, s.tf_ms,
                                         view.events), "spread_chart")
        if not charts.is_static(view.panel["hedge_ratio"]):
            plot(charts.hedge_ratio_figure(view.panel, s.tz, s.hedge_label), "hedge_chart")
    with prices_tab:
        colors = charts.symbol_colors(db.symbols)
        plot(charts.price_comparison_figure(view.panel, s.symbol_a, s.symbol_b, s.tz, colors, view.events),
             "price_chart")
        candle_charts(view, db)
    with corr_tab:
        plot(charts.rolling_correlation_figure(view.panel, s.tz, s.window), "corr_chart")
    with download_tab:
        downloads(view, db)


def candle_charts(view: PairView, db: Database) -> None:
    """Candlesticks with volume, one chart per symbol of the pair, gaps shaded."""
    s = view.settings
    colors = charts.symbol_colors(db.symbols)
    for column, symbol in zip(st.columns(len(s.pair)), s.pair):
        gaps = view.gaps[view.gaps["symbol"] == symbol] if len(view.gaps) else view.gaps
        with column:
            plot(charts.candlestick_figure(view.candles[symbol], symbol, s.tz, colors[symbol], s.timeframe, gaps,
                                           s.tf_ms), f"candles_{symbol}")


def downloads(view: PairView, db: Database) -> None:
    """CSV files of the charted window, built only when a button is clicked."""
    s = view.settings
    st.caption(f"The charted window, {fmt_time(view.first_ms, s.tz)} → {fmt_time(view.end_ms, s.tz)}. "
               f"ts_ms is UTC epoch milliseconds; `time` is the same instant in {s.tz}.")
    pair = "_".join(s.pair)
    trades, bars, panel_column = st.columns(3)
    trades.download_button(
        "Trades (CSV)", functools.partial(data.trades_csv, db.path, s.pair, view.start_ms, view.end_ms + s.tf_ms, s.tz),
        file_name=f"trades_{pair}_{s.lookback.replace(' ', '')}.csv", mime="text/csv", key="dl_trades",
        on_click="ignore", icon=":material/download:",
        help=f"Raw trades, at most {data.MAX_DOWNLOAD_TRADES:,} per symbol")
    bars.download_button(
        f"Bars {s.timeframe} (CSV)", functools.partial(data.bars_csv, view.candles, s.tz),
        file_name=f"bars_{pair}_{s.timeframe}.csv", mime="text/csv", key="dl_bars", on_click="ignore",
        icon=":material/download:")
    panel_column.download_button(
        "Analytics table (CSV)", functools.partial(data.csv_bytes, view.panel), file_name=data.analytics_file_name(s),
        mime="text/csv", key="dl_analytics", on_click="ignore", icon=":material/download:",
        help="The analytics CLI's columns: " + ",".join(analytics.PANEL_COLUMNS))


def analytics_section(db: Database, s: Settings) -> None:
    """The fragment for the heavy panels (tests, backtest, summaries): cached, at most every ``HEAVY_REFRESH_S``."""
    if len(s.pair) < 2:
        return
    st.subheader("Analytics", help=f"Recomputed at most every {data.HEAVY_REFRESH_S} s; the tests and the backtest use "
                                   f"the last {data.HEAVY_TEST_ROWS:,} bars of the charted window.")
    with shown_errors("analytics"):
        draw_analytics(db, s)


def draw_analytics(db: Database, s: Settings) -> None:
    """Mean reversion, backtest, correlation matrix, summary statistics and hourly summary tabs."""
    view = data.load_view(db, s)
    all_bars = data.retained_bars(db, db.symbols[:MAX_HEATMAP_SYMBOLS])
    if len(view.panel) == 0:
        st.info("No aligned bars of the pair yet: the analytics appear once both symbols have data in the window.")
        return
    results = data.heavy_analytics(view, all_bars, data.heavy_key(db, s))
    tests_tab, backtest_tab, matrix_tab, summary_tab, hourly_tab = st.tabs(
        ["Mean reversion", "Backtest", "Correlation matrix", "Summary statistics", "Hourly summary"],
        key="analytics_tabs")
    with tests_tab:
        kind, text = headline(results.tests, s)
        _alert(kind, text)
        st.dataframe(tests_table(results.tests, s), hide_index=True, key="tests_table")
    with backtest_tab:
        backtest(results, s)
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


def backtest(results: Analytics, s: Settings) -> None:
    """The backtest's rules, figures, equity curve and trades."""
    result = results.backtest
    entry, exit_z, stop_z = results.backtest_rules
    st.caption(f"Enter at |z| ≥ {entry:g}, exit at |z| ≤ {exit_z:g}, stop at |z| ≥ {stop_z:g}; fills at the next "
               f"bar, {analytics.BACKTEST_FEE_BPS:g} bps per leg per fill; last {len(result.equity):,} bars.")
    cols = st.columns(5)
    cols[0].metric("Total return", "—" if not math.isfinite(result.total_return) else f"{result.total_return:+.3%}",
                   border=True)
    cols[1].metric("Sharpe (annualised)", fmt_signed(result.sharpe), border=True)
    cols[2].metric("Max drawdown", "—" if not math.isfinite(result.max_drawdown) else f"{result.max_drawdown:.3%}",
                   border=True)
    cols[3].metric("Hit rate", "—" if not math.isfinite(result.hit_rate) else f"{result.hit_rate:.0%}", border=True)
    cols[4].metric("Trades", f"{len(result.trades)}", border=True)
    if result.reason:
        st.info(f"Backtest: {result.reason}.")
    plot(charts.equity_figure(result.equity, s.tz), "equity_chart")
    if len(result.trades):
        trades = result.trades.copy()
        for column in ("entry_ts_ms", "exit_ts_ms"):
            trades[column.replace("_ts_ms", "")] = local_times(trades[column], s.tz)
        trades["side"] = trades["side"].map({1: "long spread", -1: "short spread"})
        st.dataframe(trades[["entry", "exit", "side", "entry_z", "exit_z", "hedge_ratio", "pnl", "return", "reason"]],
                     hide_index=True, key="backtest_trades",
                     column_config={"return": st.column_config.NumberColumn(format="percent")})


def hourly(results: Analytics, s: Settings) -> None:
    """The hourly summary table, hours shown in the display zone and legs by symbol."""
    table = results.hourly
    st.caption(f"Per hour of the retained data ({fmt_age(results.hourly_span_ms)}) at {s.timeframe}, window "
               f"{s.window}, {s.hedge_label} hedge; hours start in UTC and are shown in {s.tz}.")
    if len(table) == 0:
        st.info("No complete pair data yet for an hourly summary.")
        return
    shown = table.copy()
    shown.insert(0, "hour", local_times(shown.pop("hour_start_ms"), s.tz, "%Y-%m-%d %H:%M"))
    shown.columns = [c.replace("price_a", s.symbol_a).replace("price_b", s.symbol_b) for c in shown.columns]
    st.dataframe(shown, hide_index=True, key="hourly_table")


# --------------------------------------------------------------------------- alerts


def alerts_section(db: Database, s: Settings) -> None:
    """Alert rules (create, edit, switch on and off, delete) and the alert history."""
    st.subheader("Alerts", help=ALERTS_HELP)
    rules_tab, history_tab = st.tabs(["Rules", "History"], key="alerts_tabs")
    with rules_tab:
        st.fragment(rules_panel)(db, s)
    with history_tab:
        st.fragment(history_panel, run_every=s.refresh_s)(db, s.tz)


def rules_panel(db: Database, s: Settings) -> None:
    """The rules table and the rule form; redrawn on its own whenever one of its widgets is used."""
    with shown_errors("alert rules"):
        show_outcome("rules_outcome")
        rules_table(db, data.read_rules(db.path))
        st.divider()
        rule_form(db, s)


def rules_table(db: Database, rules: Sequence[alerts.AlertRule]) -> None:
    """One row per rule: its definition, an on/off toggle, Edit, and Delete (which asks first)."""
    if not rules:
        st.info("No alert rules yet: add one with the form below.")
        return
    widths = list(RULE_COLUMNS.values())
    with st.container(key="rules_table"):
        for column, title in zip(st.columns(widths, gap="xsmall"), RULE_COLUMNS):
            if title:
                column.markdown(f"**{title}**")
        for rule in rules:
            rule_row(db, rule, st.columns(widths, gap="xsmall", vertical_alignment="center"))
            if st.session_state.get("rule_deleting") == rule.rule_id:
                confirm_delete(db, rule)


def rule_row(db: Database, rule: alerts.AlertRule, cells: Sequence[Any]) -> None:
    """One rule's cells, its on/off toggle, and Edit and Delete."""
    for cell, text in zip(cells, rule_cells(rule)):
        cell.markdown(text)
    switch = f"rule_on_{rule.rule_id}"
    st.session_state[switch] = rule.enabled  # what is stored, also after a change made elsewhere (the API)
    cells[-2].toggle("Enabled", key=switch, label_visibility="collapsed", on_change=switch_rule,
                     args=(db.path, rule.rule_id), help=f"Rule #{rule.rule_id} on or off")
    with cells[-1].container(horizontal=True, gap="xxsmall"):
        st.button("", key=f"rule_edit_{rule.rule_id}", icon=":material/edit:", type="tertiary",
                  help=f"Edit rule #{rule.rule_id} in the form below", on_click=edit_rule, args=(rule,))
        st.button("", key=f"rule_delete_{rule.rule_id}", icon=":material/delete:", type="tertiary",
                  help=f"Delete rule #{rule.rule_id} (asks first)", on_click=ask_delete, args=(rule.rule_id,))


def rule_cells(rule: alerts.AlertRule) -> list[str]:
    """The text cells of one rule's row (markdown), in the order of RULE_COLUMNS."""
    named = [*alerts.KIND_PARAMS[rule.kind], *sorted(set(rule.params) - set(alerts.KIND_PARAMS[rule.kind]))]
    params = " · ".join(f"{name} {param_text(rule.params[name])}" for name in named if name in rule.params)
    return [f"**#{rule.rule_id}** {breakable(md_escape(rule.name))}", f"`{breakable(rule.kind)}`",
            breakable(rule.label), rule.timeframe, f"{rule.window:,}",
            data.HEDGE_LABELS[rule.hedge] if rule.kind in alerts.PAIR_KINDS else "—", md_escape(params),
            f"{rule.cooldown_s:g} s", f"`{rule.webhook_url}`" if rule.webhook_url else "—"]


def confirm_delete(db: Database, rule: alerts.AlertRule) -> None:
    """Delete asks first: a deleted rule is gone for good (the alerts it raised stay in the history)."""
    with st.container(border=True):
        st.warning(f"Delete rule #{rule.rule_id} “{rule.name}”? This cannot be undone; the alerts it raised stay "
                   f"in the history.", icon=":material/delete:")
        with st.container(horizontal=True):
            st.button("Delete rule", key="rule_delete_confirm", type="primary", on_click=delete_rule,
                      args=(db.path, rule.rule_id))
            st.button("Keep it", key="rule_delete_cancel", on_click=st.session_state.pop, args=("rule_deleting", None))


def rule_form(db: Database, s: Settings) -> None:
    """New rule, or Edit rule #N: the kind first (it decides the symbols and the parameters), then the rest,
    checked by ``alerts.validate_rule`` when saved (a bad rule is an error and nothing is saved)."""
    editing = st.session_state.get("rule_editing")
    st.markdown(f"**Edit rule #{editing}**" if editing else "**New rule**")
    symbols = list(db.symbols)
    if not symbols:
        st.info("Rules watch symbols of the database, and it holds none yet.")
        return
    defaults = tuple(s.pair or symbols)
    if "rf_kind" not in st.session_state:
        load_form(alerts.default_spec(alerts.RULE_KINDS[0], defaults))
    keep_choice("rf_symbol_a", symbols, defaults[0])
    keep_choice("rf_symbol_b", symbols, defaults[-1])
    chooser, described = st.columns([1, 2], vertical_alignment="bottom")
    kind = chooser.selectbox("Kind", alerts.RULE_KINDS, key="rf_kind", on_change=change_kind, args=(defaults,),
                             help=KINDS_HELP)
    described.caption(alerts.KIND_DESCRIPTIONS[kind])
    pair = kind in alerts.PAIR_KINDS
    with st.form("rule_form", enter_to_submit=False):
        top = st.columns([3, 2, 2, 1.2, 1.2, 1.5])
        top[0].text_input("Rule name", key="rf_name", placeholder="optional: made from the kind, symbols and threshold")
        top[1].selectbox("Symbol A (dependent leg)" if pair else "Symbol", symbols, key="rf_symbol_a")
        if pair:
            top[2].selectbox("Symbol B (hedge leg)", symbols, key="rf_symbol_b")
        top[3].selectbox("Timeframe", TIMEFRAMES, key="rf_timeframe")
        top[4].number_input("Window", min_value=1, step=1, key="rf_window",
                            help="Bars (of the timeframe) the rule's statistic is computed over; see the kind.")
        top[5].selectbox("Hedge", list(data.HEDGE_LABELS), format_func=data.HEDGE_LABELS.get, key="rf_hedge",
                         disabled=not pair, help="How the spread of a pair is hedged.")
        params = alerts.KIND_PARAMS[kind]
        for column, (name, meaning) in zip(st.columns(len(params)), params.items()):
            param_input(column, name, meaning)
        bottom = st.columns([1.2, 3, 1, 2.5], vertical_alignment="bottom")
        bottom[0].number_input("Cooldown (s)", min_value=0.0, step=10.0, format="%g", key="rf_cooldown",
                               help="After an alert, the rule stays quiet this long (data time).")
        bottom[1].text_input("Webhook URL (optional)", key="rf_webhook", placeholder="https://…",
                             help="Each alert is POSTed here as JSON by the ingestor.")
        bottom[2].checkbox("Enabled", key="rf_enabled")
        with bottom[3].container(horizontal=True):
            st.form_submit_button("Save changes" if editing else "Save rule", key="rf_save", type="primary",
                                  icon=":material/save:", on_click=submit_rule, args=(db.path, editing, defaults))
            if editing:
                st.form_submit_button("Cancel", key="rf_cancel", on_click=cancel_edit, args=(defaults,))
    show_outcome("rule_form_outcome")


def param_input(column: Any, name: str, meaning: str) -> None:
    """One of the kind's parameters: a choice where it has few values, else text (empty: the default)."""
    label = name.replace("_", " ").capitalize()
    if name in PARAM_CHOICES:
        column.selectbox(label, PARAM_CHOICES[name], key=f"rf_param_{name}", help=meaning,
                         format_func=lambda value: PARAM_CHOICE_LABELS.get(value, value))
    else:
        column.text_input(label, key=f"rf_param_{name}", help=meaning,
                          placeholder="required" if name == "threshold" else "default")


def load_form(spec: Mapping[str, Any]) -> None:
    """Put a rule spec into the form's widgets (in a callback, or before they are drawn)."""
    symbols = [*spec["symbols"], None, None]
    state = st.session_state
    state.update({"rf_kind": spec["kind"], "rf_name": spec.get("name") or "", "rf_symbol_a": symbols[0],
                  "rf_symbol_b": symbols[1], "rf_timeframe": spec["timeframe"], "rf_window": int(spec["window"]),
                  "rf_hedge": spec["hedge"], "rf_cooldown": float(spec["cooldown_s"]),
                  "rf_webhook": spec.get("webhook_url") or "", "rf_enabled": bool(spec.get("enabled", True))})
    for name in alerts.KIND_PARAMS[spec["kind"]]:
        value = spec["params"].get(name)
        if name in PARAM_CHOICES:
            state[f"rf_param_{name}"] = PARAM_CHOICES[name][0] if value is None else value
        else:
            state[f"rf_param_{name}"] = param_text(value)


def form_spec() -> dict[str, Any]:
    """The rule the form describes, as a spec for ``alerts.validate_rule`` (an empty parameter: its default)."""
    state = st.session_state
    kind = state["rf_kind"]
    params = {}
    for name in alerts.KIND_PARAMS[kind]:
        value = state.get(f"rf_param_{name}")
        value = value if name in PARAM_CHOICES else parse_param(value)
        if value is not None:
            params[name] = value
    symbols = (state.get("rf_symbol_a"), state.get("rf_symbol_b"))[:2 if kind in alerts.PAIR_KINDS else 1]
    return {"name": (state.get("rf_name") or "").strip() or None, "kind": kind, "symbols": [s for s in symbols if s],
            "timeframe": state.get("rf_timeframe"), "window": state.get("rf_window"), "hedge": state.get("rf_hedge"),
            "params": params, "cooldown_s": state.get("rf_cooldown"), "webhook_url": state.get("rf_webhook") or None,
            "enabled": bool(state.get("rf_enabled", True))}


def change_kind(defaults: Sequence[str]) -> None:
    """Kind callback: the new kind's window and parameters; symbols, timeframe and the rest stay."""
    state = st.session_state
    chosen = [s for s in (state.get("rf_symbol_a"), state.get("rf_symbol_b")) if s]
    spec = alerts.default_spec(state["rf_kind"], [*chosen, *[s for s in defaults if s not in chosen]])
    current = form_spec()
    kept = ("name", "timeframe", "hedge", "cooldown_s", "webhook_url", "enabled")
    load_form({**spec, **{field: current[field] for field in kept if current[field] is not None}})


def submit_rule(path: str, editing: int | None, defaults: Sequence[str]) -> None:
    """Save callback: check and store the rule (a new one, or rule ``editing``'s new definition)."""
    spec = form_spec()

    def write() -> str:
        rule_id = data.save_rule(path, spec, editing)
        return f"Rule #{rule_id} saved: the ingestor evaluates it from the newest bar on."

    if attempt("rule_form_outcome", write):
        cancel_edit(defaults)


def cancel_edit(defaults: Sequence[str]) -> None:
    """Leave editing: an empty form for a new rule of the same kind."""
    st.session_state.pop("rule_editing", None)
    load_form(alerts.default_spec(st.session_state["rf_kind"], defaults))


def edit_rule(rule: alerts.AlertRule) -> None:
    """Edit callback: the rule's definition into the form."""
    st.session_state["rule_editing"] = rule.rule_id
    st.session_state.pop("rule_form_outcome", None)
    load_form(rule.to_spec())


def switch_rule(path: str, rule_id: int) -> None:
    """Toggle callback: switch a rule on or off."""
    enabled = bool(st.session_state[f"rule_on_{rule_id}"])

    def write() -> str:
        data.set_rule_enabled(path, rule_id, enabled)
        return f"Rule #{rule_id} switched {'on: it starts at the newest bar' if enabled else 'off'}."

    attempt("rules_outcome", write)


def ask_delete(rule_id: int) -> None:
    """Delete callback: show the confirmation under the rule's row."""
    st.session_state["rule_deleting"] = rule_id


def delete_rule(path: str, rule_id: int) -> None:
    """Confirmed-delete callback."""
    st.session_state.pop("rule_deleting", None)
    if st.session_state.get("rule_editing") == rule_id:
        st.session_state.pop("rule_editing")

    def write() -> str:
        data.delete_rule(path, rule_id)
        return f"Rule #{rule_id} deleted; its alerts stay in the history."

    attempt("rules_outcome", write)


def history_panel(db: Database, tz: str) -> None:
    """The alert history: filters, the table, acknowledging, the CSV download (refreshed with the live view)."""
    with shown_errors("alert history"):
        show_outcome("history_outcome")
        flt = history_filter(data.read_rules(db.path), tz)
        events = data.read_history(db.path, flt)
        if len(events) == 0:
            st.info("No alerts match these filters." if flt != data.HistoryFilter() else
                    "No alerts yet. The ingestor evaluates the rules on every completed bar while it runs.")
            return
        capped = f" (the latest {data.MAX_HISTORY_ROWS:,})" if len(events) == data.MAX_HISTORY_ROWS else ""
        st.caption(f"{len(events):,} alert(s){capped}, newest first; `time` is the start of the bar that crossed, "
                   f"in {tz}.")
        st.dataframe(history_table(events, tz), hide_index=True, key="history_table",
                     column_config={"message": st.column_config.TextColumn(width="large")})
        with st.container(horizontal=True, vertical_alignment="bottom"):
            acknowledge_controls(db, events, tz)
            st.download_button("Download (CSV)", functools.partial(data.history_csv, events, tz),
                               file_name="alert_history.csv", mime="text/csv", key="dl_alerts", on_click="ignore",
                               icon=":material/download:",
                               help=f"The alerts shown: every stored column (times in UTC epoch ms) plus `time` "
                                    f"in {tz}.")


def history_filter(rules: Sequence[alerts.AlertRule], tz: str) -> data.HistoryFilter:
    """The filter row: rule, kind, direction, time range (display zone, both minutes included), unacknowledged."""
    names = {ANY: "All rules", **{rule.rule_id: f"#{rule.rule_id} {rule.name}" for rule in rules}}
    if st.session_state.get("ah_rule", ANY) not in names:  # a rule deleted meanwhile
        st.session_state["ah_rule"] = ANY
    cols = st.columns([2.4, 1.9, 1.5, 2.0, 2.0], vertical_alignment="bottom")
    rule_id = cols[0].selectbox("Rule", list(names), key="ah_rule", format_func=names.get)
    kind = cols[1].selectbox("Kind", [ANY, *alerts.RULE_KINDS], key="ah_kind",
                             format_func=lambda k: "All kinds" if k == ANY else k)
    direction = cols[2].selectbox("Direction", [ANY, *DIRECTION_LABELS], key="ah_direction",
                                  format_func=lambda d: "Both" if d == ANY else DIRECTION_LABELS[d])
    start = cols[3].datetime_input(f"From ({tz})", value=None, step=60, key="ah_from")
    end = cols[4].datetime_input(f"To ({tz})", value=None, step=60, key="ah_to")
    unacknowledged = st.toggle("Unacknowledged only", key="ah_unacknowledged")
    return data.HistoryFilter(rule_id=None if rule_id == ANY else rule_id, kind=None if kind == ANY else kind,
                              direction=None if direction == ANY else direction, start_ms=local_ms(start, tz),
                              end_ms=None if end is None else local_ms(end, tz) + 60_000,
                              unacknowledged=unacknowledged)


def history_table(events: pd.DataFrame, tz: str) -> pd.DataFrame:
    """The history as shown: times in the display zone, the rule by id and name, ▲/▼ directions."""
    acknowledged = pd.Series("", index=events.index)
    done = events["acknowledged_ms"].notna()
    acknowledged[done] = local_times(events.loc[done, "acknowledged_ms"], tz)
    return pd.DataFrame({
        "time": local_times(events["ts_ms"], tz),
        "rule": "#" + events["rule_id"].astype(str) + " " + events["rule_name"],
        "direction": events["direction"].map(DIRECTION_LABELS), "message": events["message"],
        "value": events["value"], "threshold": events["threshold"], "symbols": events["symbols"],
        "kind": events["kind"], "timeframe": events["timeframe"], "acknowledged": acknowledged,
        "webhook": events["delivery"], "event": events["event_id"]})


def acknowledge_controls(db: Database, events: pd.DataFrame, tz: str) -> None:
    """Acknowledge chosen alerts, or every unacknowledged one shown."""
    waiting = events[events["acknowledged_ms"].isna()]
    if len(waiting) == 0:
        st.caption("Every alert shown is acknowledged.")
        return
    labels = dict(zip(waiting["event_id"].astype(int),
                      local_times(waiting["ts_ms"], tz) + " · " + waiting["symbols"] + " "
                      + waiting["direction"].map(DIRECTION_LABELS) + " · " + waiting["rule_name"]))
    st.session_state["ah_ack"] = [i for i in st.session_state.get("ah_ack", []) if i in labels]
    st.multiselect("Alerts to acknowledge", list(labels), key="ah_ack", placeholder="Choose alerts…",
                   format_func=lambda i: f"#{i} · {labels[i]}", width=520)
    st.button("Acknowledge selected", key="ah_ack_selected", icon=":material/done:",
              disabled=not st.session_state["ah_ack"], on_click=acknowledge_alerts, args=(db.path, None))
    st.button(f"Acknowledge all {len(labels)} shown", key="ah_ack_all", icon=":material/done_all:",
              on_click=acknowledge_alerts, args=(db.path, tuple(labels)))


def acknowledge_alerts(path: str, event_ids: Sequence[int] | None) -> None:
    """Acknowledge callback: ``event_ids``, or the chosen ones when None."""
    chosen = list(st.session_state.get("ah_ack", []) if event_ids is None else event_ids)
    if attempt("history_outcome", lambda: f"{data.acknowledge(path, chosen)} alert(s) acknowledged."):
        st.session_state["ah_ack"] = []


def attempt(outcome_key: str, write: Callable[[], str]) -> bool:
    """Run a write for a widget callback; keep its outcome under ``outcome_key`` for ``show_outcome``:
    ``write``'s message, or a one-line error (then nothing was written). True when it succeeded."""
    try:
        st.session_state[outcome_key] = ("success", write())
        return True
    except (alerts.RuleError, data.WatchlistError) as exc:
        st.session_state[outcome_key] = ("error", f"Not saved: {exc}.")
    except (store.StoreError, sqlite3.Error) as exc:
        st.session_state[outcome_key] = ("error", f"Could not write to the database ({exc}); nothing was changed. "
                                                  f"Try again.")
    return False


def show_outcome(outcome_key: str) -> None:
    """What the last write under ``outcome_key`` did: a toast once when it succeeded; an error that stays
    until the next attempt when it failed. (Callbacks only record it: elements drawn there would land at
    the top of the page.)"""
    kind, text = st.session_state.get(outcome_key) or (None, "")
    if kind == "success":
        st.toast(text, icon=":material/check_circle:")
        del st.session_state[outcome_key]
    elif kind == "error":
        st.error(text, icon=":material/error:")


def import_section(db: Database, tz: str) -> None:
    """Upload historical trades or bars (Binance dump CSVs or the simple format) into the database."""
    st.subheader("Import history")
    done = st.session_state.pop("import_result", None)
    if done:
        _alert(*done)
    with st.expander("Upload a CSV of trades or bars", expanded=False):
        st.markdown(IMPORT_HELP)
        upload = st.file_uploader("CSV or zip file", type=["csv", "zip"], key="import_file")
        if upload is None:
            return
        named = history.symbol_from_file_name(upload.name)
        if named:
            symbol = named
            st.caption(f"Symbol **{symbol}** (from the file name)")
        else:
            symbol = st.selectbox("Symbol of this file", db.symbols, key="import_symbol", accept_new_options=True,
                                  index=None, placeholder="Choose or type a symbol, e.g. BTCUSDT")
        if st.button("Import", key="import_go", type="primary", disabled=not symbol):
            kind, message = import_file(db, upload.name, upload.getvalue(), symbol, tz)
            if kind != "success":
                _alert(kind, message)
                return
            st.session_state["import_result"] = (kind, message)
            st.rerun()  # new symbols and bars show up everywhere


IMPORT_HELP = """
Binance dumps (data.binance.vision) as they come, `.csv` or `.zip`: spot or futures **trades** and
**aggTrades**, and **klines** of any interval; times in ms or µs, a header row or none. Or the
**simple format**: a header `time,open,high,low,close,volume`, then one bar per row, `time` in
epoch ms / µs or ISO 8601 (UTC unless an offset is given). The symbol comes from a Binance file name
(`BTCUSDT-trades-2024-01-01.csv`) or is chosen here. The whole file is checked before anything is
stored; trades already stored (live) are never overwritten, and bars are added only where none exist.
"""


def import_file(db: Database, file_name: str, content: bytes, symbol: str, tz: str) -> tuple[str, str]:
    """Parse, check and store one uploaded file with a progress bar; returns the (kind, message) to show."""
    progress = st.progress(0.0, text=f"Checking {file_name}…")
    try:
        parsed = history.parse_history(content, file_name, symbol,
                                              on_progress=lambda f: progress.progress(f * 0.5, text="Checking…"))
        history.check_fits_database(parsed, db.market, db.stream)
    except history.HistoryImportError as exc:
        progress.empty()
        return "error", f"{file_name}: {exc}. Nothing was stored."
    try:
        stored = data.store_parsed(db, parsed, lambda f: progress.progress(0.5 + f * 0.5, text="Storing…"))
    except (store.StoreError, sqlite3.Error) as exc:
        progress.empty()
        return "error", f"{file_name}: could not store ({exc}). Trades already stored stay; importing again is safe."
    progress.empty()
    what = "trades" if parsed.kind != history.BARS else "bars"
    span = f"{fmt_time(parsed.first_ms, tz)} → {fmt_time(parsed.last_ms, tz)}"
    return "success", (f"{file_name}: {parsed.format.name}, {parsed.rows:,} rows of {parsed.symbol} ({span}); "
                       f"{stored:,} new {what} stored, {parsed.rows - stored:,} were already there.")


# --------------------------------------------------------------------------- the page


def main() -> None:
    st.set_page_config(page_title="Pairs desk", page_icon=":material/candlestick_chart:", layout="wide")
    st.html(PAGE_CSS)
    path = database_path()
    try:
        db = data.describe_database(path)
    except store.StoreError as exc:
        wait_for_database(path, str(exc))
        st.stop()
    settings = sidebar(db)
    page_header(db, settings)
    st.fragment(live_section, run_every=settings.refresh_s)(db, settings)
    st.fragment(analytics_section, run_every=None if settings.refresh_s is None else data.HEAVY_REFRESH_S)(db, settings)
    alerts_section(db, settings)
    with shown_errors("import section"):
        import_section(db, settings.tz)
