"""The watchlist (symbols the ingestor is asked to follow), what the ingestor made of it, and stored
hourly summaries. Plain tuples, no pandas: the API streams some of these straight into CSV.

What the ingestor made of the watchlist lives in ``meta`` (no migration): ``rest_url``, the REST base
of the exchange it follows (so the API and the dashboard can check a new list against the same
listing), and ``watchlist_refused``, the symbols it refused with the reason (JSON)."""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence

from pairdesk.store.database import now_ms, set_meta
from pairdesk.store.readers import _time_filter


def read_watchlist(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """(symbol, updated_ms) of every symbol the ingestor is asked to follow, by symbol."""
    return conn.execute("SELECT symbol, updated_ms FROM watchlist ORDER BY symbol").fetchall()


REST_URL_KEY = "rest_url"
REFUSED_KEY = "watchlist_refused"


def record_rest_url(conn: sqlite3.Connection, url: str) -> None:
    """Record the REST base URL of the exchange the ingestor follows."""
    set_meta(conn, REST_URL_KEY, url)


def read_rest_url(conn: sqlite3.Connection) -> str | None:
    """The REST base URL the ingestor recorded (None: no ingestor recorded one yet)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (REST_URL_KEY,)).fetchone()
    return row[0] if row else None


def record_refusals(conn: sqlite3.Connection, refused: Mapping[str, str], cleared: Iterable[str] = ()) -> None:
    """Add ``refused`` (symbol -> reason) to the recorded refusals and drop those of ``cleared`` symbols
    (accepted or followed since)."""
    kept = {**read_refusals(conn), **refused}
    for symbol in cleared:
        kept.pop(symbol, None)
    set_meta(conn, REFUSED_KEY, json.dumps(kept))


def read_refusals(conn: sqlite3.Connection) -> dict[str, str]:
    """Symbol -> why the ingestor refused to follow it (empty: none refused)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (REFUSED_KEY,)).fetchone()
    return json.loads(row[0]) if row else {}


def followed_symbols(conn: sqlite3.Connection) -> list[str]:
    """The symbols the ingestor follows: those it writes a feed status row for."""
    return [symbol for (symbol,) in conn.execute("SELECT symbol FROM feed_status ORDER BY symbol")]


def replace_watchlist(conn: sqlite3.Connection, symbols: Sequence[str]) -> None:
    """Make the watchlist exactly ``symbols`` (caller holds the transaction).

    Every row gets this replacement's time (later than any before, even within one millisecond),
    so max(updated_ms) grows whenever the list is written: a poller compares that one number to
    know it must re-read the list.
    """
    updated_ms = _next_watchlist_ms(conn)
    conn.execute("DELETE FROM watchlist")
    _insert_watchlist(conn, dict.fromkeys(symbols), updated_ms)


def _next_watchlist_ms(conn) -> int:
    """A time later than every stored row's (now, or one past the newest)."""
    previous = conn.execute("SELECT max(updated_ms) FROM watchlist").fetchone()[0]
    return now_ms() if previous is None else max(now_ms(), previous + 1)


def _insert_watchlist(conn, symbols, updated_ms: int) -> None:
    """Store ``symbols`` with ``updated_ms``; a row another writer stored meanwhile takes the new time
    (on PostgreSQL two writers of the list may overlap: neither fails)."""
    conn.executemany("INSERT INTO watchlist (symbol, updated_ms) VALUES (?, ?) "
                     "ON CONFLICT (symbol) DO UPDATE SET updated_ms = excluded.updated_ms",
                     [(symbol, updated_ms) for symbol in symbols])


def add_to_watchlist(conn: sqlite3.Connection, symbols: Sequence[str]) -> None:
    """Add ``symbols`` to the watchlist, keeping what it holds (a shard starting; caller holds the transaction)."""
    current = {symbol for symbol, _ in read_watchlist(conn)}
    new = [symbol for symbol in dict.fromkeys(symbols) if symbol not in current]
    if new:  # inserted, never replaced: shards starting together each add without removing the others'
        _insert_watchlist(conn, new, _next_watchlist_ms(conn))


def write_hourly_summaries(conn: sqlite3.Connection, symbols: str, timeframe: str,
                           rows: Iterable[tuple[int, str]]) -> int:
    """Store (hour_ms, stats JSON text) rows of one pair ("A,B") and timeframe, replacing rows of the
    same hours (caller holds the transaction); returns how many rows were written."""
    computed_ms = now_ms()
    return conn.executemany(
        "INSERT INTO hourly_summaries (symbols, timeframe, hour_ms, stats, computed_ms) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (symbols, timeframe, hour_ms) DO UPDATE SET stats = excluded.stats, "
        "computed_ms = excluded.computed_ms",
        [(symbols, timeframe, int(hour_ms), stats, computed_ms) for hour_ms, stats in rows],
    ).rowcount


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
        sql = f"SELECT * FROM ({sql} ORDER BY hour_ms DESC, symbols, timeframe LIMIT ?) AS recent"
        params.append(int(limit))
    return conn.execute(f"{sql} ORDER BY hour_ms, symbols, timeframe", params).fetchall()

