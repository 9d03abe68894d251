"""The pairs desk: a live Streamlit dashboard over the tick database, read-only.

    streamlit run app.py -- --db ticks.db          (or: TICKS_DB=ticks.db streamlit run app.py)

The page, top to bottom: the header (database, DEMO label), Connectivity, the live metrics and
tabs (Spread & z-score, Prices, Correlation, Downloads), Analytics (mean-reversion tests,
backtest, correlation matrix, summary statistics, hourly summary) and Import history.

Refresh design: each symbol's recent one-second bars live in memory, shared by every session on
the same database (``BarCache``); a refresh asks the store only for bars written or corrected
since the last one (``tickstore.read_bars_since``). The live fragment redraws every few seconds
from a bounded window (the lookback, at most ``MAX_CHART_BARS`` bars); the heavy tests run in a
second fragment on the last ``HEAVY_TEST_WINDOW_ROWS`` rows, cached under a key that changes every
``HEAVY_REFRESH_S`` seconds. Statistics come from ``analytics_engine``, figures from ``charts``,
SQL from ``tickstore``: this file only lays out the page.
"""
from __future__ import annotations

import argparse
import functools
import logging
import math
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytz
import streamlit as st

import analytics_engine as ae
import charts
import history_import
import tickstore

if TYPE_CHECKING:
    import plotly.graph_objects as go

log = logging.getLogger("app")

# --------------------------------------------------------------------------- constants

DEFAULT_DB = "ticks.db"
DB_ENV_VAR = "TICKS_DB"
DEFAULT_TZ = "Asia/Kolkata"
PREFERRED_PAIR = ("BTCUSDT", "ETHUSDT")
TIMEFRAMES = tuple(ae.TIMEFRAME_MS)
HEDGE_LABELS = {"ols": "OLS", "rolling": "Rolling OLS", "huber": "Huber", "theilsen": "Theil-Sen",
                "kalman": "Kalman"}
LOOKBACK_MS = {"5 min": 300_000, "15 min": 900_000, "1 h": 3_600_000, "4 h": 14_400_000,
               "12 h": 43_200_000, "24 h": 86_400_000}
DEFAULT_LOOKBACK = "1 h"
REFRESH_CHOICES_S = (1, 2, 5, 10, 30)
DEFAULT_REFRESH_S = 2
DEFAULT_WINDOW_BARS = ae.DEFAULT_WINDOW_ROWS
WINDOW_RANGE_BARS = (5, 5_000)
DEFAULT_Z = 2.0
Z_RANGE = (0.5, 5.0)

MAX_CHART_BARS = 5_000  # bars charted at most: a day of 1 s bars stays responsive
RETAIN_MS = 26 * 3_600_000  # one-second bars kept in memory per symbol: the longest lookback + warm-up
HEAVY_REFRESH_S = 30  # heavy tests are recomputed at most this often
HEAVY_TEST_ROWS = ae.HEAVY_TEST_WINDOW_ROWS
MAX_HEATMAP_SYMBOLS = 12
MAX_DOWNLOAD_TRADES = 2_000_000  # per symbol
IMPORT_CHUNK_TRADES = 100_000  # trades per write transaction: the ingestor is never held up long
WAIT_RETRY_S = 2  # how often a page waiting for its database looks again

# Connectivity colours (documented in STATUS_RULES below; keep the two in step).
HEARTBEAT_STALE_MS = 10_000
DELAYED_AFTER_MS = 5_000
LIGHTS = {"live": ("green", "●"), "delayed": ("orange", "●"), "disconnected": ("red", "●")}

# Metric values sized so that six fit in one row of a laptop screen (Streamlit's default is larger).
PAGE_CSS = """<style>
[data-testid="stMetricValue"] { font-size: 1.55rem; }
[data-testid="stMetricLabel"] { font-size: 0.8rem; }
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

# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """What the sidebar chose; passed to the fragments (frozen, so it is a stable argument)."""

    symbol_a: str | None
    symbol_b: str | None
    timeframe: str
    lookback: str
    window: int
    z_threshold: float
    hedge: str
    tz: str
    refresh_s: int | None  # None: paused

    @property
    def tf_ms(self) -> int:
        return ae.timeframe_ms(self.timeframe)

    @property
    def pair(self) -> tuple[str, ...]:
        return tuple(s for s in (self.symbol_a, self.symbol_b) if s)

    @property
    def hedge_label(self) -> str:
        return HEDGE_LABELS[self.hedge]


@dataclass(frozen=True)
class Database:
    """The open database as the page sees it: path, identity, metadata, symbols."""

    path: str
    key: str  # path and creation time: caches of a replaced file are never reused
    market: str
    stream: str
    source: str
    symbols: tuple[str, ...]

    @property
    def demo(self) -> bool:
        return self.source == "local"


def database_path(argv: Sequence[str] | None = None) -> str:
    """``--db PATH`` after ``streamlit run app.py --``, else $TICKS_DB, else ticks.db."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    known, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    return known.db or os.environ.get(DB_ENV_VAR) or DEFAULT_DB


@contextmanager
def reader(path: str) -> Iterator[sqlite3.Connection]:
    """A short-lived read-only connection: nothing is held open between refreshes."""
    conn = tickstore.open_reader(path)
    try:
        yield conn
    finally:
        conn.close()


def describe_database(path: str) -> Database:
    """Metadata and symbols of the database at ``path`` (StoreError when it cannot be read)."""
    with reader(path) as conn:
        meta = tickstore.read_metadata(conn)
        symbols = tuple(tickstore.list_symbols(conn))
    return Database(path=path, key=database_key(path, meta), market=meta.get("market", "?"),
                    stream=meta.get("stream", "?"), source=meta.get("source", "binance"), symbols=symbols)


def database_key(path: str, meta: Mapping[str, str]) -> str:
    """The file and its creation time: a database deleted and created again gets new caches."""
    return f"{Path(path).resolve()}@{meta.get('created_ms', '')}"


# --------------------------------------------------------------------------- data: incremental bars


class BarCache:
    """One symbol's recent one-second bars in memory, brought up to date incrementally.

    The first refresh reads the last ``retain_ms`` of bars; every later one reads only the bars
    written or corrected since (by rev) and merges them in, replacing corrected bars. The frame
    handed out is never modified afterwards (a merge builds a new one), so readers need no lock.
    """

    def __init__(self, symbol: str, retain_ms: int = RETAIN_MS) -> None:
        self.symbol = symbol
        self.retain_ms = retain_ms
        self.bars = pd.DataFrame(columns=tickstore.BAR_COLUMNS)
        self.rev: int | None = None
        self._lock = threading.Lock()

    def refresh(self, conn: sqlite3.Connection) -> pd.DataFrame:
        """The bars, after reading what is new since the last refresh."""
        with self._lock:
            if self.rev is None:
                self.bars, self.rev = tickstore.read_recent_bars(conn, self.symbol, self.retain_ms)
            else:
                fresh, newest = tickstore.read_bars_since(conn, self.symbol, self.rev)
                if len(fresh):
                    self.bars = merge_bars(self.bars, fresh, self.retain_ms)
                self.rev = max(self.rev, newest)
            return self.bars


def merge_bars(held: pd.DataFrame, fresh: pd.DataFrame, retain_ms: int) -> pd.DataFrame:
    """``held`` with ``fresh`` bars added or replacing those of the same second, trimmed to ``retain_ms``."""
    if len(held) == 0:
        merged = fresh
    elif fresh["ts_ms"].iloc[0] > held["ts_ms"].iloc[-1]:  # the usual case: only new seconds
        merged = pd.concat([held, fresh], ignore_index=True)
    else:  # late or backfilled trades corrected earlier bars
        kept = held[~held["ts_ms"].isin(fresh["ts_ms"])]
        merged = pd.concat([kept, fresh], ignore_index=True).sort_values("ts_ms", kind="stable", ignore_index=True)
    horizon = merged["ts_ms"].iloc[-1] - retain_ms
    if merged["ts_ms"].iloc[0] < horizon:
        merged = merged.iloc[int(merged["ts_ms"].searchsorted(horizon)):].reset_index(drop=True)
    return merged


@st.cache_resource(max_entries=64, show_spinner=False)
def bar_cache(db_key: str, symbol: str) -> BarCache:
    """The shared ``BarCache`` of one symbol of one database (all sessions use the same one)."""
    return BarCache(symbol)


def fresh_bars(db: Database, conn: sqlite3.Connection, symbols: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Each symbol's retained one-second bars, brought up to date."""
    return {symbol: bar_cache(db.key, symbol).refresh(conn) for symbol in symbols}


def since(bars: pd.DataFrame, start_ms: int) -> pd.DataFrame:
    """The bars at or after ``start_ms`` (bars are sorted by time)."""
    return bars.iloc[int(bars["ts_ms"].searchsorted(start_ms)):]


# --------------------------------------------------------------------------- data: one refresh


@dataclass(frozen=True)
class PairView:
    """Everything one refresh draws. Frames are bounded by the lookback and MAX_CHART_BARS.

    ``bars_1s``: each pair symbol's retained one-second bars (for the heavy panels);
    ``candles``: bars at the timeframe in the charted window; ``panel``: ``pair_panel`` rows in
    the charted window (empty with fewer than two symbols); ``start_ms``/``end_ms``: the
    charted window's first and last bar; ``clipped``: the lookback held more than MAX_CHART_BARS.
    """

    settings: Settings
    db_key: str  # the database's identity now (a replaced file triggers a full rerun)
    symbols: tuple[str, ...]  # the database's symbols now (new ones trigger a full rerun)
    bars_1s: Mapping[str, pd.DataFrame]
    candles: Mapping[str, pd.DataFrame]
    panel: pd.DataFrame
    status: pd.DataFrame
    gaps: pd.DataFrame
    start_ms: int
    end_ms: int
    clipped: bool

    @property
    def has_pair(self) -> bool:
        return len(self.settings.pair) == 2

    @property
    def first_ms(self) -> int | None:
        """The first charted bar (the lookback may reach back before the data begins)."""
        return min((int(frame["ts_ms"].iloc[0]) for frame in self.candles.values() if len(frame)), default=None)


def chart_window(bars: Mapping[str, pd.DataFrame], s: Settings) -> tuple[int, int, bool]:
    """(first, last) bar start of the charted window, and whether MAX_CHART_BARS clipped the lookback."""
    ends = [int(frame["ts_ms"].iloc[-1]) for frame in bars.values() if len(frame)]
    end = max(ends) // s.tf_ms * s.tf_ms if ends else 0
    wanted = end - LOOKBACK_MS[s.lookback] + s.tf_ms
    floor = end - (MAX_CHART_BARS - 1) * s.tf_ms
    return max(wanted, floor), end, floor > wanted


def load_view(db: Database, s: Settings) -> PairView:
    """Read what is new and compute the live view (tickstore + analytics_engine; no drawing)."""
    with reader(db.path) as conn:
        db_key = database_key(db.path, tickstore.read_metadata(conn))
        symbols = tuple(tickstore.list_symbols(conn))
        bars = fresh_bars(db, conn, s.pair)
        status = tickstore.read_feed_status(conn)
        start, end, clipped = chart_window(bars, s)
        gaps = tickstore.read_gap_spans(conn, s.pair, start, end + s.tf_ms)
    candles = {symbol: since(ae.resample_bars(since(frame, start), s.timeframe), start)
               for symbol, frame in bars.items()}
    panel = pd.DataFrame(columns=ae.PANEL_COLUMNS)
    if len(s.pair) == 2:
        warm_up = start - s.window * s.tf_ms  # the rolling statistics are defined from the first charted bar
        a, b = (since(bars[symbol], warm_up) for symbol in s.pair)
        panel = since(ae.pair_panel(a, b, s.timeframe, s.window, s.hedge), start).reset_index(drop=True)
    return PairView(s, db_key, symbols, bars, candles, panel, status, gaps, start, end, clipped)


# --------------------------------------------------------------------------- data: heavy analytics


@dataclass(frozen=True)
class Analytics:
    """The heavy panels' results, recomputed at most every HEAVY_REFRESH_S seconds."""

    tests: ae.MeanReversionReport
    backtest: ae.BacktestResult
    backtest_rules: tuple[float, float, float]  # entry, exit, stop z
    summary: pd.DataFrame
    correlation: pd.DataFrame
    hourly: pd.DataFrame
    hourly_span_ms: int


def backtest_rules(z_threshold: float) -> tuple[float, float, float]:
    """Entry at the sidebar's threshold; exit and stop from the engine's defaults, kept ordered."""
    exit_z = min(ae.BACKTEST_EXIT_Z, z_threshold / 2)
    stop_z = max(ae.BACKTEST_STOP_Z, z_threshold * 2)
    return z_threshold, exit_z, stop_z


def heavy_key(db: Database, s: Settings, now_s: float | None = None) -> tuple:
    """The heavy panels' cache key: the settings, the symbols and a bucket of HEAVY_REFRESH_S seconds."""
    bucket = int((time.time() if now_s is None else now_s) // HEAVY_REFRESH_S)
    return (db.key, db.symbols, s.pair, s.timeframe, s.lookback, s.window, s.hedge, s.z_threshold, bucket)


@st.cache_data(ttl=5 * HEAVY_REFRESH_S, max_entries=32, show_spinner=False)
def heavy_analytics(_view: PairView, _all_bars: Mapping[str, pd.DataFrame], key: tuple) -> Analytics:
    """Tests, backtest, summaries, correlation matrix and hourly summary (cached under ``key`` only)."""
    s = _view.settings
    entry, exit_z, stop_z = backtest_rules(s.z_threshold)
    recent = _view.panel.tail(HEAVY_TEST_ROWS)
    tests = ae.mean_reversion_tests(_view.panel, rows=HEAVY_TEST_ROWS)
    backtest = ae.backtest_zscore(recent, s.timeframe, entry=entry, exit=exit_z, stop=stop_z)
    summary = ae.summary_table(_view.candles, s.timeframe)
    in_view = {symbol: ae.resample_bars(since(bars, _view.start_ms), s.timeframe) for symbol, bars in _all_bars.items()}
    correlation = ae.correlation_matrix(in_view, s.timeframe) if len(in_view) >= 2 else pd.DataFrame()
    day = ae.pair_panel(*(_view.bars_1s[symbol] for symbol in s.pair), s.timeframe, s.window, s.hedge)
    span = int(day["ts_ms"].iloc[-1] - day["ts_ms"].iloc[0]) if len(day) else 0
    return Analytics(tests, backtest, (entry, exit_z, stop_z), summary, correlation, ae.hourly_summary(day), span)


# --------------------------------------------------------------------------- data: downloads


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV as the analytics CLI writes it: no index, NaN as an empty cell, full float precision."""
    return frame.to_csv(index=False, na_rep="", lineterminator="\n").encode()


def with_local_time(frame: pd.DataFrame, tz: str, column: str = "ts_ms") -> pd.DataFrame:
    """``frame`` with an ISO 8601 ``time`` column (with its UTC offset) in ``tz`` after ``column``."""
    out = frame.copy()
    times = pd.to_datetime(out[column].to_numpy("int64"), unit="ms", utc=True).tz_convert(tz)
    out.insert(out.columns.get_loc(column) + 1, "time", times.strftime("%Y-%m-%dT%H:%M:%S.%f%z"))
    return out


def bars_csv(candles: Mapping[str, pd.DataFrame], tz: str) -> bytes:
    """Both symbols' bars at the timeframe: symbol, ts_ms (UTC), time (display zone), OHLCV, vwap."""
    frames = [with_local_time(bars, tz).assign(symbol=symbol) for symbol, bars in candles.items()]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["symbol"])
    return csv_bytes(table[["symbol", *[c for c in table.columns if c != "symbol"]]])


def trades_csv(db_path: str, symbols: Sequence[str], start_ms: int, end_ms: int, tz: str) -> bytes:
    """The raw trades of ``symbols`` in [start_ms, end_ms), read when the button is clicked."""
    frames = []
    with reader(db_path) as conn:
        for symbol in symbols:
            trades = tickstore.read_trades(conn, symbol, start_ms, end_ms, limit=MAX_DOWNLOAD_TRADES)
            frames.append(with_local_time(trades, tz).assign(symbol=symbol))
    table = pd.concat(frames, ignore_index=True)
    return csv_bytes(table[["symbol", *[c for c in table.columns if c != "symbol"]]])


def analytics_file_name(s: Settings) -> str:
    """``analytics_BTCUSDT_ETHUSDT_1s_w60_ols.csv``: the parameters that produced the table."""
    return f"analytics_{'_'.join(s.pair)}_{s.timeframe}_w{s.window}_{s.hedge}.csv"


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
            lights.append(FeedLight(symbol, "disconnected", f"feed {row['state']}", row))
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


def adf_verdict(result: ae.AdfResult) -> str:
    if result.reason:
        return f"not computed: {result.reason}"
    level = _critical_level(result.statistic, result.critical_values)
    if level:
        return f"the spread is stationary at {level}"
    return "the spread is not stationary at 10%: no evidence of mean reversion"


def engle_granger_verdict(result: ae.CointResult, pair: Sequence[str]) -> str:
    if result.reason:
        return f"not computed: {result.reason}"
    level = _critical_level(result.statistic, result.critical_values)
    if level:
        return f"{pair[0]} and {pair[1]} are cointegrated at {level}"
    return f"{pair[0]} and {pair[1]} are not cointegrated at 10%"


def johansen_verdict(result: ae.JohansenResult) -> str:
    if result.reason:
        return f"not computed: {result.reason}"
    if result.rank_95:
        return f"{result.rank_95} cointegrating relation{'s' * (result.rank_95 > 1)} at 5%"
    return "no cointegrating relation at 5%"


def half_life_verdict(result: ae.HalfLifeResult, tf_ms: int) -> str:
    if result.reason:
        return f"no half-life: {result.reason}"
    return f"deviations halve in about {result.half_life_bars:.1f} bars ({fmt_age(result.half_life_bars * tf_ms)})"


def hurst_verdict(result: ae.HurstResult) -> str:
    if result.reason:
        return f"not computed: {result.reason}"
    if result.hurst < HURST_MEAN_REVERTING_BELOW:
        return "mean-reverting (H < 0.45)"
    if result.hurst > HURST_TRENDING_ABOVE:
        return "trending (H > 0.55)"
    return "close to a random walk (0.45 ≤ H ≤ 0.55)"


def tests_table(report: ae.MeanReversionReport, s: Settings) -> pd.DataFrame:
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


def headline(report: ae.MeanReversionReport, s: Settings) -> tuple[str, str]:
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
            describe_database(path)
        except tickstore.StoreError:
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
    lookback = side.selectbox("Lookback", list(LOOKBACK_MS), index=list(LOOKBACK_MS).index(DEFAULT_LOOKBACK),
                              key="lookback",
                              help=f"How far back the charts go from the newest bar (at most {MAX_CHART_BARS:,} bars).")
    window = int(side.number_input("Rolling window (bars)", *WINDOW_RANGE_BARS, value=DEFAULT_WINDOW_BARS, step=10,
                                   key="window", help="Bars in the z-score, correlation and rolling-OLS windows."))
    z_threshold = float(side.number_input("z threshold", *Z_RANGE, value=DEFAULT_Z, step=0.1, format="%.1f",
                                          key="z_threshold", help="The ± bands and the backtest's entry level."))
    hedge = side.selectbox("Hedge ratio", list(HEDGE_LABELS), format_func=HEDGE_LABELS.get, key="hedge",
                           help="OLS, Huber and Theil-Sen fit one β over the window; rolling OLS and Kalman "
                                "let it move (then its chart appears).")
    zones = [DEFAULT_TZ, "UTC", *[z for z in pytz.common_timezones if z not in (DEFAULT_TZ, "UTC")]]
    tz = side.selectbox("Time zone", zones, key="tz", help="Display only: every time is stored in UTC.")
    side.divider()
    paused = side.toggle("Pause live updates", key="paused")
    refresh_s = side.selectbox("Refresh every", REFRESH_CHOICES_S, index=REFRESH_CHOICES_S.index(DEFAULT_REFRESH_S),
                               format_func=lambda s: f"{s} s", key="refresh_s", disabled=paused)
    with side.expander("How to read this page"):
        st.markdown(STATUS_RULES)
    return Settings(symbol_a, symbol_b, timeframe, lookback, window, z_threshold, hedge, tz,
                    None if paused else int(refresh_s))


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
    """What the charts cover, and whether the lookback was clipped to MAX_CHART_BARS."""
    s = view.settings
    clipped = (f" (the {s.lookback} lookback is clipped to the last {MAX_CHART_BARS:,} bars: choose a coarser "
               f"timeframe to see further)") if view.clipped else ""
    st.caption(f"Charts: {s.timeframe} bars from {fmt_time(view.first_ms, s.tz)} to "
               f"{fmt_time(view.end_ms, s.tz)}{clipped}")


@contextmanager
def shown_errors(what: str) -> Iterator[None]:
    """A failure while drawing ``what`` becomes a one-line message; the rest of the page still draws."""
    try:
        yield
    except (tickstore.StoreError, sqlite3.Error) as exc:
        st.warning(f"Could not read the database for {what} this time ({exc}); trying again at the next refresh.")
    except Exception as exc:  # a bug must not cost the trader the page: log the traceback, show one line
        log.exception("drawing %s failed", what)
        st.error(f"The {what} could not be drawn ({type(exc).__name__}: {exc}); the dashboard's log has the details.")


def live_section(db: Database, s: Settings) -> None:
    """The fragment that refreshes every few seconds: read what is new, then draw."""
    with shown_errors("live view"):
        draw_live(db, s)


def draw_live(db: Database, s: Settings) -> None:
    """Connectivity, the live metrics and the live tabs, from one incremental read."""
    now_ms = tickstore.now_ms()
    view = load_view(db, s)
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
        plot(charts.spread_zscore_figure(view.panel, s.z_threshold, s.tz, s.hedge_label, view.gaps, s.tf_ms),
             "spread_chart")
        if not charts.is_static(view.panel["hedge_ratio"]):
            plot(charts.hedge_ratio_figure(view.panel, s.tz, s.hedge_label), "hedge_chart")
    with prices_tab:
        colors = charts.symbol_colors(db.symbols)
        plot(charts.price_comparison_figure(view.panel, s.symbol_a, s.symbol_b, s.tz, colors), "price_chart")
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
    trades, bars, analytics = st.columns(3)
    trades.download_button(
        "Trades (CSV)", functools.partial(trades_csv, db.path, s.pair, view.start_ms, view.end_ms + s.tf_ms, s.tz),
        file_name=f"trades_{pair}_{s.lookback.replace(' ', '')}.csv", mime="text/csv", key="dl_trades",
        on_click="ignore", icon=":material/download:", help=f"Raw trades, at most {MAX_DOWNLOAD_TRADES:,} per symbol")
    bars.download_button(
        f"Bars {s.timeframe} (CSV)", functools.partial(bars_csv, view.candles, s.tz),
        file_name=f"bars_{pair}_{s.timeframe}.csv", mime="text/csv", key="dl_bars", on_click="ignore",
        icon=":material/download:")
    analytics.download_button(
        "Analytics table (CSV)", functools.partial(csv_bytes, view.panel), file_name=analytics_file_name(s),
        mime="text/csv", key="dl_analytics", on_click="ignore", icon=":material/download:",
        help="The analytics CLI's columns: " + ",".join(ae.PANEL_COLUMNS))


def analytics_section(db: Database, s: Settings) -> None:
    """The fragment for the heavy panels (tests, backtest, summaries): cached, at most every HEAVY_REFRESH_S."""
    if len(s.pair) < 2:
        return
    st.subheader("Analytics", help=f"Recomputed at most every {HEAVY_REFRESH_S} s; the tests and the backtest use "
                                   f"the last {HEAVY_TEST_ROWS:,} bars of the charted window.")
    with shown_errors("analytics"):
        draw_analytics(db, s)


def draw_analytics(db: Database, s: Settings) -> None:
    """Mean reversion, backtest, correlation matrix, summary statistics and hourly summary tabs."""
    view = load_view(db, s)
    with reader(db.path) as conn:
        all_bars = fresh_bars(db, conn, db.symbols[:MAX_HEATMAP_SYMBOLS])
    if len(view.panel) == 0:
        st.info("No aligned bars of the pair yet: the analytics appear once both symbols have data in the window.")
        return
    results = heavy_analytics(view, all_bars, heavy_key(db, s))
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
               f"bar, {ae.BACKTEST_FEE_BPS:g} bps per leg per fill; last {len(result.equity):,} bars.")
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
        named = history_import.symbol_from_file_name(upload.name)
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


def import_file(db: Database, file_name: str, data: bytes, symbol: str, tz: str) -> tuple[str, str]:
    """Parse, check and store one uploaded file with a progress bar; returns the (kind, message) to show."""
    progress = st.progress(0.0, text=f"Checking {file_name}…")
    try:
        parsed = history_import.parse_history(data, file_name, symbol,
                                              on_progress=lambda f: progress.progress(f * 0.5, text="Checking…"))
        history_import.check_fits_database(parsed, db.market, db.stream)
    except history_import.HistoryImportError as exc:
        progress.empty()
        return "error", f"{file_name}: {exc}. Nothing was stored."
    try:
        stored = store_parsed(db, parsed, lambda f: progress.progress(0.5 + f * 0.5, text="Storing…"))
    except (tickstore.StoreError, sqlite3.Error) as exc:
        progress.empty()
        return "error", f"{file_name}: could not store ({exc}). Trades already stored stay; importing again is safe."
    progress.empty()
    what = "trades" if parsed.kind != history_import.BARS else "bars"
    span = f"{fmt_time(parsed.first_ms, tz)} → {fmt_time(parsed.last_ms, tz)}"
    return "success", (f"{file_name}: {parsed.format.name}, {parsed.rows:,} rows of {parsed.symbol} ({span}); "
                       f"{stored:,} new {what} stored, {parsed.rows - stored:,} were already there.")


def store_parsed(db: Database, parsed: history_import.ParsedHistory, on_progress: Callable[[float], None]) -> int:
    """Write validated rows in chunks (one transaction each); returns how many were new."""
    if parsed.kind == history_import.BARS:
        stored = tickstore.write_bars(db.path, parsed.symbol, parsed.bar_rows(), db.market, db.stream, db.source)
        on_progress(1.0)
        return stored
    stored = 0
    for done, chunk in enumerate(parsed.trade_chunks(IMPORT_CHUNK_TRADES), start=1):
        stored += tickstore.write_trades(db.path, chunk, db.market, db.stream, db.source)
        on_progress(min(done * IMPORT_CHUNK_TRADES / parsed.rows, 1.0))
    return stored


# --------------------------------------------------------------------------- the page


def main() -> None:
    st.set_page_config(page_title="Pairs desk", page_icon=":material/candlestick_chart:", layout="wide")
    st.html(PAGE_CSS)
    path = database_path()
    try:
        db = describe_database(path)
    except tickstore.StoreError as exc:
        wait_for_database(path, str(exc))
        st.stop()
    settings = sidebar(db)
    page_header(db, settings)
    st.fragment(live_section, run_every=settings.refresh_s)(db, settings)
    st.fragment(analytics_section, run_every=None if settings.refresh_s is None else HEAVY_REFRESH_S)(db, settings)
    with shown_errors("import section"):
        import_section(db, settings.tz)


if __name__ == "__main__":
    main()
