"""The dashboard's data: what the page shows, read from the tick store incrementally, and the few
brief writes the page makes.

Reading. Each symbol's recent one-second bars live in memory, shared by every session on the same
database (``BarCache``); a refresh asks the store only for bars written or corrected since the
last one (``store.read_bars_since``) and computes the live view (``load_view``) over a
bounded window: the lookback, at most ``MAX_CHART_BARS`` bars. The heavy panels
(``heavy_analytics``) are cached under a key that changes every ``HEAVY_REFRESH_S`` seconds.
Alert rules, the alert history and the watchlist are small tables read whole or filtered in SQL.

Writing. The page is otherwise read-only; alert rules, acknowledgements, the watchlist and
uploads are written through ``writer``: a writer connection opened with the database's own market
and stream, one short transaction, closed at once, so the ingestor (the usual writer) is never
held up. The running ingestor picks rule and watchlist changes up by itself.

Nothing here draws: SQL comes from ``tickstore``, statistics from ``analytics_engine``, rule
checks from ``alerts``; ``app.py`` lays the results out.
"""
from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from pairdesk import alerts
from pairdesk import analytics
from pairdesk.history import importer
from pairdesk import history
from pairdesk.alerts import repository
from pairdesk import store

# --------------------------------------------------------------------------- constants

HEDGE_LABELS = {"ols": "OLS", "rolling": "Rolling OLS", "huber": "Huber", "theilsen": "Theil-Sen",
                "kalman": "Kalman"}
LOOKBACK_MS = {"5 min": 300_000, "15 min": 900_000, "1 h": 3_600_000, "4 h": 14_400_000,
               "12 h": 43_200_000, "24 h": 86_400_000}
MAX_CHART_BARS = 5_000  # bars charted at most: a day of 1 s bars stays responsive
RETAIN_MS = 26 * 3_600_000  # one-second bars kept in memory per symbol: the longest lookback + warm-up
HEAVY_REFRESH_S = 30  # heavy tests are recomputed at most this often
HEAVY_TEST_ROWS = analytics.HEAVY_TEST_WINDOW_ROWS
MAX_DOWNLOAD_TRADES = 2_000_000  # per symbol
MAX_EVENT_MARKERS = 500  # the most recent alert events marked on a chart (markers cost the browser)
MAX_HISTORY_ROWS = 10_000  # alert events shown (and downloaded) at most, the most recent first
WATCHLIST_SYMBOL = re.compile(r"^[A-Z0-9]{2,20}$")  # as PUT /api/watchlist checks it
MAX_WATCHLIST = 1024


# --------------------------------------------------------------------------- the database


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
        return analytics.timeframe_ms(self.timeframe)

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


@contextmanager
def reader(path: str) -> Iterator[sqlite3.Connection]:
    """A short-lived read-only connection: nothing is held open between refreshes."""
    conn = store.open_reader(path)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def writer(path: str) -> Iterator[sqlite3.Connection]:
    """One brief write transaction on a writer connection opened with the database's own market
    and stream (read from its metadata), closed right after; rolled back on any exception."""
    with reader(path) as conn:
        meta = store.read_metadata(conn)
    if "market" not in meta or "stream" not in meta:
        raise store.StoreError(f"{path}: the database records no market / stream yet")
    conn = store.open_writer(path, meta["market"], meta["stream"])
    try:
        with store.transaction(conn):
            yield conn
    finally:
        conn.close()


def describe_database(path: str) -> Database:
    """Metadata and symbols of the database at ``path`` (StoreError when it cannot be read)."""
    with reader(path) as conn:
        meta = store.read_metadata(conn)
        symbols = tuple(store.list_symbols(conn))
    return Database(path=path, key=database_key(path, meta), market=meta.get("market", "?"),
                    stream=meta.get("stream", "?"), source=meta.get("source", "binance"), symbols=symbols)


def database_key(path: str, meta: Mapping[str, str]) -> str:
    """The file and its creation time: a database deleted and created again gets new caches."""
    return f"{Path(path).resolve()}@{meta.get('created_ms', '')}"


# --------------------------------------------------------------------------- incremental bars


class BarCache:
    """One symbol's recent one-second bars in memory, brought up to date incrementally.

    The first refresh reads the last ``retain_ms`` of bars; every later one reads only the bars
    written or corrected since (by rev) and merges them in, replacing corrected bars. The frame
    handed out is never modified afterwards (a merge builds a new one), so readers need no lock.
    """

    def __init__(self, symbol: str, retain_ms: int = RETAIN_MS) -> None:
        self.symbol = symbol
        self.retain_ms = retain_ms
        self.bars = pd.DataFrame(columns=store.BAR_COLUMNS)
        self.rev: int | None = None
        self._lock = threading.Lock()

    def refresh(self, conn: sqlite3.Connection) -> pd.DataFrame:
        """The bars, after reading what is new since the last refresh."""
        with self._lock:
            if self.rev is None:
                self.bars, self.rev = store.read_recent_bars(conn, self.symbol, self.retain_ms)
            else:
                fresh, newest = store.read_bars_since(conn, self.symbol, self.rev)
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


def retained_bars(db: Database, symbols: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Each symbol's retained one-second bars, brought up to date in one short read."""
    with reader(db.path) as conn:
        return fresh_bars(db, conn, symbols)


def since(bars: pd.DataFrame, start_ms: int) -> pd.DataFrame:
    """The bars at or after ``start_ms`` (bars are sorted by time)."""
    return bars.iloc[int(bars["ts_ms"].searchsorted(start_ms)):]


# --------------------------------------------------------------------------- one refresh


def _no_events() -> pd.DataFrame:
    return pd.DataFrame(columns=["event_id", "ts_ms", "rule_id", "rule_name", "kind", "symbols", "timeframe",
                                 "value", "threshold", "direction", "message", "detected_ms", "acknowledged_ms",
                                 "delivery"])


@dataclass(frozen=True)
class PairView:
    """Everything one refresh draws. Frames are bounded by the lookback and MAX_CHART_BARS.

    ``bars_1s``: each pair symbol's retained one-second bars (for the heavy panels);
    ``candles``: bars at the timeframe in the charted window; ``panel``: ``pair_panel`` rows in
    the charted window (empty with fewer than two symbols); ``start_ms``/``end_ms``: the
    charted window's first and last bar; ``clipped``: the lookback held more than MAX_CHART_BARS;
    ``events``: alert events of the pair (A/B) and of A or B alone in the charted window, oldest
    first, at most MAX_EVENT_MARKERS (``store.read_alert_events`` columns).
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
    events: pd.DataFrame = field(default_factory=_no_events)

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


def pair_events(conn: sqlite3.Connection, pair: Sequence[str], start_ms: int, end_ms: int) -> pd.DataFrame:
    """Alert events in [start_ms, end_ms) of rules on the pair (A/B) or on one of its symbols, oldest first."""
    if len(pair) != 2:
        return _no_events()
    events = store.read_alert_events(conn, since_ms=start_ms, until_ms=end_ms)
    wanted = {"/".join(pair), *pair}
    events = events[events["symbols"].isin(wanted)].head(MAX_EVENT_MARKERS)
    return events.iloc[::-1].reset_index(drop=True)


def load_view(db: Database, s: Settings) -> PairView:
    """Read what is new and compute the live view (tickstore + analytics_engine; no drawing)."""
    with reader(db.path) as conn:
        db_key = database_key(db.path, store.read_metadata(conn))
        symbols = tuple(store.list_symbols(conn))
        bars = fresh_bars(db, conn, s.pair)
        status = store.read_feed_status(conn)
        start, end, clipped = chart_window(bars, s)
        gaps = store.read_gap_spans(conn, s.pair, start, end + s.tf_ms)
        events = pair_events(conn, s.pair, start, end + s.tf_ms)
    candles = {symbol: since(analytics.resample_bars(since(frame, start), s.timeframe), start)
               for symbol, frame in bars.items()}
    panel = pd.DataFrame(columns=analytics.PANEL_COLUMNS)
    if len(s.pair) == 2:
        warm_up = start - s.window * s.tf_ms  # the rolling statistics are defined from the first charted bar
        a, b = (since(bars[symbol], warm_up) for symbol in s.pair)
        panel = since(analytics.pair_panel(a, b, s.timeframe, s.window, s.hedge), start).reset_index(drop=True)
    return PairView(s, db_key, symbols, bars, candles, panel, status, gaps, start, end, clipped, events)


# --------------------------------------------------------------------------- heavy analytics


@dataclass(frozen=True)
class Analytics:
    """The heavy panels' results, recomputed at most every HEAVY_REFRESH_S seconds."""

    tests: analytics.MeanReversionReport
    backtest: analytics.BacktestResult
    backtest_rules: tuple[float, float, float]  # entry, exit, stop z
    summary: pd.DataFrame
    correlation: pd.DataFrame
    hourly: pd.DataFrame
    hourly_span_ms: int


def backtest_rules(z_threshold: float) -> tuple[float, float, float]:
    """Entry at the sidebar's threshold; exit and stop from the engine's defaults, kept ordered."""
    exit_z = min(analytics.BACKTEST_EXIT_Z, z_threshold / 2)
    stop_z = max(analytics.BACKTEST_STOP_Z, z_threshold * 2)
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
    tests = analytics.mean_reversion_tests(_view.panel, rows=HEAVY_TEST_ROWS)
    backtest = analytics.backtest_zscore(recent, s.timeframe, entry=entry, exit=exit_z, stop=stop_z)
    summary = analytics.summary_table(_view.candles, s.timeframe)
    in_view = {symbol: analytics.resample_bars(since(bars, _view.start_ms), s.timeframe) for symbol, bars in _all_bars.items()}
    correlation = analytics.correlation_matrix(in_view, s.timeframe) if len(in_view) >= 2 else pd.DataFrame()
    day = analytics.pair_panel(*(_view.bars_1s[symbol] for symbol in s.pair), s.timeframe, s.window, s.hedge)
    span = int(day["ts_ms"].iloc[-1] - day["ts_ms"].iloc[0]) if len(day) else 0
    return Analytics(tests, backtest, (entry, exit_z, stop_z), summary, correlation, analytics.hourly_summary(day), span)


# --------------------------------------------------------------------------- alert rules


def read_rules(path: str) -> list[alerts.AlertRule]:
    """Every stored alert rule, by rule_id."""
    with reader(path) as conn:
        return repository.list_rules(conn)


def save_rule(path: str, spec: Mapping[str, Any], rule_id: int | None = None) -> int:
    """Check ``spec`` (``alerts.validate_rule`` against the database's symbols) and store it as a new
    rule, or as rule ``rule_id``'s new definition; returns the rule's id.

    A bad rule raises ``alerts.RuleError`` (one line) and nothing is written; a rule deleted
    meanwhile raises StoreError.
    """
    with reader(path) as conn:
        known = store.list_symbols(conn)
    rule = alerts.validate_rule({**spec, "rule_id": None}, known)
    with writer(path) as conn:
        if rule_id is None:
            return repository.insert_rule(conn, rule)
        if not repository.update_rule(conn, rule_id, rule):
            raise store.StoreError(f"rule {rule_id} no longer exists (deleted meanwhile)")
    return rule_id


def set_rule_enabled(path: str, rule_id: int, enabled: bool) -> None:
    """Switch a rule on or off (switched on, it starts at the newest bar); StoreError when it no longer exists."""
    with writer(path) as conn:
        if not store.set_alert_rule_enabled(conn, rule_id, enabled):
            raise store.StoreError(f"rule {rule_id} no longer exists (deleted meanwhile)")


def delete_rule(path: str, rule_id: int) -> None:
    """Delete a rule (its events stay in the history); StoreError when it no longer exists."""
    with writer(path) as conn:
        if not store.delete_alert_rule(conn, rule_id):
            raise store.StoreError(f"rule {rule_id} no longer exists (deleted meanwhile)")


# --------------------------------------------------------------------------- alert history


@dataclass(frozen=True)
class HistoryFilter:
    """Which alert events the history shows: None means any. Times are UTC epoch ms, end exclusive."""

    rule_id: int | None = None
    kind: str | None = None
    direction: str | None = None  # "UP" / "DOWN"
    start_ms: int | None = None
    end_ms: int | None = None
    unacknowledged: bool = False


def read_history(path: str, flt: HistoryFilter, limit: int = MAX_HISTORY_ROWS) -> pd.DataFrame:
    """The filtered alert events, newest first (at most ``limit``; ``store.read_alert_events`` columns)."""
    with reader(path) as conn:
        return store.read_alert_events(conn, since_ms=flt.start_ms, rule_id=flt.rule_id, kind=flt.kind,
                                           limit=limit, until_ms=flt.end_ms, direction=flt.direction,
                                           unacknowledged=flt.unacknowledged)


def history_csv(events: pd.DataFrame, tz: str) -> bytes:
    """The history as CSV: every stored column (times in UTC epoch ms) plus ``time``, the bar in ``tz``."""
    return csv_bytes(with_local_time(events, tz))


def acknowledge(path: str, event_ids: Sequence[int]) -> int:
    """Mark events acknowledged now; returns how many were not acknowledged before."""
    if not event_ids:
        return 0
    with writer(path) as conn:
        return store.acknowledge_alert_events(conn, [int(i) for i in event_ids])


def new_events(path: str, seen_id: int | None) -> tuple[int, pd.DataFrame]:
    """Events stored after event ``seen_id``, oldest first, and the id to remember next.

    ``seen_id`` None (a session's first look): no events, only the id of the newest one (0 when
    there is none yet), so that a new session does not announce the past.
    """
    with reader(path) as conn:
        if seen_id is None:
            return store.last_alert_event_id(conn) or 0, _no_events()
        events = store.read_alert_events(conn, after_event_id=seen_id)
    events = events.sort_values("event_id", ignore_index=True)
    return (int(events["event_id"].iloc[-1]) if len(events) else seen_id), events


# --------------------------------------------------------------------------- the watchlist


class WatchlistError(ValueError):
    """A watchlist that cannot be saved; the message is one line saying what to fix."""


def read_watchlist(path: str) -> list[str]:
    """The symbols the ingestor is asked to follow (empty: none stored, it follows its --symbols)."""
    with reader(path) as conn:
        return [symbol for symbol, _updated_ms in store.read_watchlist(conn)]


def parse_watchlist(text: str) -> list[str]:
    """Symbols separated by commas, spaces or new lines, upper-cased, duplicates dropped (first kept).

    WatchlistError unless there are 1 to MAX_WATCHLIST symbols, each ``^[A-Z0-9]{2,20}$``.
    """
    symbols = list(dict.fromkeys(s.upper() for s in re.split(r"[\s,;]+", text or "") if s))
    for symbol in symbols:
        if not WATCHLIST_SYMBOL.fullmatch(symbol):
            raise WatchlistError(f"{symbol[:30]!r} is not a Binance symbol (2 to 20 letters and digits, e.g. BTCUSDT)")
    if not symbols:
        raise WatchlistError("give at least one symbol, e.g. BTCUSDT, ETHUSDT")
    if len(symbols) > MAX_WATCHLIST:
        raise WatchlistError(f"at most {MAX_WATCHLIST} symbols, got {len(symbols)}")
    return symbols


def save_watchlist(path: str, symbols: Sequence[str]) -> tuple[list[str], list[str]]:
    """Make the watchlist exactly ``symbols`` (checked by ``parse_watchlist``); returns (added, removed)."""
    with writer(path) as conn:
        before = [symbol for symbol, _ in store.read_watchlist(conn)]
        store.replace_watchlist(conn, symbols)
    return [s for s in symbols if s not in before], [s for s in before if s not in symbols]


# --------------------------------------------------------------------------- downloads


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
            trades = store.read_trades(conn, symbol, start_ms, end_ms, limit=MAX_DOWNLOAD_TRADES)
            frames.append(with_local_time(trades, tz).assign(symbol=symbol))
    table = pd.concat(frames, ignore_index=True)
    return csv_bytes(table[["symbol", *[c for c in table.columns if c != "symbol"]]])


def analytics_file_name(s: Settings) -> str:
    """``analytics_BTCUSDT_ETHUSDT_1s_w60_ols.csv``: the parameters that produced the table."""
    return f"analytics_{'_'.join(s.pair)}_{s.timeframe}_w{s.window}_{s.hedge}.csv"


# --------------------------------------------------------------------------- uploads


def store_parsed(db: Database, parsed: history.ParsedHistory, on_progress: Callable[[float], None]) -> int:
    """Store a validated upload (``importer.store_parsed``); returns how many rows were new."""
    return importer.store_parsed(db.path, parsed, db.market, db.stream, on_progress)
