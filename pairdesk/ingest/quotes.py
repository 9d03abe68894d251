"""Top of book and mark price, collected beside the trades: updates folded into one-second quote
bars (``pairdesk.quote_bars``, the one rule), mark prices kept one per second, and periods without
quotes recorded as quote gaps (quotes cannot be fetched back from REST: a gap is shown, never
invented). Everything is handed to the ingestor's one writer, committed in its batches.

Times: futures quotes carry the exchange's ``T``; spot bookTicker frames carry no time, so they
are timed by the local receive time. A second is closed (and written) when a later update of its
symbol arrives, or once it ended ``CLOSE_GRACE_MS`` ago on the exchange's clock, estimated as the
newest quote time seen plus the local time elapsed since it came (so a skewed local clock, or a
replay of old frames, never closes a second early).
"""
from __future__ import annotations

import logging

from pairdesk import store
from pairdesk.binance import MarkPrice, Quote
from pairdesk.quote_bars import QuoteBar, QuoteBarBuilder, QuoteGap

log = logging.getLogger("data_ingestor")

END_OF_TIME_MS = 2**62  # close_before this: close whatever is open
CLOSE_GRACE_MS = 1500  # a second is written once it ended this long ago (late frames still count)
STARTUP_GAP_REASON = "no quotes recorded while the ingestor was not running"


class QuoteCollector:
    """Quote bars, marks and quote gaps of the followed symbols, waiting for the writer."""

    def __init__(self, writer: store.TradeWriter) -> None:
        self.writer = writer
        self.builders: dict[str, QuoteBarBuilder] = {}
        self._bars: list[QuoteBar] = []
        self._marks: dict[tuple[str, int], MarkPrice] = {}  # one per symbol-second: the last one
        self._gaps: list[QuoteGap] = []
        self.next_funding_ms: dict[str, int] = {}  # from the mark-price stream: when funding settles next
        self._stopped_at: dict[str, tuple[int, str]] = {}  # unfollowed symbols: where their quotes stopped, why
        self._exchange_clock = (None, 0)  # (newest quote time seen, local time when it came)
        self.updates = 0
        self.bars_written = 0
        self.marks_written = 0
        self.gaps_recorded = 0

    def follow(self, symbol: str, stored_until_ms: int | None = None) -> None:
        """Start collecting ``symbol``. The first update records the quote gap since the end of its
        stored quotes (``stored_until_ms``), or since an ``unfollow`` of this run."""
        if symbol not in self.builders:
            since, reason = self._stopped_at.pop(symbol, (stored_until_ms, STARTUP_GAP_REASON))
            self.builders[symbol] = QuoteBarBuilder(symbol, gap_from_ms=since, gap_reason=reason)

    def unfollow(self, symbol: str, now_ms: int, reason: str) -> None:
        """Stop collecting ``symbol`` (removed or paused): its open second is closed, and a later
        ``follow`` records the gap from here."""
        builder = self.builders.pop(symbol, None)
        if builder is not None:
            builder.interrupt(now_ms, reason, lossy=False)
            self._bars.extend(builder.close_before(END_OF_TIME_MS))
            if builder.gap_from_ms is not None:
                self._stopped_at[symbol] = (builder.gap_from_ms, reason)

    def on_quote(self, quote: Quote, received_ms: int) -> None:
        builder = self.builders.get(quote.symbol)
        if builder is None:  # not followed (unsubscribed, in flight)
            return
        if self._exchange_clock[0] is None or quote.ts_ms > self._exchange_clock[0]:
            self._exchange_clock = (quote.ts_ms, received_ms)
        self.updates += 1
        bars, gap = builder.update(quote.update_id, quote.ts_ms, quote.bid, quote.bid_qty, quote.ask, quote.ask_qty)
        self._bars.extend(bars)
        if gap is not None:
            self._gaps.append(gap)

    def on_mark(self, mark: MarkPrice) -> None:
        if mark.symbol in self.builders:
            self._marks[(mark.symbol, mark.ts_ms - mark.ts_ms % 1000)] = mark
            self.next_funding_ms[mark.symbol] = mark.next_funding_ms

    def interrupt(self, symbols, at_ms: int, reason: str, lossy: bool = True) -> None:
        """The connection carrying ``symbols``' quotes ended at ``at_ms`` (``lossy``: it broke, frames
        may have been lost since the last one received): nothing is carried over."""
        for symbol in symbols:
            builder = self.builders.get(symbol)
            if builder is not None:
                builder.interrupt(at_ms, reason, lossy)

    def stop(self, at_ms: int, reason: str) -> None:
        """The ingestor stops: every open second is closed and handed to the writer with the rest."""
        for builder in self.builders.values():
            builder.interrupt(at_ms, reason, lossy=False)
            self._bars.extend(builder.close_before(END_OF_TIME_MS))
        self.flush(at_ms)

    def exchange_now_ms(self, now_ms: int) -> int:
        """The exchange's time now, from the newest quote time seen (local time before any quote)."""
        newest, received = self._exchange_clock
        return now_ms if newest is None else newest + max(0, now_ms - received)

    def flush(self, now_ms: int) -> None:
        """Close the seconds that ended ``CLOSE_GRACE_MS`` ago (exchange time) and hand everything
        waiting to the writer."""
        until = self.exchange_now_ms(now_ms) - CLOSE_GRACE_MS
        for builder in self.builders.values():
            self._bars.extend(builder.close_before(until))
        if not (self._bars or self._marks or self._gaps):
            return
        bars, gaps = self._bars, self._gaps
        marks = [(m.symbol, second, m.mark, m.index, m.funding_rate, m.next_funding_ms)
                 for (_, second), m in self._marks.items()]
        self._bars, self._marks, self._gaps = [], {}, []
        for gap in gaps:
            log.info("%s: no quotes from %d to %d (%.1f s): %s", gap.symbol, gap.from_ms, gap.to_ms,
                     (gap.to_ms - gap.from_ms) / 1000, gap.reason)
        self.writer.call(lambda conn: self._write(conn, bars, marks, gaps))

    def _write(self, conn, bars: list[QuoteBar], marks: list[tuple], gaps: list[QuoteGap]) -> None:
        self.bars_written += store.store_quote_bars(conn, bars)
        self.marks_written += store.store_marks(conn, marks)
        for gap in gaps:
            store.record_quote_gap(conn, gap.symbol, gap.from_ms, gap.to_ms, gap.reason)
        self.gaps_recorded += len(gaps)

    def summary(self) -> str:
        """What was collected, for the ingestor's last log line."""
        stale = sum(b.stale for b in self.builders.values())
        return (f"{self.updates} top-of-book updates ({stale} out of order, dropped) into {self.bars_written} "
                f"quote seconds; {self.marks_written} mark-price seconds; {self.gaps_recorded} quote gaps recorded")
