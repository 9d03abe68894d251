"""Collection control: which followed symbols the ingestor is asked to pause, and how to resume them.

One row per symbol ever paused in ``collection``: ``paused`` 1 while paused, 0 once resumed;
``changed_ms`` grows with every write (a poller compares max(changed_ms), as for the watchlist);
``paused_ms`` when it was last paused; ``backfill`` whether the last resume asked for the trades
missed while paused. The rule lives here, for ``POST /api/stop`` / ``POST /api/start`` and the
dashboard's sidebar alike: only followed symbols (the watchlist) can be paused or resumed, and no
symbols named means every followed one.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import NamedTuple

from pairdesk.store.database import now_ms
from pairdesk.symbols import SymbolError, parse_symbol_list
from pairdesk.watchlist import WatchlistError


class CollectionError(WatchlistError):
    """Symbols that cannot be paused or resumed (malformed, or not followed); the message is one line."""


class CollectionRow(NamedTuple):
    symbol: str
    paused: bool
    paused_ms: int | None
    changed_ms: int
    backfill: bool


def read_collection(conn: sqlite3.Connection) -> list[CollectionRow]:
    """Every symbol's pause row (paused or resumed), by symbol."""
    rows = conn.execute("SELECT symbol, paused, paused_ms, changed_ms, backfill FROM collection ORDER BY symbol")
    return [CollectionRow(s, bool(p), pms, cms, bool(b)) for s, p, pms, cms, b in rows]


def paused_symbols(conn: sqlite3.Connection) -> list[str]:
    """The followed symbols that are paused now, by symbol."""
    return [row[0] for row in conn.execute(
        "SELECT c.symbol FROM collection c JOIN watchlist w USING (symbol) WHERE c.paused = 1 ORDER BY c.symbol")]


def choose_symbols(conn: sqlite3.Connection, symbols: Sequence[str] | str | None) -> list[str]:
    """``symbols`` normalised and checked against the watchlist; None or empty: every followed symbol."""
    followed = [symbol for symbol, _ in conn.execute("SELECT symbol, updated_ms FROM watchlist ORDER BY symbol")]
    try:
        chosen = parse_symbol_list(symbols or [])
    except SymbolError as exc:
        raise CollectionError(str(exc)) from None
    if not followed:
        raise CollectionError("no symbols are followed yet: start the ingestor or save a watchlist first")
    unknown = [s for s in chosen if s not in followed]
    if unknown:
        raise CollectionError(f"{', '.join(unknown)} not followed by the ingestor (it follows "
                              f"{', '.join(followed)}); add it to the watchlist first")
    return chosen or followed


def set_collection(conn: sqlite3.Connection, symbols: Sequence[str] | str | None, paused: bool,
                   backfill: bool = False) -> list[str]:
    """Pause (``paused``) or resume ``symbols`` (``choose_symbols``) for the running ingestor; returns
    the symbols whose state changed. ``backfill``: on resume, fetch the trades missed while paused
    (otherwise they stay a gap recorded as "paused"). Caller holds the transaction."""
    chosen = choose_symbols(conn, symbols)
    before = set(paused_symbols(conn))
    changed = [s for s in chosen if (s in before) != paused]
    if not changed:
        return []
    previous = conn.execute("SELECT max(changed_ms) FROM collection").fetchone()[0]
    changed_ms = now_ms() if previous is None else max(now_ms(), previous + 1)
    conn.executemany(
        "INSERT INTO collection (symbol, paused, paused_ms, changed_ms, backfill) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (symbol) DO UPDATE SET paused = excluded.paused, changed_ms = excluded.changed_ms, "
        "backfill = excluded.backfill, paused_ms = coalesce(excluded.paused_ms, collection.paused_ms)",
        [(s, int(paused), changed_ms if paused else None, changed_ms, int(backfill and not paused)) for s in changed],
    )
    return changed
