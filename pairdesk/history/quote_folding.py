"""A bookTicker dump's updates folded into one-second quote bars, in bounded memory.

The bars come from the one rule, ``pairdesk.quote_bars.QuoteBarBuilder`` (timed by the transaction
time, ordered by the update id), exactly as the live feed builds them. Dumps list updates out of
order, and a whole day (tens of millions of rows) cannot be sorted in bounded memory, so the rows
pass through a ``ReorderBuffer`` that holds the REORDER_ROWS highest update ids seen and hands every
lower one on, lowest first. An update that arrives after a higher id has been handed on is further
out of order than the buffer can repair: it reaches the builder behind that higher id, which counts
it stale and drops it (reported as ``stale``), as the live feed drops its out-of-order updates.

A file's first update starts its bars with no quote carried in, and the last open second is
closed at the end: the file's first and last updates are the limits of what it tells; nothing is
recorded outside them (a quiet stretch inside the file is the book standing still, not a gap).
"""
from __future__ import annotations

import numpy as np

from pairdesk.history.chunks import QuoteChunk
from pairdesk.quote_bars import SECOND_MS, QuoteBar, QuoteBarBuilder

REORDER_ROWS = 200_000  # updates held back for reordering: ~10 MB, minutes of a busy BTCUSDT book
FEED_ROWS = 16_384  # updates turned into Python numbers at a time (a drained buffer would be ~50 MB of them)

Columns = tuple[np.ndarray, ...]  # update ids first, then the other columns of the same rows


class ReorderBuffer:
    """Rows held back by update id: ``push`` returns every row beyond the ``limit`` highest ids held,
    lowest id first (ties in arrival order); ``drain`` returns the rest. A row that arrives fewer
    than ``limit`` rows late is always put back in order. ``peak`` is the most rows ever held
    between calls (never above ``limit``; a push briefly adds the rows it is given)."""

    def __init__(self, limit: int = REORDER_ROWS) -> None:
        if limit < 0:
            raise ValueError(f"the reorder limit must be zero or more, got {limit}")
        self.limit = limit
        self.peak = 0
        self._held: Columns | None = None

    @property
    def held(self) -> int:
        return 0 if self._held is None else len(self._held[0])

    def push(self, columns: Columns) -> Columns:
        """Add rows (columns of equal length, update ids first); returns the rows released, in update-id order."""
        order = np.argsort(columns[0], kind="stable")
        rows = tuple(column[order] for column in columns)
        if self._held is not None:  # merge into the sorted rows held, after equal ids (arrival order)
            at = np.searchsorted(self._held[0], rows[0], side="right")
            rows = tuple(np.insert(held, at, new) for held, new in zip(self._held, rows))
        cut = max(len(rows[0]) - self.limit, 0)
        self._held = tuple(column[cut:] for column in rows)
        self.peak = max(self.peak, self.held)
        return tuple(column[:cut] for column in rows)

    def drain(self) -> Columns:
        """Every row still held, in update-id order; the buffer is empty afterwards."""
        held, self._held = self._held, None
        return held if held is not None else ()


class QuoteFolder:
    """One file's top-of-book updates of one symbol into quote bars: ``fold`` each chunk in file
    order (returns the bars it closed), then ``finish`` (the bars still open)."""

    def __init__(self, symbol: str, reorder_rows: int = REORDER_ROWS) -> None:
        self.builder = QuoteBarBuilder(symbol)
        self.buffer = ReorderBuffer(reorder_rows)
        self._last_ms: int | None = None  # the latest transaction time seen

    @property
    def stale(self) -> int:
        """Updates dropped: further out of order than the buffer repairs, or a repeated update id."""
        return self.builder.stale

    def fold(self, chunk: QuoteChunk) -> list[QuoteBar]:
        if len(chunk) == 0:
            return []
        latest = int(chunk.times_ms.max())
        self._last_ms = latest if self._last_ms is None else max(self._last_ms, latest)
        return self._feed(self.buffer.push((chunk.update_ids, chunk.times_ms, chunk.bids, chunk.bid_qtys,
                                            chunk.asks, chunk.ask_qtys)))

    def finish(self) -> list[QuoteBar]:
        bars = self._feed(self.buffer.drain())
        if self._last_ms is not None:  # the builder never times an update after the latest time seen
            bars += self.builder.close_before(self._last_ms + SECOND_MS)
        return bars

    def _feed(self, columns: Columns) -> list[QuoteBar]:
        bars: list[QuoteBar] = []
        update = self.builder.update
        for start in range(0, len(columns[0]) if columns else 0, FEED_ROWS):
            rows = zip(*(column[start:start + FEED_ROWS].tolist() for column in columns))
            for update_id, ts_ms, bid, bid_qty, ask, ask_qty in rows:
                closed, _ = update(update_id, ts_ms, bid, bid_qty, ask, ask_qty)  # no gap: nothing came before
                if closed:
                    bars += closed
        return bars
