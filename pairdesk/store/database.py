"""Connections: ``open_writer`` (creating and migrating the file), ``open_reader`` (read-only),
and the database's metadata record (market, stream kind, source), which a writer must match.

One SQLite file in WAL mode, or one PostgreSQL database named by a URL (``dialect.is_url``),
holds one market's trades (spot or USD-M futures, trade ids or aggregate ids: never a mix). Writers are the ingestor's writer thread and brief write sessions
(uploads, rules, watchlist edits); every other connection is read-only.
"""
from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from pairdesk.markets import check_market, check_stream_kind
from pairdesk.store import pg_schema, postgres
from pairdesk.store.atomic import atomic
from pairdesk.store.dialect import display_name, is_postgres, is_url
from pairdesk.store.errors import StoreError, StoreMismatch
from pairdesk.store.schema import SCHEMA_VERSION, migrate

BUSY_TIMEOUT_MS = 5_000
LOCKED_RETRY_S = 0.02
T = TypeVar("T")
DEFAULT_SOURCE = "binance"


def open_writer(path: str | Path, market: str, stream: str, source: str | None = None) -> sqlite3.Connection:
    """Open (creating and migrating) the database for writing ``market`` / ``stream`` trades.

    Raises StoreMismatch when the file already holds another market or stream kind, and
    StoreError when the file is not a tick database. ``source`` ("binance" or "local") is
    recorded so that the dashboard can label data from a local exchange as DEMO; None keeps what
    the database records ("binance" for a new one).
    """
    try:
        check_market(market)
        check_stream_kind(stream)
    except ValueError as exc:
        raise StoreError(str(exc)) from None
    if is_url(path):
        conn = postgres.connect(path, role="writer")
        try:
            pg_schema.migrate(conn, SCHEMA_VERSION)
            _claim_metadata(conn, display_name(path), market, stream, source)
        except BaseException:
            conn.close()
            raise
        return conn
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if _retry_while_locked(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower() != "wal":
            raise StoreError(f"{path}: could not switch the database to WAL mode")
        conn.execute("PRAGMA synchronous = NORMAL")
        _retry_while_locked(lambda: migrate(conn))
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a usable tick database ({exc})") from None
    _claim_metadata(conn, path, market, stream, source)
    return conn


def _retry_while_locked(step: Callable[[], T]) -> T:
    """Run ``step``, retrying for up to BUSY_TIMEOUT_MS while SQLite says "locked" at once: switching
    a brand-new file to WAL needs an exclusive lock, and SQLite refuses that without waiting when
    another writer opening the same file at the same moment would otherwise deadlock with it."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(LOCKED_RETRY_S)


def _claim_metadata(conn: sqlite3.Connection, path: str | Path, market: str, stream: str,
                    source: str | None) -> None:
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    if "market" not in meta:  # a new file: claim it inside the write lock (another writer may race us)
        with atomic(conn):
            meta = dict(conn.execute("SELECT key, value FROM meta"))
            if "market" not in meta:
                conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    [("market", market), ("stream", stream), ("source", source or DEFAULT_SOURCE),
                     ("created_ms", str(now_ms()))],
                )
                return
    if (meta.get("market"), meta.get("stream")) != (market, stream):
        raise StoreMismatch(
            f"{path} holds {meta.get('market')} {meta.get('stream')} data; refusing to store {market} {stream} "
            f"data in it (use another --db)"
        )
    if source is not None and meta.get("source") != source:
        with atomic(conn):
            conn.execute("UPDATE meta SET value = ? WHERE key = 'source'", (source,))


def open_reader(path: str | Path) -> sqlite3.Connection:
    """Open an existing tick database read-only; StoreError with a one-line message otherwise."""
    if is_url(path):
        return _open_pg_reader(path)
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


def database_exists(db: str | Path) -> bool:
    """Whether ``db`` names an existing tick database: a SQLite file that exists, or a PostgreSQL
    database that can be reached and holds the schema."""
    if not is_url(db):
        return Path(db).exists()
    try:
        open_reader(db).close()
    except StoreError:
        return False
    return True


def _open_pg_reader(url: str):
    conn = postgres.connect(url, read_only=True)
    version = pg_schema.schema_version(conn)
    if version == 0:
        conn.close()
        raise StoreError(f"{display_name(url)}: not a tick database (no schema; start the ingestor first)")
    if version > SCHEMA_VERSION:
        conn.close()
        raise StoreError(f"{display_name(url)}: schema version {version} is newer than this program's {SCHEMA_VERSION}")
    return conn


def schema_version(conn) -> int:
    """The schema version of an open database (0: no schema yet)."""
    if is_postgres(conn):
        return pg_schema.schema_version(conn)
    return conn.execute("PRAGMA user_version").fetchone()[0]


def now_ms() -> int:
    return time.time_ns() // 1_000_000



def set_meta(conn, key: str, value: str) -> None:
    """Write one ``meta`` key (caller holds the transaction)."""
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                 (key, value))


def read_metadata(conn: sqlite3.Connection) -> dict[str, str]:
    """The database's metadata record: market, stream, source, created_ms, and schema_version."""
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    meta["schema_version"] = str(schema_version(conn))
    return meta


def recorded_metadata(path: str | Path) -> dict[str, str]:
    """The metadata record of an existing database; StoreError while it records no market / stream."""
    conn = open_reader(path)
    try:
        meta = read_metadata(conn)
    finally:
        conn.close()
    if "market" not in meta or "stream" not in meta:
        raise StoreError(f"{display_name(path)}: the database records no market / stream yet")
    return meta


def open_writer_as_recorded(path: str | Path) -> sqlite3.Connection:
    """A writer connection for the market and stream kind the database's metadata records (uploads,
    rules, watchlist edits beside a live ingestor); StoreError when it records none yet."""
    meta = recorded_metadata(path)
    return open_writer(path, meta["market"], meta["stream"])


@contextmanager
def write_session(path: str | Path) -> Iterator[sqlite3.Connection]:
    """One brief write transaction on a writer opened as recorded (``open_writer_as_recorded``),
    closed right after; rolled back on any exception."""
    conn = open_writer_as_recorded(path)
    try:
        with atomic(conn):
            yield conn
    finally:
        conn.close()
