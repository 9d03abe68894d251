"""A PostgreSQL connection (psycopg 3) that the store's SQL runs on unchanged.

``PgConnection`` answers the few calls the store makes of a ``sqlite3.Connection``: ``execute``,
``executemany`` (cursors with ``fetchone`` / ``fetchall`` / iteration / ``rowcount``),
``in_transaction`` and ``close``. It is in autocommit mode, as the store's SQLite connections
are: transactions are the store's explicit ``BEGIN`` ... ``COMMIT`` (``atomic``). Placeholders
are written ``?`` in the store; they become psycopg's ``%s`` here (a literal ``%``, the modulo,
is doubled). psycopg is imported only when a PostgreSQL database is opened.
"""
from __future__ import annotations

import os
import socket
from functools import cached_property, lru_cache

from pairdesk.store.dialect import POSTGRESQL, display_name
from pairdesk.store.errors import StoreError

CONNECT_TIMEOUT_S = 10


@lru_cache(maxsize=4096)
def _placeholders(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class _NothingDone:
    """What ``executemany`` with no rows returns: nothing changed."""

    rowcount = 0

    def fetchall(self) -> list:
        return []


_NOTHING_DONE = _NothingDone()


class PgConnection:
    """One psycopg connection in autocommit mode, spoken to like the store's sqlite3 connections."""

    dialect = POSTGRESQL

    def __init__(self, raw, url: str) -> None:
        self.raw = raw
        self.url = url

    def execute(self, sql: str, params=None):
        if params is None or len(params) == 0:
            return self.raw.execute(sql)
        return self.raw.execute(_placeholders(sql), params)

    def executemany(self, sql: str, rows):
        rows = list(rows)
        if not rows:
            return _NOTHING_DONE
        cursor = self.raw.cursor()
        cursor.executemany(_placeholders(sql), rows)
        return cursor

    def side_connection(self, role: str) -> PgConnection:
        """Another connection to the same database (for work committed apart from this one's transaction)."""
        return connect(self.url, role=role)

    @cached_property
    def partitions(self):
        """The day partitions of ``trade_rows`` this connection knows exist (``partitions.Partitions``)."""
        from pairdesk.store.partitions import Partitions

        return Partitions(self)

    @property
    def in_transaction(self) -> bool:
        import psycopg

        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    @property
    def closed(self) -> bool:
        return self.raw.closed

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> PgConnection:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def connect(url: str, read_only: bool = False, role: str = "reader") -> PgConnection:
    """Connect to the PostgreSQL database at ``url``; StoreError (one line, password masked) when it cannot.

    The session is named ``pairdesk <role> pid <pid> on <host>`` (``application_name``): that is how
    a refused ingestor names the one that owns its symbols. ``read_only`` sessions cannot write.
    """
    try:
        import psycopg
    except ImportError:
        raise StoreError(f"{display_name(url)}: PostgreSQL needs the psycopg package (pip install -r requirements.txt)"
                         ) from None
    options = "-c default_transaction_read_only=on" if read_only else None
    name = f"pairdesk {role} pid {os.getpid()} on {socket.gethostname()}"[:63]
    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, application_name=name,
                              options=options)
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise StoreError(f"{display_name(url)}: cannot connect to PostgreSQL ({reason})") from None
    return PgConnection(raw, url)

