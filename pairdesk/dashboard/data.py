"""The dashboard's data: the live view read from the tick store incrementally, the heavy panels,
and the database handle every other data module uses.

Reading. Each symbol's recent one-second bars live in memory, shared by every session on the same
database (``BarCache``); a refresh asks the store only for bars written or corrected since the
last one (``store.read_bars_since``) and computes the live view (``load_view``): the pair panel
on every retained bar, then cut to the charted window (the lookback, at most ``MAX_CHART_BARS``
bars). Every row of the panel is causal (it uses bars up to its own only), so computing on
more bars than are charted never changes a charted value, and a refresh never repaints the
history: the rows charted at one refresh are the same numbers at the next. The heavy panels
(``heavy_analytics``) are cached under a key that changes every ``HEAVY_REFRESH_S`` seconds.

Writing. The page is otherwise read-only; alert rules, acknowledgements, the watchlist and
uploads are written through ``writer``: a writer connection opened with the database's own market
and stream, one short transaction, closed at once, so the ingestor (the usual writer) is never
held up. ``writer`` first asks ``write_access.guard`` (beyond loopback, writes need the token). The running ingestor picks rule and watchlist changes up by itself.

Nothing here draws: SQL comes from ``pairdesk.store``, statistics from ``pairdesk.analytics``.
Alert rules and history are read and written in ``alerts_data``, CSV files built in ``downloads``.
"""
from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from pairdesk import analytics, binance, quote_data, store, watchlist
from pairdesk.alerts import repository
from pairdesk.dashboard import write_access
from pairdesk.dashboard.markers import split_markers
from pairdesk.dashboard.quote_cache import quote_cache, window_quotes
from pairdesk.markets import FUTURES

# --------------------------------------------------------------------------- constants

HEDGE_LABELS = {hedge: analytics.hedge_label(hedge) for hedge in analytics.HEDGE_METHODS}
TIMEFRAMES = tuple(analytics.TIMEFRAME_MS)
LOOKBACK_MS = {"5 min": 300_000, "15 min": 900_000, "1 h": 3_600_000, "4 h": 14_400_000,
               "12 h": 43_200_000, "24 h": 86_400_000}
MAX_CHART_BARS = 5_000  # bars charted at most: a day of 1 s bars stays responsive
RETAIN_MS = 26 * 3_600_000  # one-second bars kept in memory per symbol: the longest lookback + warm-up
HEAVY_REFRESH_S = 30  # heavy tests are recomputed at most this often
HEAVY_TEST_ROWS = analytics.HEAVY_TEST_WINDOW_ROWS
MAX_EVENT_MARKERS = 500  # the most recent alert events marked on a chart (markers cost the browser)
DEFAULT_NOTIONAL = 10_000.0  # quote currency on leg A, for the pair's costs and carry
CORRELATION_COLUMNS = {"returns": "return_corr", "prices": "corr"}  # Settings.correlation -> pair_panel column


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
    hedge_window: int = analytics.DEFAULT_HEDGE_WINDOW_ROWS  # bars the hedge is estimated on, before each bar
    spread_kind: str = "price"  # analytics.SPREAD_KINDS: price (A on B), log (ln A on ln B), ratio (A / B)
    notional: float = DEFAULT_NOTIONAL  # quote currency on leg A: the pair's costs at the touch and its carry
    correlation: str = "returns"  # what the correlations shown are of: "returns" (log returns) or "prices" (levels)

    @property
    def tf_ms(self) -> int:
        return analytics.timeframe_ms(self.timeframe)

    @property
    def corr_column(self) -> str:
        """The panel's column of the chosen correlation: ``return_corr`` (log returns) or ``corr`` (levels)."""
        return CORRELATION_COLUMNS[self.correlation]

    @property
    def pair(self) -> tuple[str, ...]:
        return tuple(s for s in (self.symbol_a, self.symbol_b) if s)

    @property
    def hedge_label(self) -> str:
        """The hedge as charts and cards name it; the in-sample one says "in-sample: uses future bars"."""
        return HEDGE_LABELS[self.hedge]

    @property
    def causal(self) -> bool:
        """False for ols_insample, fitted on the whole sample (its numbers use future bars)."""
        return analytics.is_causal(self.hedge)


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


def writer(path: str) -> AbstractContextManager[sqlite3.Connection]:
    """One brief write transaction, opened as the database's metadata records (``store.write_session``);
    WriteRefused when this session may not write (``write_access``)."""
    write_access.guard()
    return store.write_session(path)


def describe_database(path: str) -> Database:
    """Metadata and symbols of the database at ``path`` (StoreError when it cannot be read)."""
    with reader(path) as conn:
        meta = store.read_metadata(conn)
        symbols = tuple(store.list_symbols(conn))
    return Database(path=path, key=database_key(path, meta), market=meta.get("market", "?"),
                    stream=meta.get("stream", "?"), source=meta.get("source", "binance"), symbols=symbols)


def database_key(path: str, meta: Mapping[str, str]) -> str:
    """The file and its creation time: a database deleted and created again gets new caches."""
    where = store.display_name(path) if store.is_url(path) else Path(path).resolve()
    return f"{where}@{meta.get('created_ms', '')}"


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
            if not self.rev:  # first read, or the symbol had no bars yet (rev 0 would follow every bar of all)
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


def last_value(frame: pd.DataFrame, column: str) -> float:
    """The last finite value of ``column`` (NaN when there is none)."""
    values = frame[column].to_numpy("float64") if len(frame) else np.array([])
    finite = values[np.isfinite(values)]
    return float(finite[-1]) if len(finite) else math.nan


def since(bars: pd.DataFrame, start_ms: int) -> pd.DataFrame:
    """The bars at or after ``start_ms`` (bars are sorted by time)."""
    return bars.iloc[int(bars["ts_ms"].searchsorted(start_ms)):]


# --------------------------------------------------------------------------- one refresh


def no_events() -> pd.DataFrame:
    """An empty frame of ``store.read_alert_events`` columns."""
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
    first, at most MAX_EVENT_MARKERS (``store.read_alert_events`` columns), whose rules computed
    them with the page's settings (``markers``); ``hidden_markers``: how many others there are,
    by reason. ``quotes``: each pair symbol's quote seconds of the window (with the one before it) and
    its quote gaps; ``quote_bars``: its quote bars at the timeframe in the charted window;
    ``quote_gaps``: the quote gaps of the pair's symbols overlapping the window; ``costs``: the pair's
    costs at the touch on the panel rows (``quote_data.pair_cost_rows``, the settings' notional);
    ``funding``: each pair symbol's funding state on USD-M (None on spot).
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
    events: pd.DataFrame = field(default_factory=no_events)
    hidden_markers: Mapping[str, int] = field(default_factory=dict)
    quotes: Mapping[str, quote_data.LegQuotes] = field(default_factory=dict)
    quote_bars: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    quote_gaps: pd.DataFrame = field(default_factory=quote_data.no_quote_gaps)
    costs: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=analytics.COST_COLUMNS))
    funding: Mapping[str, quote_data.FundingState] | None = None  # USD-M only (None: spot, no funding)

    @property
    def has_quotes(self) -> bool:
        """Some leg has a quote bar with a book in the charted window."""
        return any(bool(np.isfinite(bars["bid"].to_numpy("float64")).any()) for bars in self.quote_bars.values())

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
        return no_events()
    events = store.read_alert_events(conn, since_ms=start_ms, until_ms=end_ms)
    wanted = {"/".join(pair), *pair}
    events = events[events["symbols"].isin(wanted)].head(MAX_EVENT_MARKERS)
    return events.iloc[::-1].reset_index(drop=True)


def load_view(db: Database, s: Settings) -> PairView:
    """Read what is new and compute the live view (store + analytics; no drawing)."""
    with reader(db.path) as conn:
        db_key = database_key(db.path, store.read_metadata(conn))
        symbols = tuple(store.list_symbols(conn))
        bars = fresh_bars(db, conn, s.pair)
        status = store.read_feed_status(conn)
        start, end, clipped = chart_window(bars, s)
        gaps = store.read_gap_spans(conn, s.pair, start, end + s.tf_ms)
        events = pair_events(conn, s.pair, start, end + s.tf_ms)
        rules = {rule.rule_id: rule for rule in repository.list_rules(conn)} if len(events) else {}
        quotes = window_legs(db, conn, s.pair, start, end + s.tf_ms)
        market = store.read_metadata(conn).get("market")
        funding = {symbol: quote_data.read_funding_state(conn, symbol) for symbol in s.pair} \
            if market == FUTURES else None
    candles = {symbol: since(analytics.resample_bars(since(frame, start), s.timeframe), start)
               for symbol, frame in bars.items()}
    panel = pd.DataFrame(columns=analytics.PANEL_COLUMNS)
    if len(s.pair) == 2:
        panel = chart_panel(bars, s, start)
    shown, hidden = split_markers(events, rules, s)
    quote_bars = {symbol: quote_data.leg_quote_bars(leg, s.timeframe, start, end + s.tf_ms)
                  for symbol, leg in quotes.items()}
    costs = pd.DataFrame(columns=analytics.COST_COLUMNS)
    if len(s.pair) == 2 and len(panel):
        costs = quote_data.pair_cost_rows(panel, tuple(quotes[symbol] for symbol in s.pair), s.timeframe, s.notional)
    gaps_in_view = pd.concat([leg.gaps for leg in quotes.values()], ignore_index=True) if quotes \
        else quote_data.no_quote_gaps()
    return PairView(s, db_key, symbols, bars, candles, panel, status, gaps, start, end, clipped, shown, hidden,
                    quotes, quote_bars, gaps_in_view, costs, funding)


def window_legs(db: Database, conn: sqlite3.Connection, pair: Sequence[str], start_ms: int,
                end_ms: int) -> dict[str, quote_data.LegQuotes]:
    """Each symbol's quote seconds of the window [start_ms, end_ms) from its shared cache (with the one
    before the window, as ``quote_data.read_leg_quotes`` reads them) and its quote gaps from then on."""
    held = {symbol: quote_cache(db.key, symbol).refresh(conn) for symbol in pair}
    firsts = []
    for seconds in held.values():
        ts = seconds["ts_ms"].to_numpy(np.int64)
        index = int(np.searchsorted(ts, start_ms)) - 1
        firsts.append(int(ts[index]) if index >= 0 else start_ms)
    gaps = store.read_quote_gaps(conn, list(pair), min(firsts, default=start_ms), end_ms)
    return {symbol: window_quotes(seconds, gaps, symbol, start_ms) for symbol, seconds in held.items()}


def chart_panel(bars: Mapping[str, pd.DataFrame], s: Settings, start_ms: int) -> pd.DataFrame:
    """The pair panel's rows from ``start_ms`` on, equal to those of ``retained_panel``: for the
    windowed hedges only the bars they depend on are computed (``analytics.pair_panel_since``)."""
    a, b = (bars[symbol] for symbol in s.pair)
    return analytics.pair_panel_since(a, b, start_ms, s.timeframe, s.window, s.hedge, hedge_window=s.hedge_window,
                                      spread_kind=s.spread_kind)


def retained_panel(bars: Mapping[str, pd.DataFrame], s: Settings) -> pd.DataFrame:
    """The pair panel on every retained one-second bar of the pair, with the page's settings.

    On all of them, not on the lookback plus a warm-up: the expanding and Kalman hedges remember
    their whole segment, and Huber and Theil-Sen refit on a schedule counted from its start, so
    a panel started at a sliding point would change its values at every refresh (a repaint).
    """
    a, b = (bars[symbol] for symbol in s.pair)
    return analytics.pair_panel(a, b, s.timeframe, s.window, s.hedge, hedge_window=s.hedge_window,
                                spread_kind=s.spread_kind)


# --------------------------------------------------------------------------- heavy analytics


@dataclass(frozen=True)
class Analytics:
    """The heavy panels' results, recomputed at most every HEAVY_REFRESH_S seconds."""

    tests: analytics.MeanReversionReport
    backtest: analytics.BacktestResult
    summary: pd.DataFrame
    correlation: pd.DataFrame
    hourly: pd.DataFrame
    hourly_span_ms: int


def heavy_key(db: Database, s: Settings, now_s: float | None = None) -> tuple:
    """The heavy panels' cache key: the settings, the symbols and a bucket of HEAVY_REFRESH_S seconds."""
    bucket = int((time.time() if now_s is None else now_s) // HEAVY_REFRESH_S)
    return (db.key, db.symbols, s.pair, s.timeframe, s.lookback, s.window, s.hedge, s.hedge_window, s.spread_kind,
            s.correlation, bucket)  # not the z threshold: it only draws the chart's bands


@st.cache_data(ttl=5 * HEAVY_REFRESH_S, max_entries=32, show_spinner=False)
def heavy_analytics(_view: PairView, _all_bars: Mapping[str, pd.DataFrame], key: tuple) -> Analytics:
    """Tests, backtest, summaries, correlation matrix and hourly summary (cached under ``key`` only)."""
    s = _view.settings
    recent = _view.panel.tail(HEAVY_TEST_ROWS)
    tests = analytics.mean_reversion_tests(_view.panel, rows=HEAVY_TEST_ROWS)
    # The page appends the backtest panel's inputs to the key (analytics_view); other callers get the defaults.
    params = next((k for k in key if isinstance(k, analytics.BacktestParams)), analytics.BacktestParams())
    legs = tuple(_view.quotes[symbol] for symbol in s.pair) if _view.quotes else ()
    book = quote_data.backtest_quotes(recent, legs, s.timeframe) if len(legs) == 2 else None
    funding = None if _view.funding is None else tuple(_view.funding[symbol].settled for symbol in s.pair)
    backtest = analytics.backtest_zscore(recent, s.timeframe, **params.as_kwargs(), quotes=book, funding=funding)
    summary = analytics.summary_table(_view.candles, s.timeframe)
    in_view = {symbol: analytics.resample_bars(since(bars, _view.start_ms), s.timeframe)
               for symbol, bars in _all_bars.items()}
    correlation = analytics.correlation_matrix(in_view, s.timeframe, of=s.correlation) if len(in_view) >= 2 \
        else pd.DataFrame()
    day = retained_panel(_view.bars_1s, s)
    span = int(day["ts_ms"].iloc[-1] - day["ts_ms"].iloc[0]) if len(day) else 0
    # the hourly summary's corr statistics are of the page's chosen correlation (levels or log returns)
    hourly = analytics.hourly_summary(day.assign(corr=day[s.corr_column]))
    return Analytics(tests, backtest, summary, correlation, hourly, span)


# --------------------------------------------------------------------------- the watchlist


def read_watchlist(path: str) -> list[str]:
    """The symbols the ingestor is asked to follow (empty: none stored, it follows its --symbols)."""
    with reader(path) as conn:
        return [symbol for symbol, _updated_ms in store.read_watchlist(conn)]


def watchlist_states(path: str, market: str, symbols: Sequence[str] = (), ask_exchange: bool = False) -> dict[str, str]:
    """``pairdesk.watchlist.symbol_states`` of the stored list, ``symbols`` and the ingestor's refusals; with
    ``ask_exchange``, checked against the listing at the REST URL the ingestor recorded (as ``PUT
    /api/watchlist`` does; an exchange that cannot be asked within a short timeout leaves them pending)."""
    with reader(path) as conn:
        refusals = store.read_refusals(conn)
        shown = dict.fromkeys([*(s for s, _ in store.read_watchlist(conn)), *symbols, *refusals])
        url, followed = store.read_rest_url(conn), store.followed_symbols(conn)
    listed = binance.listed_or_none(url, market) if ask_exchange else None
    return watchlist.symbol_states(shown, market, followed, listed, refusals)


def save_watchlist(path: str, symbols: Sequence[str], refused: Mapping[str, str] | None = None
                   ) -> tuple[list[str], list[str]]:
    """Make the watchlist exactly ``symbols`` (checked by ``pairdesk.watchlist``), recording ``refused``
    (symbol -> reason) beside the ingestor's refusals; returns (added, removed)."""
    with writer(path) as conn:
        before = [symbol for symbol, _ in store.read_watchlist(conn)]
        store.replace_watchlist(conn, symbols)
        store.record_refusals(conn, refused or {}, symbols)
    return [s for s in symbols if s not in before], [s for s in before if s not in symbols]
