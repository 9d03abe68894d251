"""Rows whose key is not stored yet, inserted fast on either backend (bars, quotes, marks, copies).

On PostgreSQL through COPY into a staging table and one merge (``pg_trades.insert_staged``); on
SQLite one ``executemany`` of ``INSERT ... ON CONFLICT DO NOTHING``. The caller holds the transaction.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from pairdesk.store import pg_trades
from pairdesk.store.dialect import is_postgres


def insert_new_rows(conn, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Insert ``rows`` (values in ``columns`` order) into ``table`` where their key is not stored; returns
    how many were new."""
    rows = list(rows)
    if not rows:
        return 0
    names = ", ".join(f'"{name}"' for name in columns)
    if is_postgres(conn):
        return len(pg_trades.insert_staged(conn, table, names, rows))
    marks = ", ".join("?" for _ in columns)
    return conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING", rows).rowcount
