"""The store's errors: each message is one line a user can act on."""
from __future__ import annotations

import sqlite3


class StoreError(Exception):
    """A problem with the database file a user can fix; the message is one line."""


class StoreMismatch(StoreError):
    """The database holds another market or stream kind than the one asked for."""


class WriterBusy(StoreError):
    """Another live process owns the database for writing (a second ingestor); the message names it."""


def _database_errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:
        return (sqlite3.Error,)
    return (sqlite3.Error, psycopg.Error)


# What a database driver raises (SQLite's, and psycopg's when installed): ``except store.DATABASE_ERRORS``.
DATABASE_ERRORS = _database_errors()
