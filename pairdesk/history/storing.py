"""Validated chunks into the tick store: trades with their one-second bars, or bars where none exist.

Each chunk is one write transaction, so a live ingestor writing to the same database waits at
most for one chunk (it holds its batch meanwhile and retries, never drops it). The store's own
``store_history`` / ``store_bars`` do the writing: trades already stored are skipped, bars of a
second whose trades arrive in several chunks are folded together exactly as the live writer does.
Rows are turned into tuples before the transaction begins, so the write lock is held for SQL only.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from pairdesk import store
from pairdesk.history.chunks import Chunk
from pairdesk.history.formats import BARS
from pairdesk.history.parsed import ParsedHistory

STORE_CHUNK_TRADES = 100_000  # rows per transaction for an in-memory (uploaded) file


def store_chunks(db: str | Path, chunks: Iterable[Chunk], market: str, stream: str) -> int:
    """Store validated chunks into the ``market``/``stream`` database (created if new), one
    transaction each; returns how many trades (or bars, for a bars file) were new."""
    conn = store.open_writer(db, market, stream)
    try:
        new = 0
        for chunk in chunks:
            if chunk.kind == BARS:
                bars = chunk.bar_rows()
                with store.transaction(conn):
                    new += store.store_bars(conn, chunk.symbol, bars)
            else:
                trades = chunk.trade_tuples()
                with store.transaction(conn):
                    new += store.store_history(conn, trades).stored
        return new
    finally:
        conn.close()


def _reporting(chunks: Iterable[Chunk], total_rows: int, on_progress: Callable[[float], None]) -> Iterator[Chunk]:
    """``chunks``, calling ``on_progress`` with the fraction stored once each has been stored."""
    done = 0
    for chunk in chunks:
        yield chunk
        done += len(chunk)
        on_progress(done / max(total_rows, 1))


def store_parsed(db: str | Path, parsed: ParsedHistory, market: str, stream: str,
                 on_progress: Callable[[float], None] | None = None) -> int:
    """Store a validated in-memory file (an upload) into the ``market``/``stream`` database; returns
    how many trades (or bars) were new. STORE_CHUNK_TRADES rows per transaction."""
    chunks: Iterable[Chunk] = parsed.chunks(STORE_CHUNK_TRADES)
    if on_progress is not None:
        chunks = _reporting(chunks, parsed.rows, on_progress)
    return store_chunks(db, chunks, market, stream)
