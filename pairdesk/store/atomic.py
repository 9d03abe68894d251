"""``atomic(conn)``: one transaction that nests.

The outermost block is ``BEGIN IMMEDIATE`` (on PostgreSQL ``BEGIN``) ... ``COMMIT`` (the write lock is taken at once, so
what the block reads is what it writes over); a block inside an open transaction is a
``SAVEPOINT`` ... ``RELEASE``. Any exception rolls back exactly the block it left, and propagates.
Connections are in autocommit mode (``isolation_level=None``), as the store opens them.
"""
from __future__ import annotations

import itertools
import sqlite3

from pairdesk.store.dialect import is_postgres

_names = itertools.count(1)


class atomic:
    """``with atomic(conn):`` a transaction, or a savepoint inside one."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._savepoint: str | None = None

    def __enter__(self) -> sqlite3.Connection:
        if self.conn.in_transaction:
            self._savepoint = f"atomic_{next(_names)}"
            self.conn.execute(f"SAVEPOINT {self._savepoint}")
        else:
            self.conn.execute("BEGIN" if is_postgres(self.conn) else "BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._savepoint is None:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
            return
        if exc_type:
            self.conn.execute(f"ROLLBACK TO {self._savepoint}")
        self.conn.execute(f"RELEASE {self._savepoint}")


# The name the rest of the product has always used for a top-level write transaction.
transaction = atomic


class snapshot:
    """``with snapshot(conn):`` one consistent read (a deferred transaction, ended by COMMIT) on a
    reader: every statement inside sees the database as of the first one."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ" if is_postgres(self.conn) else "BEGIN")
        return self.conn

    def __exit__(self, *exc_info) -> None:
        self.conn.execute("COMMIT")


def data_version(conn: sqlite3.Connection) -> int:
    """A number that changes whenever another connection commits to the database (cheap to poll).

    On PostgreSQL: the next transaction id to be assigned, which grows with every writing
    transaction on the server (a superset of this database's commits, which is all a poller needs)."""
    if is_postgres(conn):
        return int(conn.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint").fetchone()[0])
    return conn.execute("PRAGMA data_version").fetchone()[0]
