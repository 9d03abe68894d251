"""Which database a name means, and the little SQL that differs between the two.

A database is named by a path (a SQLite file, the embedded default) or by a URL
(``postgresql://user@host:port/dbname``: a PostgreSQL server). Everything else in the store is
written once, in SQL both understand; the few spellings that differ are chosen here.
"""
from __future__ import annotations

import re
from pathlib import Path

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
URL_PREFIXES = ("postgresql://", "postgres://")


def is_url(db: str | Path) -> bool:
    """True when ``db`` names a PostgreSQL database (a URL), False for a SQLite file path."""
    return isinstance(db, str) and db.startswith(URL_PREFIXES)


def display_name(db: str | Path) -> str:
    """``db`` as it may be shown or logged: a URL's password is masked."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", str(db)) if is_url(db) else str(db)


def dialect_of(conn) -> str:
    """The dialect of an open connection (the PostgreSQL wrapper says so; a sqlite3 one does not)."""
    return getattr(conn, "dialect", SQLITE)


def is_postgres(conn) -> bool:
    return dialect_of(conn) == POSTGRESQL


def greatest(conn) -> str:
    """The two-argument maximum: SQLite's scalar ``max(a, b)``, PostgreSQL's ``greatest(a, b)``."""
    return "greatest" if is_postgres(conn) else "max"


def least(conn) -> str:
    """The two-argument minimum: SQLite's scalar ``min(a, b)``, PostgreSQL's ``least(a, b)``."""
    return "least" if is_postgres(conn) else "min"
