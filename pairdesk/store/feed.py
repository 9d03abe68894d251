"""Feed status (one row per symbol, the ingestor's heartbeat) and the gaps log."""
from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pairdesk.store.database import now_ms
from pairdesk.store.dialect import greatest
from pairdesk.store.readers import _query_frame

if TYPE_CHECKING:
    import pandas as pd

STATUS_COLUMNS = ("state", "transport", "last_trade_ms", "last_trade_id", "last_message_ms", "messages", "trades",
                  "bad_frames", "reconnects", "open_gaps", "message_rate", "detail", "last_error", "duplicates",
                  "duplicate_rate")


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
        f"ON CONFLICT (symbol, from_id) DO UPDATE SET to_id = {greatest(conn)}(gaps.to_id, excluded.to_id), status = 'open'",
        (symbol, from_id, to_id, now_ms(), reason),
    )


def record_paused_gap(conn: sqlite3.Connection, symbol: str, from_id: int, to_id: int, reason: str) -> None:
    """Record ids from_id..to_id as missed while collection was paused (status 'paused': never back-filled)."""
    conn.execute(
        "INSERT INTO gaps (symbol, from_id, to_id, found_ms, reason, status) VALUES (?, ?, ?, ?, ?, 'paused') "
        f"ON CONFLICT (symbol, from_id) DO UPDATE SET to_id = {greatest(conn)}(gaps.to_id, excluded.to_id), "
        "status = 'paused'",
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


def set_gap_detail(conn: sqlite3.Connection, symbol: str, from_id: int, detail: str) -> None:
    """Say what is still missing of an open gap (e.g. "12 ids still missing")."""
    conn.execute("UPDATE gaps SET detail = ? WHERE symbol = ? AND from_id = ?", (detail, symbol, from_id))


def list_open_gaps(conn: sqlite3.Connection) -> list[tuple[str, int, int, str]]:
    """(symbol, from_id, to_id, reason) of every open gap, oldest first (no pandas: the ingestor uses it)."""
    return conn.execute("SELECT symbol, from_id, to_id, reason FROM gaps WHERE status = 'open' ORDER BY gap_id"
                        ).fetchall()


def count_missing(conn: sqlite3.Connection, symbol: str, from_id: int, to_id: int) -> int:
    """How many ids in from_id..to_id (inclusive) are not stored for ``symbol``."""
    row = conn.execute(
        "SELECT count(*) FROM trade_rows t JOIN symbols s USING (sym_id) "
        "WHERE s.symbol = ? AND t.trade_id BETWEEN ? AND ?",
        (symbol, from_id, to_id),
    ).fetchone()
    return (to_id - from_id + 1) - row[0]


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
        f") AS spans{where} ORDER BY gap_id"
    )
    return _query_frame(conn, sql, params)

