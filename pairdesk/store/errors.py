"""The store's errors: each message is one line a user can act on."""
from __future__ import annotations

import sqlite3
import sys


class StoreError(Exception):
    """A problem with the database file a user can fix; the message is one line."""


class StoreMismatch(StoreError):
    """The database holds another market or stream kind than the one asked for."""


class WriterBusy(StoreError):
    """Another live process owns the database for writing (a second ingestor); the message names it."""


def database_errors() -> tuple[type[BaseException], ...]:
    """What a database driver raises: SQLite's errors, and psycopg's once it is loaded (only a
    PostgreSQL database loads it: 23 MB and 0.1 s a SQLite process never pays). An ``except`` clause
    evaluates this when an exception is matched: ``except store.database_errors() as exc:``."""
    psycopg = sys.modules.get("psycopg")
    return (sqlite3.Error,) if psycopg is None else (sqlite3.Error, psycopg.Error)
