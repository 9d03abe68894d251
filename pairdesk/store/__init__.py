"""The tick store: every line of SQL in the product.

One SQLite file in WAL mode holds one market's trades (spot or USD-M futures, trade ids or
aggregate ids: never a mix), their one-second bars, the feed status per symbol, the gaps log,
alert rules and events. One writer thread owns the only write connection and commits one
transaction per batch; every other process opens the file read-only.

Storage layout (see the README for the byte budget):
- ``trade_rows`` is a WITHOUT ROWID table keyed on (sym_id, trade_id): the key is the only index,
  so a trade costs its record and nothing else. ``trades`` is a view with the symbol's name.
- ``bar_rows`` holds one row per symbol-second with the open/close trade (time, id) so that a late
  or backfilled trade corrects its bar exactly, and the smallest/largest trade id of the second so
  that trades of a time range are found through the bars, without an index on time.
  ``bars_1s`` is a view with the symbol's name.
- ``rev`` on a bar row is the number of the batch that last changed it: a reader that remembers
  the highest rev it has seen reads only the bars that are new or corrected since.
"""
from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

MARKETS = ("spot", "futures")
STREAM_KINDS = ("trade", "aggTrade")
BUSY_TIMEOUT_MS = 5_000
FLUSH_INTERVAL_MS = 250
MAX_BATCH_TRADES = 20_000
BUSY_RETRY_S = 0.2  # pause between attempts while another process holds the write lock
BUSY_RETRY_ON_STOP_S = 30.0  # at shutdown, give up on a locked database after this long

# A trade as stored: (symbol, trade_id, ts_ms, price, qty, is_buyer_maker).
TradeTuple = Sequence


class StoreError(Exception):
    """A problem with the database file a user can fix; the message is one line."""


class StoreMismatch(StoreError):
    """The database holds another market or stream kind than the one asked for."""


# --------------------------------------------------------------------------- schema


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run DDL statements one by one (``executescript`` would commit the caller's transaction)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _migration_1(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE symbols (sym_id INTEGER PRIMARY KEY, symbol TEXT NOT NULL UNIQUE);
        CREATE TABLE trade_rows (
            sym_id INTEGER NOT NULL,
            trade_id INTEGER NOT NULL,
            ts_ms INTEGER NOT NULL,
            price REAL NOT NULL,
            qty REAL NOT NULL,
            is_buyer_maker INTEGER NOT NULL,
            PRIMARY KEY (sym_id, trade_id)
        ) WITHOUT ROWID;
        CREATE VIEW trades AS
            SELECT s.symbol, t.trade_id, t.ts_ms, t.price, t.qty, t.is_buyer_maker
            FROM trade_rows t JOIN symbols s USING (sym_id);
        CREATE TABLE bar_rows (
            sym_id INTEGER NOT NULL,
            ts_ms INTEGER NOT NULL,
            open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL,
            volume REAL NOT NULL, quote_volume REAL NOT NULL, trades INTEGER NOT NULL,
            open_ts_ms INTEGER NOT NULL, open_id INTEGER NOT NULL,
            close_ts_ms INTEGER NOT NULL, close_id INTEGER NOT NULL,
            min_id INTEGER NOT NULL, max_id INTEGER NOT NULL,
            rev INTEGER NOT NULL,
            PRIMARY KEY (sym_id, ts_ms)
        ) WITHOUT ROWID;
        CREATE INDEX bar_rows_rev ON bar_rows (rev);
        CREATE VIEW bars_1s AS
            SELECT s.symbol, b.ts_ms, b.open, b.high, b.low, b.close, b.volume, b.quote_volume,
                   b.trades
            FROM bar_rows b JOIN symbols s USING (sym_id);
        CREATE TABLE feed_status (
            symbol TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            transport TEXT NOT NULL,
            last_trade_ms INTEGER,
            last_trade_id INTEGER,
            last_message_ms INTEGER,
            updated_ms INTEGER NOT NULL,
            messages INTEGER NOT NULL DEFAULT 0,
            trades INTEGER NOT NULL DEFAULT 0,
            bad_frames INTEGER NOT NULL DEFAULT 0,
            reconnects INTEGER NOT NULL DEFAULT 0,
            open_gaps INTEGER NOT NULL DEFAULT 0,
            message_rate REAL NOT NULL DEFAULT 0,
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE gaps (
            gap_id INTEGER PRIMARY KEY,
            symbol TEXT NOT NULL,
            from_id INTEGER NOT NULL,
            to_id INTEGER NOT NULL,
            found_ms INTEGER NOT NULL,
            reason TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'open',
            filled_ms INTEGER,
            filled_count INTEGER NOT NULL DEFAULT 0,
            method TEXT,
            detail TEXT NOT NULL DEFAULT '',
            UNIQUE (symbol, from_id)
        );
        """
    )


def _migration_2(conn: sqlite3.Connection) -> None:
    """Alert rules and events, the ingestor's watchlist, stored hourly summaries."""
    _run_script(
        conn,
        """
        CREATE TABLE alert_rules (
            rule_id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            symbols TEXT NOT NULL,
            timeframe TEXT NOT NULL,
            window INTEGER NOT NULL,
            hedge TEXT NOT NULL,
            params TEXT NOT NULL DEFAULT '{}',
            cooldown_s REAL NOT NULL DEFAULT 60,
            webhook_url TEXT,
            enabled INTEGER NOT NULL DEFAULT 1,
            created_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL,
            data_ms INTEGER,
            state TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE alert_events (
            event_id INTEGER PRIMARY KEY,
            ts_ms INTEGER NOT NULL,
            rule_id INTEGER NOT NULL,
            kind TEXT NOT NULL,
            value REAL,
            threshold REAL,
            direction TEXT,
            message TEXT NOT NULL,
            rule_name TEXT NOT NULL DEFAULT '',
            symbols TEXT NOT NULL DEFAULT '',
            timeframe TEXT NOT NULL DEFAULT '',
            detected_ms INTEGER NOT NULL,
            acknowledged_ms INTEGER,
            delivery TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX alert_events_ts ON alert_events (ts_ms);
        CREATE INDEX alert_events_rule ON alert_events (rule_id, ts_ms);
        CREATE TABLE watchlist (
            symbol TEXT PRIMARY KEY,
            updated_ms INTEGER NOT NULL
        );
        CREATE TABLE hourly_summaries (
            symbols TEXT NOT NULL,
            timeframe TEXT NOT NULL,
            hour_ms INTEGER NOT NULL,
            stats TEXT NOT NULL,
            computed_ms INTEGER NOT NULL,
            PRIMARY KEY (symbols, timeframe, hour_ms)
        ) WITHOUT ROWID
        """,
    )


def _migration_3(conn: sqlite3.Connection) -> None:
    """Why the feed last failed, for the dashboard ("connection failed: Name or service not known")."""
    conn.execute("ALTER TABLE feed_status ADD COLUMN last_error TEXT NOT NULL DEFAULT ''")


# Numbered migrations: MIGRATIONS[i] brings the schema from user_version i to i + 1.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migration_1, _migration_2, _migration_3]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the missing migrations, each in its own transaction with the version it sets."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"database schema version {version} is newer than this program's {SCHEMA_VERSION}; upgrade the program"
        )
    for number in range(version, SCHEMA_VERSION):
        with transaction(conn):
            MIGRATIONS[number](conn)
            conn.execute(f"PRAGMA user_version = {number + 1}")
        log.info("database migrated to schema version %d", number + 1)


class transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception (connection in autocommit mode)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


# --------------------------------------------------------------------------- connections


def open_writer(path: str | Path, market: str, stream: str, source: str | None = None) -> sqlite3.Connection:
    """Open (creating and migrating) the database for writing ``market`` / ``stream`` trades.

    Raises StoreMismatch when the file already holds another market or stream kind, and
    StoreError when the file is not a tick database. ``source`` ("binance" or "local") is
    recorded so that the dashboard can label data from a local exchange as DEMO; None keeps what
    the database records ("binance" for a new one).
    """
    if market not in MARKETS:
        raise StoreError(f"unknown market {market!r}; expected one of {', '.join(MARKETS)}")
    if stream not in STREAM_KINDS:
        raise StoreError(f"unknown stream kind {stream!r}; expected one of {', '.join(STREAM_KINDS)}")
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
            raise StoreError(f"{path}: could not switch the database to WAL mode")
        conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a usable tick database ({exc})") from None
    _claim_metadata(conn, path, market, stream, source)
    return conn


def _claim_metadata(conn: sqlite3.Connection, path: str | Path, market: str, stream: str,
                    source: str | None) -> None:
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    if not meta:
        with transaction(conn):
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [("market", market), ("stream", stream), ("source", source or "binance"),
                 ("created_ms", str(now_ms()))],
            )
        return
    if (meta.get("market"), meta.get("stream")) != (market, stream):
        raise StoreMismatch(
            f"{path} holds {meta.get('market')} {meta.get('stream')} data; refusing to store {market} {stream} "
            f"data in it (use another --db)"
        )
    if source is not None and meta.get("source") != source:
        with transaction(conn):
            conn.execute("UPDATE meta SET value = ? WHERE key = 'source'", (source,))


def open_reader(path: str | Path) -> sqlite3.Connection:
    """Open an existing tick database read-only; StoreError with a one-line message otherwise."""
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"{path}: no such database (start the ingestor first, or pass --db)")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a tick database ({exc})") from None
    if version == 0:
        raise StoreError(f"{path}: not a tick database (no schema)")
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path}: schema version {version} is newer than this program's {SCHEMA_VERSION}")
    return conn


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# --------------------------------------------------------------------------- writing


@dataclass
class BatchResult:
    """What one batch changed: trades offered, trades new to the database, bar rows touched."""

    offered: int = 0
    stored: int = 0
    bars: int = 0


class _SymbolIds:
    """Symbol name <-> small integer id, created on first sight (inside the caller's transaction)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.ids = dict(conn.execute("SELECT symbol, sym_id FROM symbols"))

    def get(self, symbol: str) -> int:
        sym_id = self.ids.get(symbol)
        if sym_id is None:  # new to us; another process (an upload) may have added it meanwhile
            self.conn.execute("INSERT OR IGNORE INTO symbols (symbol) VALUES (?)", (symbol,))
            sym_id = self.conn.execute("SELECT sym_id FROM symbols WHERE symbol = ?", (symbol,)).fetchone()[0]
            self.ids[symbol] = sym_id
        return sym_id


_UPSERT_BAR = """
INSERT INTO bar_rows (sym_id, ts_ms, open, high, low, close, volume, quote_volume, trades,
                      open_ts_ms, open_id, close_ts_ms, close_id, min_id, max_id, rev)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (sym_id, ts_ms) DO UPDATE SET
    open = CASE WHEN (excluded.open_ts_ms, excluded.open_id) < (open_ts_ms, open_id)
                THEN excluded.open ELSE open END,
    open_ts_ms = CASE WHEN (excluded.open_ts_ms, excluded.open_id) < (open_ts_ms, open_id)
                THEN excluded.open_ts_ms ELSE open_ts_ms END,
    open_id = CASE WHEN (excluded.open_ts_ms, excluded.open_id) < (open_ts_ms, open_id)
                THEN excluded.open_id ELSE open_id END,
    close = CASE WHEN (excluded.close_ts_ms, excluded.close_id) > (close_ts_ms, close_id)
                THEN excluded.close ELSE close END,
    close_ts_ms = CASE WHEN (excluded.close_ts_ms, excluded.close_id) > (close_ts_ms, close_id)
                THEN excluded.close_ts_ms ELSE close_ts_ms END,
    close_id = CASE WHEN (excluded.close_ts_ms, excluded.close_id) > (close_ts_ms, close_id)
                THEN excluded.close_id ELSE close_id END,
    high = max(high, excluded.high),
    low = min(low, excluded.low),
    volume = volume + excluded.volume,
    quote_volume = quote_volume + excluded.quote_volume,
    trades = trades + excluded.trades,
    min_id = min(min_id, excluded.min_id),
    max_id = max(max_id, excluded.max_id),
    rev = excluded.rev
"""


def _new_trades(conn: sqlite3.Connection, sym_id: int, trades: list[TradeTuple]) -> list[TradeTuple]:
    """The trades of one symbol not yet stored, once each (a batch may repeat a trade)."""
    by_id = {t[1]: t for t in trades}
    lo, hi = min(by_id), max(by_id)
    stored = conn.execute(
        "SELECT trade_id FROM trade_rows WHERE sym_id = ? AND trade_id BETWEEN ? AND ?", (sym_id, lo, hi)
    ).fetchall()
    for (trade_id,) in stored:
        by_id.pop(trade_id, None)
    return list(by_id.values())


def _bars_of(sym_id: int, trades: list[TradeTuple], rev: int) -> list[tuple]:
    """One-second bar rows (in _UPSERT_BAR's column order) summarising ``trades`` of one symbol."""
    bars: dict[int, list] = {}
    for _symbol, trade_id, ts_ms, price, qty, _maker in trades:
        second = ts_ms - ts_ms % 1000
        bar = bars.get(second)
        key = (ts_ms, trade_id)
        if bar is None:
            bars[second] = [price, price, price, price, qty, price * qty, 1, key, key, trade_id, trade_id]
            continue
        if key < bar[7]:
            bar[0], bar[7] = price, key
        if key > bar[8]:
            bar[3], bar[8] = price, key
        if price > bar[1]:
            bar[1] = price
        if price < bar[2]:
            bar[2] = price
        bar[4] += qty
        bar[5] += price * qty
        bar[6] += 1
        if trade_id < bar[9]:
            bar[9] = trade_id
        if trade_id > bar[10]:
            bar[10] = trade_id
    return [
        (sym_id, second, o, h, l, c, v, qv, n, ok[0], ok[1], ck[0], ck[1], lo, hi, rev)
        for second, (o, h, l, c, v, qv, n, ok, ck, lo, hi) in bars.items()
    ]


def store_trades(conn: sqlite3.Connection, symbol_ids: _SymbolIds, trades: Iterable[TradeTuple], rev: int) -> BatchResult:
    """Store trades not yet in the database and fold them into their bars (caller holds the transaction)."""
    per_symbol: dict[str, list[TradeTuple]] = {}
    offered = 0
    for trade in trades:
        per_symbol.setdefault(trade[0], []).append(trade)
        offered += 1
    result = BatchResult(offered=offered)
    for symbol, symbol_trades in per_symbol.items():
        sym_id = symbol_ids.get(symbol)
        fresh = _new_trades(conn, sym_id, symbol_trades)
        if not fresh:
            continue
        conn.executemany(
            "INSERT INTO trade_rows (sym_id, trade_id, ts_ms, price, qty, is_buyer_maker) VALUES (?, ?, ?, ?, ?, ?)",
            [(sym_id, t[1], t[2], t[3], t[4], int(t[5])) for t in fresh],
        )
        bars = _bars_of(sym_id, fresh, rev)
        conn.executemany(_UPSERT_BAR, bars)
        result.stored += len(fresh)
        result.bars += len(bars)
    return result


def _next_rev(conn: sqlite3.Connection) -> int:
    return (conn.execute("SELECT max(rev) FROM bar_rows").fetchone()[0] or 0) + 1


def store_history(conn: sqlite3.Connection, trades: Iterable[TradeTuple]) -> BatchResult:
    """Store trades and fold them into their bars, in the caller's transaction (imports, uploads)."""
    return store_trades(conn, _SymbolIds(conn), trades, _next_rev(conn))


def store_bars(conn: sqlite3.Connection, symbol: str, bars: Iterable[Sequence]) -> int:
    """Store start-labelled OHLCV bars where no bar exists yet, in the caller's transaction.

    ``bars`` rows are (ts_ms, open, high, low, close, volume, quote_volume, trades). Bars built
    from stored trades always win: an uploaded bar never overwrites one. Such bars carry no trade
    ids (min_id = max_id = -1). Returns how many bars were new.
    """
    sym_id = _SymbolIds(conn).get(symbol)
    rev = _next_rev(conn)
    before = conn.total_changes
    conn.executemany(
        "INSERT OR IGNORE INTO bar_rows (sym_id, ts_ms, open, high, low, close, volume, quote_volume, trades,"
        " open_ts_ms, open_id, close_ts_ms, close_id, min_id, max_id, rev)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, -1, ?, -1, -1, -1, ?)",
        [(sym_id, int(b[0]), *map(float, b[1:7]), int(b[7]), int(b[0]), int(b[0]), rev) for b in bars],
    )
    return conn.total_changes - before


def write_trades(path: str | Path, trades: Iterable[TradeTuple], market: str = "spot", stream: str = "trade",
                 source: str | None = None) -> int:
    """Store trades in one transaction (creating the database); returns how many were new.

    For imports, tests and tools; the live ingestor uses TradeWriter.
    """
    conn = open_writer(path, market, stream, source)
    try:
        with transaction(conn):
            return store_history(conn, trades).stored
    finally:
        conn.close()


def write_bars(path: str | Path, symbol: str, bars: Iterable[Sequence], market: str = "spot", stream: str = "trade",
               source: str | None = None) -> int:
    """``store_bars`` in its own transaction (creating the database); returns how many bars were new."""
    conn = open_writer(path, market, stream, source)
    try:
        with transaction(conn):
            return store_bars(conn, symbol, bars)
    finally:
        conn.close()


class TradeWriter:
    """The single writer: a thread that owns the write connection and commits a batch at a time.

    ``submit`` and ``call`` are thread-safe and never block on SQLite. A batch is committed every
    ``flush_interval_ms`` or as soon as ``max_batch_trades`` trades are waiting, in one
    transaction that also applies the status and gap updates queued with it.
    """

    def __init__(self, path: str | Path, market: str, stream: str, source: str | None = None,
                 flush_interval_ms: int = FLUSH_INTERVAL_MS, max_batch_trades: int = MAX_BATCH_TRADES,
                 on_commit: Callable[[BatchResult], None] | None = None) -> None:
        self.conn = open_writer(path, market, stream, source)
        self.flush_interval_s = flush_interval_ms / 1000
        self.max_batch_trades = max_batch_trades
        self.on_commit = on_commit
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._symbol_ids = _SymbolIds(self.conn)
        self._rev = _next_rev(self.conn)
        self._thread = threading.Thread(target=self._run, name="tick-writer", daemon=True)
        self._stopping = False
        self.error: BaseException | None = None
        self.totals = BatchResult()
        self._submitted = 0  # written by the submitting thread
        self._handled = 0  # written by the writer thread

    def start(self) -> TradeWriter:
        self._thread.start()
        return self

    def submit(self, trades: list[TradeTuple]) -> None:
        """Queue trades for the next batch (duplicates are dropped when stored)."""
        if trades:
            self._submitted += len(trades)
            self._inbox.put(trades)

    @property
    def backlog(self) -> int:
        """Trades submitted but not yet committed (each counter is written by one thread only)."""
        return self._submitted - self._handled

    def call(self, fn: Callable[[sqlite3.Connection], object]) -> Future:
        """Run ``fn(conn)`` in the writer thread inside the next batch's transaction."""
        future: Future = Future()
        self._inbox.put((fn, future))
        return future

    def close(self, timeout_s: float = 5.0) -> None:
        """Commit what is queued and stop the thread."""
        if self._thread.is_alive():
            self._stopping = True
            self._inbox.put(None)
            self._thread.join(timeout_s)
        self.conn.close()

    def _run(self) -> None:
        while True:
            trades: list[TradeTuple] = []
            calls: list[tuple[Callable, Future]] = []
            deadline = time.monotonic() + self.flush_interval_s
            stop = False
            while len(trades) < self.max_batch_trades:
                try:
                    item = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                if isinstance(item, tuple):
                    calls.append(item)
                else:
                    trades.extend(item)
            if stop:  # drain what arrived before the stop marker
                while True:
                    try:
                        item = self._inbox.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(item, tuple):
                        calls.append(item)
                    elif item is not None:
                        trades.extend(item)
            if trades or calls:
                self._commit(trades, calls)
            if stop:
                return

    def _commit(self, trades: list[TradeTuple], calls: list[tuple[Callable, Future]]) -> None:
        """Commit one batch; while another process holds the write lock (an import), wait and retry.

        A batch is never dropped because the database is busy; any other failure rolls the batch
        back, is logged and reported to the callers, and the writer keeps going.
        """
        waited_s = 0.0
        try:
            while True:
                try:
                    self._commit_batch(trades, calls)
                    return
                except sqlite3.OperationalError as exc:
                    busy = "locked" in str(exc) or "busy" in str(exc)
                    if not busy or (self._stopping and waited_s >= BUSY_RETRY_ON_STOP_S):
                        self._fail_batch(trades, calls, exc)
                        return
                    if waited_s == 0.0:
                        log.warning("writer: another process is writing to the database; holding %d trades "
                                    "until it is done", len(trades))
                    time.sleep(BUSY_RETRY_S)
                    waited_s += BUSY_RETRY_S + BUSY_TIMEOUT_MS / 1000
                except Exception as exc:  # a failed batch must not kill the writer
                    self._fail_batch(trades, calls, exc)
                    return
        finally:
            self._handled += len(trades)

    def _fail_batch(self, trades: list[TradeTuple], calls: list[tuple[Callable, Future]], exc: Exception) -> None:
        log.error("writer: batch of %d trades failed and was rolled back: %s", len(trades), exc)
        self.error = exc
        for _fn, future in calls:
            future.set_exception(exc)

    def _commit_batch(self, trades: list[TradeTuple], calls: list[tuple[Callable, Future]]) -> None:
        results = []
        try:
            with transaction(self.conn):
                self._rev = max(self._rev, _next_rev(self.conn))  # an upload by another process may have used ours
                batch = store_trades(self.conn, self._symbol_ids, trades, self._rev) if trades else BatchResult()
                for fn, _future in calls:
                    results.append(fn(self.conn))
        except Exception:
            self._symbol_ids = _SymbolIds(self.conn)  # ids created in the rolled-back transaction are gone
            raise
        self._rev += 1
        self.totals.offered += batch.offered
        self.totals.stored += batch.stored
        self.totals.bars += batch.bars
        for (_fn, future), value in zip(calls, results):
            future.set_result(value)
        if self.on_commit is not None:
            self.on_commit(batch)


# --------------------------------------------------------------------------- status and gaps (writer side)


STATUS_COLUMNS = ("state", "transport", "last_trade_ms", "last_trade_id", "last_message_ms", "messages", "trades",
                  "bad_frames", "reconnects", "open_gaps", "message_rate", "detail", "last_error")


def upsert_status(conn: sqlite3.Connection, symbol: str, **fields) -> None:
    """Write one symbol's feed status row (``updated_ms`` is set to now: the heartbeat)."""
    unknown = set(fields) - set(STATUS_COLUMNS)
    if unknown:
        raise ValueError(f"unknown status fields: {sorted(unknown)}")
    fields.setdefault("state", "starting")
    fields.setdefault("transport", "ws")
    columns = ["symbol", "updated_ms", *fields]
    values = [symbol, now_ms(), *fields.values()]
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
    conn.execute(
        f"INSERT INTO feed_status ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT (symbol) DO UPDATE SET {updates}",
        values,
    )


def delete_status(conn: sqlite3.Connection, symbol: str) -> None:
    """Forget a symbol's feed status (the ingestor no longer follows it)."""
    conn.execute("DELETE FROM feed_status WHERE symbol = ?", (symbol,))


def open_gap(conn: sqlite3.Connection, symbol: str, from_id: int, to_id: int, reason: str) -> None:
    """Record trade ids from_id..to_id (inclusive) as missing; a gap already recorded is widened."""
    conn.execute(
        "INSERT INTO gaps (symbol, from_id, to_id, found_ms, reason) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (symbol, from_id) DO UPDATE SET to_id = max(to_id, excluded.to_id), status = 'open'",
        (symbol, from_id, to_id, now_ms(), reason),
    )


def close_gap(conn: sqlite3.Connection, symbol: str, from_id: int, status: str, filled_count: int, method: str,
              detail: str = "") -> None:
    """Mark a gap filled (``status='filled'``) or given up (``'unfillable'``)."""
    conn.execute(
        "UPDATE gaps SET status = ?, filled_ms = ?, filled_count = ?, method = ?, detail = ? "
        "WHERE symbol = ? AND from_id = ?",
        (status, now_ms(), filled_count, method, detail, symbol, from_id),
    )


def list_open_gaps(conn: sqlite3.Connection) -> list[tuple[str, int, int]]:
    """(symbol, from_id, to_id) of every open gap, oldest first (no pandas: the ingestor uses it)."""
    return conn.execute("SELECT symbol, from_id, to_id FROM gaps WHERE status = 'open' ORDER BY gap_id").fetchall()


def count_missing(conn: sqlite3.Connection, symbol: str, from_id: int, to_id: int) -> int:
    """How many ids in from_id..to_id (inclusive) are not stored for ``symbol``."""
    row = conn.execute(
        "SELECT count(*) FROM trade_rows t JOIN symbols s USING (sym_id) "
        "WHERE s.symbol = ? AND t.trade_id BETWEEN ? AND ?",
        (symbol, from_id, to_id),
    ).fetchone()
    return (to_id - from_id + 1) - row[0]


# --------------------------------------------------------------------------- API: watchlist and hourly summaries
# (plain tuples, no pandas: api.py streams some of these straight into CSV)


def read_watchlist(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """(symbol, updated_ms) of every symbol the ingestor is asked to follow, by symbol."""
    return conn.execute("SELECT symbol, updated_ms FROM watchlist ORDER BY symbol").fetchall()


def replace_watchlist(conn: sqlite3.Connection, symbols: Sequence[str]) -> None:
    """Make the watchlist exactly ``symbols`` (caller holds the transaction).

    Every row gets this replacement's time (later than any before, even within one millisecond),
    so max(updated_ms) grows whenever the list is written: a poller compares that one number to
    know it must re-read the list.
    """
    previous = conn.execute("SELECT max(updated_ms) FROM watchlist").fetchone()[0]
    updated_ms = now_ms() if previous is None else max(now_ms(), previous + 1)
    conn.execute("DELETE FROM watchlist")
    conn.executemany("INSERT INTO watchlist (symbol, updated_ms) VALUES (?, ?)",
                     [(symbol, updated_ms) for symbol in dict.fromkeys(symbols)])


def write_hourly_summaries(conn: sqlite3.Connection, symbols: str, timeframe: str,
                           rows: Iterable[tuple[int, str]]) -> int:
    """Store (hour_ms, stats JSON text) rows of one pair ("A,B") and timeframe, replacing rows of the
    same hours (caller holds the transaction); returns how many rows were written."""
    computed_ms = now_ms()
    before = conn.total_changes
    conn.executemany(
        "INSERT INTO hourly_summaries (symbols, timeframe, hour_ms, stats, computed_ms) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (symbols, timeframe, hour_ms) DO UPDATE SET stats = excluded.stats, "
        "computed_ms = excluded.computed_ms",
        [(symbols, timeframe, int(hour_ms), stats, computed_ms) for hour_ms, stats in rows],
    )
    return conn.total_changes - before


def read_hourly_summaries(conn: sqlite3.Connection, symbols: str | None = None, timeframe: str | None = None,
                          start_ms: int | None = None, end_ms: int | None = None,
                          limit: int | None = None) -> list[tuple[str, str, int, str, int]]:
    """Stored hourly summaries (symbols, timeframe, hour_ms, stats JSON text, computed_ms) with
    start_ms <= hour_ms < end_ms, optionally of one pair / timeframe; with ``limit`` the most
    recent ``limit`` hours. Sorted by hour, then pair and timeframe."""
    where, params = _time_filter(start_ms, end_ms, "hour_ms")
    for column, value in (("symbols", symbols), ("timeframe", timeframe)):
        if value is not None:
            where += f" AND {column} = ?"
            params.append(value)
    sql = f"SELECT symbols, timeframe, hour_ms, stats, computed_ms FROM hourly_summaries WHERE 1 = 1{where}"
    if limit is not None:
        sql = f"SELECT * FROM ({sql} ORDER BY hour_ms DESC, symbols, timeframe LIMIT ?)"
        params.append(int(limit))
    return conn.execute(f"{sql} ORDER BY hour_ms, symbols, timeframe", params).fetchall()


def read_symbol_extents(conn: sqlite3.Connection) -> list[tuple[str, int, int, int, int]]:
    """(symbol, bars, trades, first_ms, last_ms) of every symbol with bars, by symbol, from the
    one-second bars: ``trades`` counts the trades stored in bars built from trades (uploaded bars
    hold no trades), first_ms / last_ms are the first and last bar starts."""
    return conn.execute(
        "SELECT s.symbol, count(*), coalesce(sum(b.trades) FILTER (WHERE b.min_id >= 0), 0), min(b.ts_ms), "
        "max(b.ts_ms) FROM bar_rows b JOIN symbols s USING (sym_id) GROUP BY s.symbol ORDER BY s.symbol"
    ).fetchall()


def bar_time_range(conn: sqlite3.Connection, symbol: str) -> tuple[int, int] | None:
    """Start of ``symbol``'s first and last one-second bar, or None when it has none."""
    return bar_bounds_by_symbol(conn).get(symbol)


def trade_id_bounds(conn: sqlite3.Connection, symbol: str, start_ms: int | None = None,
                    end_ms: int | None = None) -> tuple[int, int] | None:
    """The smallest and largest trade id stored for ``symbol`` in the bars of [start_ms, end_ms)
    (start_ms's own second included), or None when it has no trades there. Every trade of the
    range has an id in between, whatever the order of ids and times: this is how time ranges are
    read without an index on time."""
    bar_start = None if start_ms is None else int(start_ms) - int(start_ms) % 1000
    where, params = _time_filter(bar_start, end_ms)
    row = conn.execute(
        "SELECT min(min_id), max(max_id) FROM bar_rows "
        f"WHERE sym_id = (SELECT sym_id FROM symbols WHERE symbol = ?) AND max_id >= 0{where}",
        [symbol, *params],
    ).fetchone()
    return None if row[0] is None else (row[0], row[1])


def read_trade_page(conn: sqlite3.Connection, symbol: str, after_id: int, last_id: int, limit: int,
                    start_ms: int | None = None, end_ms: int | None = None) -> list[tuple]:
    """Up to ``limit`` trades (trade_id, ts_ms, price, qty, is_buyer_maker 0/1) of ``symbol`` with
    after_id < trade_id <= last_id and start_ms <= ts_ms < end_ms, by trade id: one page of a
    keyset walk (pass the last trade_id of a page as the next after_id) from ``trade_id_bounds``."""
    where, params = _time_filter(start_ms, end_ms)
    return conn.execute(
        "SELECT trade_id, ts_ms, price, qty, is_buyer_maker FROM trade_rows "
        f"WHERE sym_id = (SELECT sym_id FROM symbols WHERE symbol = ?) AND trade_id > ? AND trade_id <= ?{where} "
        "ORDER BY trade_id LIMIT ?",
        [symbol, int(after_id), int(last_id), *params, int(limit)],
    ).fetchall()


# --------------------------------------------------------------------------- alert rules and events
# The store deals in rows: a rule is a mapping with the ALERT_RULE_FIELDS ("symbols" as "A/B",
# "params" a dict). ``pairdesk.alerts.repository`` checks rules and converts them. Writers call these
# inside ``transaction(conn)`` on a writer
# connection; the ingestor's monitor calls its own through ``TradeWriter.call``, each in a SAVEPOINT
# so that a failure can never roll back the trades of the writer's batch.

ALERT_RULES_SEEDED_KEY = "alert_rules_seeded"  # meta key: default rules were added once (never again)
ALERT_RULE_FIELDS = ("name", "kind", "symbols", "timeframe", "window", "hedge", "params", "cooldown_s",
                      "webhook_url", "enabled")
_ALERT_EVENT_FIELDS = ("ts_ms", "rule_id", "rule_name", "kind", "symbols", "timeframe", "value", "threshold",
                       "direction", "message", "delivery")


class _savepoint:
    """SAVEPOINT ... RELEASE inside the caller's transaction; rolled back to the savepoint on any exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("SAVEPOINT alerts")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type:
            self.conn.execute("ROLLBACK TO alerts")
        self.conn.execute("RELEASE alerts")


def _alert_rule_values(row: Mapping[str, object]) -> tuple:
    """The stored columns of a rule row, in ALERT_RULE_FIELDS order (``params`` a dict, stored as JSON)."""
    return tuple(json.dumps(row["params"], sort_keys=True) if name == "params"
                 else int(bool(row["enabled"])) if name == "enabled" else row[name] for name in ALERT_RULE_FIELDS)


def bar_bounds_by_symbol(conn: sqlite3.Connection) -> dict[str, tuple[int, int]]:
    """{symbol: (first, last one-second bar start)} of every symbol with bars (two index probes each)."""
    rows = conn.execute(
        "SELECT s.symbol, (SELECT min(ts_ms) FROM bar_rows b WHERE b.sym_id = s.sym_id), "
        "(SELECT max(ts_ms) FROM bar_rows b WHERE b.sym_id = s.sym_id) FROM symbols s"
    ).fetchall()
    return {symbol: (first, last) for symbol, first, last in rows if first is not None}


def _data_clock_ms(conn: sqlite3.Connection) -> int | None:
    """Start of the newest one-second bar of any symbol (the store's data time), None when empty."""
    return max((last for _first, last in bar_bounds_by_symbol(conn).values()), default=None)


def insert_alert_rule(conn: sqlite3.Connection, rule: Mapping[str, object]) -> int:
    """Store a new rule row (checked by the caller); returns the new rule_id.

    The rule is evaluated from the store's newest bar on (``data_ms``): never on history.
    """
    now = now_ms()
    return conn.execute(
        f"INSERT INTO alert_rules ({', '.join(ALERT_RULE_FIELDS)}, created_ms, updated_ms, data_ms) "
        f"VALUES ({', '.join('?' * len(ALERT_RULE_FIELDS))}, ?, ?, ?)",
        (*_alert_rule_values(rule), now, now, _data_clock_ms(conn)),
    ).lastrowid


def update_alert_rule(conn: sqlite3.Connection, rule_id: int, rule: Mapping[str, object]) -> bool:
    """Replace rule ``rule_id``'s definition (its evaluation restarts at the newest bar); False if no such rule."""
    assignments = ", ".join(f"{name} = ?" for name in ALERT_RULE_FIELDS)
    return conn.execute(
        f"UPDATE alert_rules SET {assignments}, updated_ms = max(?, updated_ms + 1), data_ms = ?, state = '{{}}' "
        "WHERE rule_id = ?",
        (*_alert_rule_values(rule), now_ms(), _data_clock_ms(conn), int(rule_id)),
    ).rowcount == 1


def set_alert_rule_enabled(conn: sqlite3.Connection, rule_id: int, enabled: bool) -> bool:
    """Switch a rule on or off (switched on, it restarts at the newest bar); False if no such rule."""
    exists = conn.execute("SELECT enabled FROM alert_rules WHERE rule_id = ?", (int(rule_id),)).fetchone()
    if exists is None:
        return False
    if bool(exists[0]) != bool(enabled):
        conn.execute("UPDATE alert_rules SET enabled = ?, updated_ms = max(?, updated_ms + 1), data_ms = ?, "
                     "state = '{}' WHERE rule_id = ?", (int(bool(enabled)), now_ms(), _data_clock_ms(conn), int(rule_id)))
    return True


def delete_alert_rule(conn: sqlite3.Connection, rule_id: int) -> bool:
    """Delete a rule (its past events stay); False if no such rule."""
    return conn.execute("DELETE FROM alert_rules WHERE rule_id = ?", (int(rule_id),)).rowcount == 1


def read_alert_rule_rows(conn: sqlite3.Connection) -> list[dict]:
    """Every stored rule as a row, by rule_id: rule_id, the ALERT_RULE_FIELDS ("params" a dict,
    "enabled" a bool), updated_ms, data_ms and state (a dict).

    ``updated_ms`` changes whenever the definition or the enabled flag does; ``data_ms`` is the
    store's newest bar when that happened (None: the store was empty); ``state`` is what the
    monitor saved ({} until it evaluates the current definition).
    """
    columns = ("rule_id", *ALERT_RULE_FIELDS, "updated_ms", "data_ms", "state")
    rows = conn.execute(f"SELECT {', '.join(columns)} FROM alert_rules ORDER BY rule_id").fetchall()
    out = []
    for values in rows:
        row = dict(zip(columns, values))
        row["params"] = json.loads(row["params"])
        row["enabled"] = bool(row["enabled"])
        row["state"] = json.loads(row["state"] or "{}")
        out.append(row)
    return out


def seed_alert_rules(conn: sqlite3.Connection, rules: Sequence[Mapping[str, object]]) -> list[int]:
    """Insert rule rows unless default rules were seeded before (meta key); returns the new rule_ids."""
    with _savepoint(conn):
        if conn.execute("SELECT 1 FROM meta WHERE key = ?", (ALERT_RULES_SEEDED_KEY,)).fetchone():
            return []
        ids = [insert_alert_rule(conn, rule) for rule in rules]
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (ALERT_RULES_SEEDED_KEY, str(now_ms())))
        return ids


def save_alert_progress(conn: sqlite3.Connection, events: Sequence[dict], states: dict[int, tuple[int, str]]
                        ) -> list[int | None]:
    """Store fired events and the rules' evaluation state together; returns the events' ids.

    ``events``: dicts with the keys of ``alerts.AlertEvent`` (plus ``delivery``); ``states``:
    {rule_id: (updated_ms the state belongs to, state JSON)}. Both are written only where the
    rule still has that ``updated_ms``: a definition changed or deleted meanwhile restarts from
    scratch and its stale events are dropped (their id is None). Events of a rule without an
    entry in ``states`` are always stored.
    """
    with _savepoint(conn):
        detected = now_ms()
        current = dict(conn.execute("SELECT rule_id, updated_ms FROM alert_rules").fetchall())
        ids = []
        for event in events:
            expected = states.get(event["rule_id"])
            if expected is not None and current.get(event["rule_id"]) != expected[0]:
                ids.append(None)
                continue
            ids.append(conn.execute(
                f"INSERT INTO alert_events ({', '.join(_ALERT_EVENT_FIELDS)}, detected_ms) "
                f"VALUES ({', '.join('?' * len(_ALERT_EVENT_FIELDS))}, ?)",
                (*(event.get(name, "") if name == "delivery" else event[name] for name in _ALERT_EVENT_FIELDS),
                 detected),
            ).lastrowid)
        conn.executemany("UPDATE alert_rules SET state = ? WHERE rule_id = ? AND updated_ms = ?",
                         [(state, rule_id, updated_ms) for rule_id, (updated_ms, state) in states.items()])
        return ids


def set_alert_delivery(conn: sqlite3.Connection, event_id: int, delivery: str) -> None:
    """Record how an event's webhook went ("sent", "failed: ...", "dropped: ...")."""
    with _savepoint(conn):
        conn.execute("UPDATE alert_events SET delivery = ? WHERE event_id = ?", (delivery, int(event_id)))


def read_alert_events(conn: sqlite3.Connection, since_ms: int | None = None, rule_id: int | None = None,
                      kind: str | None = None, limit: int | None = None, *, until_ms: int | None = None,
                      direction: str | None = None, unacknowledged: bool = False,
                      after_event_id: int | None = None) -> pd.DataFrame:
    """Alert events, newest first (by bar time): optionally with since_ms <= ts_ms < until_ms, of one
    rule, of one kind, of one direction (UP / DOWN), only those not acknowledged yet, only those
    stored after event ``after_event_id`` (event ids grow as events are stored).

    Columns: event_id, ts_ms (start of the bar that crossed, UTC ms, data time), rule_id,
    rule_name, kind, symbols ("A/B"), timeframe, value, threshold, direction (UP / DOWN),
    message, detected_ms (wall clock when stored), acknowledged_ms (NaN until acknowledged),
    delivery (webhook: "", "pending", "sent", "failed: ...", "dropped: ...").
    """
    clauses, params = [], []
    for column, value in (("ts_ms >=", since_ms), ("ts_ms <", until_ms), ("rule_id =", rule_id), ("kind =", kind),
                          ("direction =", direction), ("event_id >", after_event_id)):
        if value is not None:
            clauses.append(f"{column} ?")
            params.append(value)
    if unacknowledged:
        clauses.append("acknowledged_ms IS NULL")
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = ("SELECT event_id, ts_ms, rule_id, rule_name, kind, symbols, timeframe, value, threshold, direction, "
           f"message, detected_ms, acknowledged_ms, delivery FROM alert_events{where} ORDER BY ts_ms DESC, event_id DESC")
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return _query_frame(conn, sql, params)


def last_alert_event_id(conn: sqlite3.Connection) -> int | None:
    """The id of the most recently stored alert event, None when there is none."""
    return conn.execute("SELECT max(event_id) FROM alert_events").fetchone()[0]


def acknowledge_alert_events(conn: sqlite3.Connection, event_ids: Iterable[int]) -> int:
    """Mark events acknowledged (now); returns how many were not acknowledged before."""
    return conn.executemany("UPDATE alert_events SET acknowledged_ms = ? WHERE event_id = ? AND acknowledged_ms IS NULL",
                            [(now_ms(), int(event_id)) for event_id in event_ids]).rowcount


# --------------------------------------------------------------------------- reading


def read_metadata(conn: sqlite3.Connection) -> dict[str, str]:
    """The database's metadata record: market, stream, source, created_ms, and schema_version."""
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    meta["schema_version"] = str(conn.execute("PRAGMA user_version").fetchone()[0])
    return meta


def list_symbols(conn: sqlite3.Connection) -> list[str]:
    """Symbols that have at least one stored bar, upper case, sorted."""
    return [row[0] for row in conn.execute(
        "SELECT symbol FROM symbols s WHERE EXISTS (SELECT 1 FROM bar_rows b WHERE b.sym_id = s.sym_id) "
        "ORDER BY symbol"
    )]


def last_trade_id(conn: sqlite3.Connection, symbol: str) -> int | None:
    """The largest stored trade id of ``symbol``, or None when it has none."""
    row = conn.execute(
        "SELECT max(trade_id) FROM trade_rows WHERE sym_id = (SELECT sym_id FROM symbols WHERE symbol = ?)",
        (symbol,),
    ).fetchone()
    return row[0]


BAR_COLUMNS = ["ts_ms", "open", "high", "low", "close", "volume", "quote_volume", "trades"]
TRADE_COLUMNS = ["trade_id", "ts_ms", "price", "qty", "is_buyer_maker"]


def _frame(rows: list, columns: list[str], ints: Sequence[str], bools: Sequence[str] = ()) -> pd.DataFrame:
    import pandas as pd  # imported here: the ingestor never builds DataFrames and pandas costs ~50 MB

    frame = pd.DataFrame.from_records(rows, columns=columns)
    for column in columns:
        if column in bools:
            frame[column] = frame[column].astype(bool)
        elif column in ints:
            frame[column] = frame[column].astype("int64")
        else:
            frame[column] = frame[column].astype("float64")
    return frame


def _time_filter(start_ms: int | None, end_ms: int | None, column: str = "ts_ms") -> tuple[str, list]:
    clauses, params = [], []
    if start_ms is not None:
        clauses.append(f"{column} >= ?")
        params.append(int(start_ms))
    if end_ms is not None:
        clauses.append(f"{column} < ?")
        params.append(int(end_ms))
    return "".join(f" AND {c}" for c in clauses), params


def read_bars_1s(conn: sqlite3.Connection, symbol: str, start_ms: int | None = None,
                 end_ms: int | None = None) -> pd.DataFrame:
    """One-second bars of ``symbol`` with start_ms <= ts_ms < end_ms, sorted by time.

    Columns: ts_ms (bar start, UTC ms), open, high, low, close, volume, quote_volume (sum of
    price * qty), trades (count). Seconds without trades have no row.
    """
    where, params = _time_filter(start_ms, end_ms)
    rows = conn.execute(
        "SELECT ts_ms, open, high, low, close, volume, quote_volume, trades FROM bar_rows "
        f"WHERE sym_id = (SELECT sym_id FROM symbols WHERE symbol = ?){where} ORDER BY ts_ms",
        [symbol, *params],
    ).fetchall()
    return _frame(rows, BAR_COLUMNS, ints=("ts_ms", "trades"))


def read_bars_since(conn: sqlite3.Connection, symbol: str, after_rev: int) -> tuple[pd.DataFrame, int]:
    """Bars of ``symbol`` written or corrected by batches after ``after_rev``, and the newest rev seen.

    A reader keeps the returned rev and passes it back next time to read only what changed.
    """
    rows = conn.execute(
        "SELECT ts_ms, open, high, low, close, volume, quote_volume, trades, rev FROM bar_rows "
        "WHERE rev > ? AND sym_id = (SELECT sym_id FROM symbols WHERE symbol = ?) ORDER BY ts_ms",
        (after_rev, symbol),
    ).fetchall()
    newest = max((row[-1] for row in rows), default=after_rev)
    return _frame([row[:-1] for row in rows], BAR_COLUMNS, ints=("ts_ms", "trades")), newest


def read_trades(conn: sqlite3.Connection, symbol: str, start_ms: int | None = None, end_ms: int | None = None,
                limit: int | None = None) -> pd.DataFrame:
    """Trades of ``symbol`` with start_ms <= ts_ms < end_ms, sorted by trade id.

    Columns: trade_id, ts_ms, price, qty, is_buyer_maker. With ``limit``, the most recent
    ``limit`` trades of the range. Time ranges are found through the bars' id ranges.
    """
    id_range = trade_id_bounds(conn, symbol, start_ms, end_ms)
    if id_range is None:
        return _frame([], TRADE_COLUMNS, ints=("trade_id", "ts_ms"), bools=("is_buyer_maker",))
    where, params = _time_filter(start_ms, end_ms)
    sql = ("SELECT trade_id, ts_ms, price, qty, is_buyer_maker FROM trade_rows "
           f"WHERE sym_id = (SELECT sym_id FROM symbols WHERE symbol = ?) AND trade_id BETWEEN ? AND ?{where}")
    args = [symbol, *id_range, *params]
    if limit is not None:
        sql = f"SELECT * FROM ({sql} ORDER BY trade_id DESC LIMIT ?) ORDER BY trade_id"
        args.append(int(limit))
    else:
        sql += " ORDER BY trade_id"
    rows = conn.execute(sql, args).fetchall()
    return _frame(rows, TRADE_COLUMNS, ints=("trade_id", "ts_ms"), bools=("is_buyer_maker",))


def _query_frame(conn: sqlite3.Connection, sql: str, params: Sequence = ()) -> pd.DataFrame:
    import pandas as pd

    return pd.read_sql_query(sql, conn, params=list(params))


def read_feed_status(conn: sqlite3.Connection) -> pd.DataFrame:
    """The feed status rows, one per symbol (see the feed_status table for columns)."""
    return _query_frame(conn, "SELECT * FROM feed_status ORDER BY symbol")


def read_gaps(conn: sqlite3.Connection, symbol: str | None = None, open_only: bool = False) -> pd.DataFrame:
    """The gaps log, oldest first; optionally one symbol's, optionally only the open ones."""
    clauses, params = [], []
    if symbol is not None:
        clauses.append("symbol = ?")
        params.append(symbol)
    if open_only:
        clauses.append("status = 'open'")
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return _query_frame(conn, f"SELECT * FROM gaps{where} ORDER BY gap_id", params)


# --- readers for the dashboard ---


def read_recent_bars(conn: sqlite3.Connection, symbol: str, span_ms: int) -> tuple[pd.DataFrame, int]:
    """The last ``span_ms`` of ``symbol``'s one-second bars (up to its newest bar), and the newest rev among them.

    One statement, so one snapshot: pass the rev to ``read_bars_since`` afterwards to follow the
    bars incrementally (bars outside the span that were corrected later come back through it too).
    Returns an empty frame and rev 0 when the symbol has no bars.
    """
    sym = "(SELECT sym_id FROM symbols WHERE symbol = ?)"
    rows = conn.execute(
        "SELECT ts_ms, open, high, low, close, volume, quote_volume, trades, rev FROM bar_rows "
        f"WHERE sym_id = {sym} AND ts_ms >= (SELECT max(ts_ms) FROM bar_rows WHERE sym_id = {sym}) - ? "
        "ORDER BY ts_ms",
        (symbol, symbol, int(span_ms)),
    ).fetchall()
    newest = max((row[-1] for row in rows), default=0)
    return _frame([row[:-1] for row in rows], BAR_COLUMNS, ints=("ts_ms", "trades")), newest


def read_gap_spans(conn: sqlite3.Connection, symbols: Sequence[str], start_ms: int | None = None,
                   end_ms: int | None = None) -> pd.DataFrame:
    """Each recorded gap of ``symbols`` as a time span, for shading charts; oldest first.

    A gap is a range of missing trade ids; its span runs from the time of the last stored trade
    before ``from_id`` (start_ms) to the time of the first stored trade after ``to_id`` (end_ms).
    start_ms is NULL (NaN) when no earlier trade is stored, end_ms when no later one is. With
    start_ms / end_ms, only spans that overlap [start_ms, end_ms) are returned.
    Columns: gap_id, symbol, from_id, to_id, status (open / filled / unfillable), reason,
    found_ms, filled_ms, start_ms, end_ms.
    """
    placeholders = ", ".join("?" * len(symbols)) or "NULL"
    overlap, params = [], [*symbols]
    if end_ms is not None:
        overlap.append("(start_ms IS NULL OR start_ms < ?)")
        params.append(int(end_ms))
    if start_ms is not None:
        overlap.append("(end_ms IS NULL OR end_ms >= ?)")
        params.append(int(start_ms))
    where = f" WHERE {' AND '.join(overlap)}" if overlap else ""
    sql = (
        "SELECT * FROM ("
        " SELECT g.gap_id, g.symbol, g.from_id, g.to_id, g.status, g.reason, g.found_ms, g.filled_ms,"
        "  (SELECT t.ts_ms FROM trade_rows t WHERE t.sym_id = s.sym_id AND t.trade_id < g.from_id"
        "   ORDER BY t.trade_id DESC LIMIT 1) AS start_ms,"
        "  (SELECT t.ts_ms FROM trade_rows t WHERE t.sym_id = s.sym_id AND t.trade_id > g.to_id"
        "   ORDER BY t.trade_id LIMIT 1) AS end_ms"
        f" FROM gaps g JOIN symbols s ON s.symbol = g.symbol WHERE g.symbol IN ({placeholders})"
        f"){where} ORDER BY gap_id"
    )
    return _query_frame(conn, sql, params)
