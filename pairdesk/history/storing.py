"""Validated chunks into the tick store: trades with their one-second bars, bars where none exist,
bookTicker updates as one-second quote bars, settled funding rates.

Each chunk is one write transaction, so a live ingestor writing to the same database waits at
most for one chunk (it holds its batch meanwhile and retries, never drops it). The store's own
writers do the writing, and every one of them is idempotent: trades already stored are skipped,
bars of a second whose trades arrive in several chunks are folded together exactly as the live
writer does, a quote second or a settlement already stored is kept as it is. Quote updates are
folded into bars by ``quote_folding`` (the one quote-bar rule, behind a bounded reorder buffer).
Rows are turned into tuples before the transaction begins, so the write lock is held for SQL only.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pairdesk import store
from pairdesk.history.chunks import Chunk
from pairdesk.history.formats import BARS, FUNDING, QUOTES
from pairdesk.history.parsed import ParsedHistory
from pairdesk.history.quote_folding import QuoteFolder

STORE_CHUNK_TRADES = 100_000  # rows per transaction for an in-memory (uploaded) file


@dataclass
class Stored:
    """What storing one file did. ``offered``: the rows handed to the store (trades, bars, quote
    seconds built from the updates, funding rates); ``new``: how many of them it did not hold yet;
    ``stale``: bookTicker updates dropped as out of order (see ``quote_folding``)."""

    offered: int = 0
    new: int = 0
    stale: int = 0

    @property
    def already(self) -> int:
        """Rows the database held already (left as they were)."""
        return self.offered - self.new


def _write(conn: sqlite3.Connection, stored: Stored, rows: Sequence,
           writer: Callable[[sqlite3.Connection, Sequence], int]) -> None:
    if rows:
        with store.transaction(conn):
            stored.new += writer(conn, rows)
        stored.offered += len(rows)


def store_file(db: str | Path, chunks: Iterable[Chunk], market: str, stream: str) -> Stored:
    """Store the validated chunks of one file into the ``market``/``stream`` database (created if
    new), one transaction each (a quote file's last bars in one more)."""
    conn = store.open_writer(db, market, stream)
    stored = Stored()
    folders: dict[str, QuoteFolder] = {}
    try:
        for chunk in chunks:
            if chunk.kind == BARS:
                _write(conn, stored, chunk.bar_rows(),
                       lambda c, rows, symbol=chunk.symbol: store.store_bars(c, symbol, rows))
            elif chunk.kind == QUOTES:
                if chunk.symbol not in folders:
                    folders[chunk.symbol] = QuoteFolder(chunk.symbol)
                _write(conn, stored, folders[chunk.symbol].fold(chunk), store.store_quote_bars)
            elif chunk.kind == FUNDING:
                _write(conn, stored, chunk.funding_rows(), store.store_funding)
            else:
                _write(conn, stored, chunk.trade_tuples(), lambda c, rows: store.store_history(c, rows).stored)
        for folder in folders.values():
            _write(conn, stored, folder.finish(), store.store_quote_bars)
            stored.stale += folder.stale
        return stored
    finally:
        conn.close()


def store_chunks(db: str | Path, chunks: Iterable[Chunk], market: str, stream: str) -> int:
    """``store_file``, returning only how many rows were new."""
    return store_file(db, chunks, market, stream).new


def _reporting(chunks: Iterable[Chunk], total_rows: int, on_progress: Callable[[float], None]) -> Iterator[Chunk]:
    """``chunks``, calling ``on_progress`` with the fraction stored once each has been stored."""
    done = 0
    for chunk in chunks:
        yield chunk
        done += len(chunk)
        on_progress(done / max(total_rows, 1))


def store_parsed(db: str | Path, parsed: ParsedHistory, market: str, stream: str,
                 on_progress: Callable[[float], None] | None = None) -> Stored:
    """Store a validated in-memory file (an upload) into the ``market``/``stream`` database (see
    ``store_file``). STORE_CHUNK_TRADES rows per transaction."""
    chunks: Iterable[Chunk] = parsed.chunks(STORE_CHUNK_TRADES)
    if on_progress is not None:
        chunks = _reporting(chunks, parsed.rows, on_progress)
    return store_file(db, chunks, market, stream)
