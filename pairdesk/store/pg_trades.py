"""Trades into PostgreSQL: a batch is COPYed into a staging table and merged exactly once.

``INSERT INTO trade_rows SELECT ... FROM trade_stage ON CONFLICT DO NOTHING RETURNING ...`` stores
each trade not stored yet (a batch may repeat a trade, or repeat what another writer stored a
moment ago) and returns exactly those, which are folded into their bars in the same transaction
by the same rule as on SQLite (``trades._bars_of``). Each symbol's bars take their revision from
the ``bar_rev`` sequence under that symbol's transaction lock, held to commit: per symbol, revs
are handed out in commit order, so a reader following ``rev > last seen`` never skips a batch.
"""
from __future__ import annotations

from collections.abc import Sequence

STAGE_COLUMNS = "trade_id, ts_ms, price, qty, sym_id, is_buyer_maker"
BAR_LOCK_NS = 7_140_100  # advisory lock namespace (first key) of the per-symbol bar locks


def bar_rev(conn, sym_id: int) -> int:
    """A revision for ``sym_id``'s bars written in this transaction (its bar lock is held to commit)."""
    conn.execute("SELECT pg_advisory_xact_lock(?::int4, ?::int4)", (BAR_LOCK_NS, sym_id))
    return conn.execute("SELECT nextval('bar_rev')").fetchone()[0]


def merge_trades(conn, rows: Sequence[tuple]) -> list[tuple]:
    """Store ``rows`` (trade_id, ts_ms, price, qty, sym_id, is_buyer_maker) not stored yet, in the
    caller's transaction; returns the new ones as (sym_id, trade_id, ts_ms, price, qty)."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS trade_stage (trade_id BIGINT, ts_ms BIGINT, price DOUBLE PRECISION, "
                 "qty DOUBLE PRECISION, sym_id INTEGER, is_buyer_maker SMALLINT) ON COMMIT DELETE ROWS")
    with conn.raw.cursor() as cursor:
        with cursor.copy(f"COPY trade_stage ({STAGE_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        fresh = cursor.execute(
            f"INSERT INTO trade_rows ({STAGE_COLUMNS}) SELECT {STAGE_COLUMNS} FROM trade_stage "
            "ON CONFLICT DO NOTHING RETURNING sym_id, trade_id, ts_ms, price, qty").fetchall()
        cursor.execute("TRUNCATE trade_stage")
    return fresh
