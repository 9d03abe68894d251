"""One writer per database: the live ingestor owns the file; a second one is refused.

Ownership is an exclusive ``flock`` on a small file beside the database (``<db>.owner``) that
also records who holds it (pid, role, since when, command line). The kernel drops the lock when
the owner exits, however it exits (``kill -9`` included), so a stale file never blocks a restart:
only a live owner does. Brief write sessions (imports, uploads, rule and watchlist edits) do not
take ownership; they share the file through SQLite's own write lock as before.

On PostgreSQL several ingestors share one database, each owning its own symbols
(``pg_ownership``); ``claim_ownership`` returns that kind of claim for a URL. Both answer
``claim_symbols`` / ``release_symbols`` / ``owns_rule`` / ``check``: the owner of a SQLite file owns
all of its symbols and rules.
"""
from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pairdesk.store.dialect import is_url
from pairdesk.store.errors import WriterBusy
from pairdesk.store.pg_ownership import PgOwnership


def owner_file(db_path: str | Path) -> Path:
    """Where the owner of ``db_path`` is recorded."""
    path = Path(db_path)
    return path.with_name(path.name + ".owner")


@dataclass(frozen=True)
class Owner:
    """Who owns a database for writing."""

    pid: int
    role: str
    since_ms: int
    command: str

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.since_ms / 1000))
        return f"{self.role} pid {self.pid} since {since}"


class Ownership:
    """The claim of one process on one database; ``release()`` (or process exit) ends it."""

    def __init__(self, db_path: str | Path, fd: int, owner: Owner) -> None:
        self.db_path = Path(db_path)
        self.owner = owner
        self._fd: int | None = fd

    def claim_symbols(self, symbols) -> dict[str, str]:
        """Symbols another process owns: none (the file's owner owns every symbol in it)."""
        return {}

    def release_symbols(self, symbols) -> None:
        """Nothing to release: the file is owned as a whole."""

    def owned_symbols(self) -> set[str]:
        return set()  # the file's owner owns them all: no symbol is ever another's

    def owns_rule(self, rule_id: int) -> bool:
        return True

    def check(self) -> None:
        """The kernel's lock cannot be lost while the process lives."""

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Ownership:
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


def read_owner(db_path: str | Path) -> Owner | None:
    """The recorded owner of ``db_path`` if that owner is still alive and holds the lock, else None."""
    path = owner_file(db_path)
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _parse_owner(path.read_text())
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _parse_owner(text: str) -> Owner:
    try:
        record = json.loads(text)
        return Owner(int(record["pid"]), str(record["role"]), int(record["since_ms"]), str(record["command"]))
    except (ValueError, KeyError, TypeError):
        return Owner(-1, "another process", 0, "")


def claim_ownership(db_path: str | Path, role: str = "ingestor") -> Ownership | PgOwnership:
    """Own ``db_path`` for writing, or WriterBusy naming the live owner (one line). For a PostgreSQL
    URL: a claim that owns nothing yet (``claim_symbols`` takes the symbols)."""
    if is_url(db_path):
        return PgOwnership(db_path, role)
    path = owner_file(db_path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        owner = _parse_owner(path.read_text())
        raise WriterBusy(f"{db_path} is already written by {owner.describe()}; stop that one first, "
                         f"or use another --db") from None
    owner = Owner(os.getpid(), role, time.time_ns() // 1_000_000, " ".join(sys.argv)[:200])
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(owner.__dict__).encode(), 0)
    return Ownership(db_path, fd, owner)
