"""Day partitions of ``trade_rows`` on PostgreSQL, created ahead of need (a TimescaleDB hypertable
makes its own day chunks: nothing to do here then).

Each day's partition carries its own unique key (sym_id, trade_id), created with it in the same
transaction: ``INSERT ... ON CONFLICT DO NOTHING`` (no conflict target) takes it as the arbiter, and
a resent trade, whose time never changes, always lands in the day that holds it. A key on the
parent would have to include ts_ms (PostgreSQL wants the partition column in it): 32 bytes an index
entry instead of 24. Trade ids grow, so the key's pages are filled to 100 % (``fillfactor``); with
the 64-byte row that is about 97 bytes a trade, indexes included (``bench/bench_postgres.py``).

One partition per UTC day, ``trade_rows_dYYYYMMDD`` for ts_ms in [day start, next day start). A
writer creates the days around now when it starts (``AHEAD_DAYS`` ahead) and any other day the
moment a batch needs it (an import of last year's dump). Each is created on its own short
connection in its own transaction, under an advisory lock, so creating one never holds a lock on
``trade_rows`` for the length of a batch and two shards creating the same day cannot collide.
"""
from __future__ import annotations

import calendar
import time
from collections.abc import Iterable

DAY_MS = 86_400_000
AHEAD_DAYS = 2
PARTITION_LOCK = 7_140_002  # advisory lock key: one partition creator at a time


def partition_name(day: int) -> str:
    """``trade_rows_dYYYYMMDD`` for the day starting at ``day * DAY_MS``."""
    return "trade_rows_d" + time.strftime("%Y%m%d", time.gmtime(day * DAY_MS / 1000))


def days_of(ts_values: Iterable[int]) -> set[int]:
    return {int(ts) // DAY_MS for ts in ts_values}


def uses_native_partitions(conn) -> bool:
    """Whether ``trade_rows`` is natively partitioned (days created here) rather than a TimescaleDB hypertable."""
    return bool(conn.execute("SELECT count(*) FROM pg_catalog.pg_partitioned_table p JOIN pg_catalog.pg_class c "
                             "ON c.oid = p.partrelid WHERE c.relname = 'trade_rows'").fetchone()[0])


class Partitions:
    """The days known to have a partition, for one writer connection (``ensure`` creates the others)."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.known: set[int] = set()
        self._load()

    def _load(self) -> None:
        self.native = uses_native_partitions(self.conn)
        rows = self.conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'trade_rows'::regclass").fetchall()
        for (name,) in rows:
            if name.startswith("trade_rows_d"):
                self.known.add(calendar.timegm(time.strptime(name[len("trade_rows_d"):], "%Y%m%d")) * 1000 // DAY_MS)

    def ensure_around_now(self) -> None:
        today = int(time.time() * 1000) // DAY_MS
        self.ensure(range(today - 1, today + AHEAD_DAYS + 1))

    def ensure(self, days: Iterable[int]) -> None:
        """Make sure every day in ``days`` has its partition (created on a side connection, committed at once)."""
        missing = sorted(set(days) - self.known)
        if not missing or not self.native:  # a hypertable makes its chunks itself
            return
        side = self.conn.side_connection("partitions")  # the caller may be inside a transaction
        try:
            side.execute("BEGIN")
            side.execute("SELECT pg_advisory_xact_lock(?)", (PARTITION_LOCK,))
            for day in missing:
                name = partition_name(day)
                side.execute(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF trade_rows "
                             f"FOR VALUES FROM ({day * DAY_MS}) TO ({(day + 1) * DAY_MS})")
                side.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {name}_key ON {name} (sym_id, trade_id) "
                             "WITH (fillfactor = 100)")
            side.execute("COMMIT")
        finally:
            side.close()
        self.known.update(missing)
