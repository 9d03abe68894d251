"""One-second quote bars from top-of-book updates: the one rule, shared by the live ingestor and the
import of ``bookTicker`` dumps (pure, no I/O).

A bar of second S (S <= t < S + 1000) holds:
- ``bid, ask, bid_qty, ask_qty``: the book after the last update of the second;
- ``mean_spread``: the time-weighted mean of the quoted spread (ask - bid) over the part of the
  second where a quote is known: from S when a quote was in force at S (carried from an earlier
  second, with no quote gap in between), else from the second's first update; to S + 1000;
- ``max_spread``: the largest spread quoted in that part of the second (a quote replaced within
  the millisecond it appeared counts: it was on the book);
- ``updates``: how many updates the second saw (stale ones not counted).

Seconds without updates have no bar (the book stood still: the previous bar's last quote holds).
Updates are ordered by the book's update id ``u``: one whose ``u`` is not above the last seen is
stale and dropped (out-of-order delivery). Times never run backwards within a symbol: an update
timed before the last one (or before a second already closed) counts at the later time.
A period without quotes (disconnect, start-up) is a quote gap: reported, never bridged.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

SECOND_MS = 1000


class QuoteBar(NamedTuple):
    """A stored quote second (the columns of ``quotes_1s``)."""

    symbol: str
    ts_ms: int
    bid: float
    ask: float
    bid_qty: float
    ask_qty: float
    mean_spread: float
    max_spread: float
    updates: int


class QuoteGap(NamedTuple):
    """No quotes for ``symbol`` in [from_ms, to_ms)."""

    symbol: str
    from_ms: int
    to_ms: int
    reason: str


@dataclass
class QuoteBarBuilder:
    """Folds one symbol's top-of-book updates into one-second bars.

    ``update`` returns the bars a new update closes (at most one); ``close_before(t)`` closes the
    open second if it ended by ``t``; ``interrupt`` says the book is no longer known (nothing is
    carried over the outage); the first update after an interruption (or the first ever, when
    ``gap_from_ms`` is given) reports the quote gap it ends.
    """

    symbol: str
    gap_from_ms: int | None = None  # the end of the quotes stored before this run, if any
    gap_reason: str = "no quotes before start-up"  # why there were none since gap_from_ms
    stale: int = 0  # updates dropped as out of order
    last_update_id: int | None = None
    _second: int | None = None  # start of the open second
    _book: tuple[float, float, float, float] | None = None  # bid, ask, bid_qty, ask_qty of the last update
    _in_force: bool = False  # the last update's book is known to stand (False after an interruption)
    _since_ms: int = 0  # from when the book in force counts (its update, or the open second's start)
    _closed_until_ms: int = 0  # no update is timed before this (seconds closed)
    _last_update_ms: int = 0  # time of the last update applied
    _area: float = 0.0  # integral of the spread over the open second so far (price * ms)
    _covered_ms: int = 0  # how much of the open second a quote was known for, so far
    _max: float = 0.0
    _updates: int = 0
    _interrupted_reason: str | None = field(default=None)

    def update(self, update_id: int, ts_ms: int, bid: float, bid_qty: float, ask: float,
               ask_qty: float) -> tuple[list[QuoteBar], QuoteGap | None]:
        """Apply one update; returns (bars closed by it, the quote gap it ends or None)."""
        if self.last_update_id is not None and update_id <= self.last_update_id:
            self.stale += 1
            return [], None
        self.last_update_id = update_id
        ts_ms = max(int(ts_ms), self._closed_until_ms, self._last_update_ms)
        gap = None
        if self._interrupted_reason is not None or (self._book is None and self.gap_from_ms is not None):
            start = self.gap_from_ms if self.gap_from_ms is not None else ts_ms
            if ts_ms > start:
                gap = QuoteGap(self.symbol, start, ts_ms, self._interrupted_reason or self.gap_reason)
            self._interrupted_reason = None
            self.gap_from_ms = None
        bars = []
        second = ts_ms - ts_ms % SECOND_MS
        if self._second is not None and second > self._second:
            bars.append(self._close())
        if self._second is None:
            self._open(second)
        self._advance(ts_ms)
        spread = ask - bid
        self._book = (bid, ask, bid_qty, ask_qty)
        self._in_force = True
        self._since_ms = self._last_update_ms = ts_ms
        self._max = spread if self._updates == 0 and self._covered_ms == 0 else max(self._max, spread)
        self._updates += 1
        return bars, gap

    def close_before(self, now_ms: int) -> list[QuoteBar]:
        """Close the open second if it ended at or before ``now_ms``."""
        if self._second is not None and self._second + SECOND_MS <= now_ms:
            return [self._close()]
        return []

    def interrupt(self, at_ms: int, reason: str, lossy: bool = True) -> None:
        """Quotes stop at ``at_ms`` (local time): from then on nothing is known of the book, so nothing
        is carried over. When the stop was ``lossy`` (a broken connection: what came after the last
        update received may have been lost) the book is known up to that last update, else (a
        deliberate stop on a healthy connection) up to ``at_ms``. The open second stays open: updates
        of its rest (after a quick reconnect) still count in it. The next update reports the quote
        gap from where the book stopped being known to itself."""
        if self._book is None or self._interrupted_reason is not None:
            return
        known_until = self._last_update_ms
        if not lossy:
            known_until = max(self._last_update_ms, at_ms)
            if self._second is not None:
                self._advance(min(known_until, self._second + SECOND_MS))
        self.gap_from_ms = max(known_until, self._closed_until_ms) if not lossy else known_until
        self._interrupted_reason = reason
        self._in_force = False  # the update id stays: the book's numbering goes on across connections

    # -------------------------------------------------------------- internals

    def _open(self, second: int) -> None:
        self._second = second
        self._area = 0.0
        self._covered_ms = 0
        self._updates = 0
        if self._in_force:  # a book carried into this second stands from its start
            self._since_ms = second
            self._max = self._book[1] - self._book[0]
        else:
            self._max = 0.0

    def _advance(self, ts_ms: int) -> None:
        """Accumulate the book in force from ``_since_ms`` to ``ts_ms`` (within the open second)."""
        if self._in_force and ts_ms > self._since_ms:
            span = ts_ms - self._since_ms
            self._area += (self._book[1] - self._book[0]) * span
            self._covered_ms += span
            self._since_ms = ts_ms

    def _close(self) -> QuoteBar:
        end = self._second + SECOND_MS
        self._advance(end)
        bid, ask, bid_qty, ask_qty = self._book
        mean = self._area / self._covered_ms if self._covered_ms else ask - bid
        bar = QuoteBar(self.symbol, self._second, bid, ask, bid_qty, ask_qty, mean, self._max, self._updates)
        self._second = None
        self._since_ms = end
        self._closed_until_ms = end
        return bar
