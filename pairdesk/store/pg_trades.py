"""Trades into PostgreSQL: a batch is COPYed into a staging table and merged exactly once.

``INSERT INTO trade_rows SELECT ... FROM trade_rows_stage ON CONFLICT DO NOTHING RETURNING ...``
stores each trade not stored yet (a batch may repeat a trade, or repeat what another writer stored
a moment ago) and returns exactly those, which are folded into their bars in the same transaction
by the same rule as on SQLite (``trades._bars_of``). Each symbol's bars take their revision from
the ``bar_rev`` sequence under that symbol's transaction lock, held to commit: per symbol, revs
are handed out in commit order, so a reader following ``rev > last seen`` never skips a batch.
``insert_staged`` is the same COPY-and-merge for any table (the copy between databases uses it).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

STAGE_COLUMNS = "trade_id, ts_ms, price, qty, sym_id, is_buyer_maker"
STAGE_TYPES = ("int8", "int8", "float8", "float8", "int4", "int2")
BAR_LOCK_NS = 7_140_100  # advisory lock namespace (first key) of the per-symbol bar locks


def bar_rev(conn, sym_id: int) -> int:
    """A revision for ``sym_id``'s bars written in this transaction (its bar lock is held to commit)."""
    conn.execute("SELECT pg_advisory_xact_lock(?::int4, ?::int4)", (BAR_LOCK_NS, sym_id))
    return conn.execute("SELECT nextval('bar_rev')").fetchone()[0]


def insert_staged(conn, table: str, columns: str, rows: Iterable[Sequence], returning: str = "",
                  types: Sequence[str] | None = None) -> list[tuple]:
    """Insert ``rows`` (values in ``columns`` order) into ``table`` where their key is not stored yet, in
    the caller's transaction: COPY into this session's staging table shaped like ``table`` (temporary,
    emptied at commit), then one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``. Floats travel as
    Python writes them (``repr``: every digit), so they arrive exactly; with ``types`` (the columns'
    PostgreSQL types) the COPY is binary, 8-byte floats as they are, and a fifth cheaper for the hot
    path. Returns the ``returning`` columns of the rows inserted (empty tuples, one per row inserted,
    when ``returning`` is empty)."""
    stage = f"{table}_stage"
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table}) ON COMMIT DELETE ROWS")
    with conn.raw.cursor(binary=types is not None) as cursor:
        with cursor.copy(f"COPY {stage} ({columns}) FROM STDIN" + (" (FORMAT BINARY)" if types else "")) as copy:
            if types:
                copy.set_types(list(types))
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage} ON CONFLICT DO NOTHING"
                       + (f" RETURNING {returning}" if returning else ""))
        inserted = cursor.fetchall() if returning else [()] * max(cursor.rowcount, 0)
        cursor.execute(f"TRUNCATE {stage}")
    return inserted


def merge_trades(conn, rows: Sequence[tuple]) -> list[tuple]:
    """Store ``rows`` (trade_id, ts_ms, price, qty, sym_id, is_buyer_maker) not stored yet, in the
    caller's transaction; returns the new ones as (sym_id, trade_id, ts_ms, price, qty)."""
    return insert_staged(conn, "trade_rows", STAGE_COLUMNS, rows, returning="sym_id, trade_id, ts_ms, price, qty",
                         types=STAGE_TYPES)
