"""Gaps and their REST backfill: one worker per followed symbol fetches missing ids in paced
pages by ``fromId``, stores them through the writer, and closes (or narrows) the gap."""
from __future__ import annotations

import asyncio
import logging

import httpx

from pairdesk import binance, store
from pairdesk.binance import RestError
from pairdesk.ingest.config import BACKFILL_RETRIES, BackfillJob, SymbolFeed

log = logging.getLogger("data_ingestor")

HISTORY_REASON = "history before the first live trade (--backfill-depth)"


class BackfillMixin:
    """The gap-filling half of ``Ingestor`` (mixed into it; uses its ``feeds``, ``writer``, ``rest``)."""

    def _open_gap(self, feed: SymbolFeed, from_id: int, to_id: int, reason: str, fill: bool = True) -> None:
        """Record ids from_id..to_id as missing, and (``fill``) queue their backfill."""
        log.warning("%s: gap of %d trades (ids %d..%d): %s", feed.symbol, to_id - from_id + 1, from_id, to_id, reason)
        feed.open_gaps += 1
        self.writer.call(lambda conn: store.open_gap(conn, feed.symbol, from_id, to_id, reason))
        if fill:
            feed.jobs.put_nowait(BackfillJob(from_id, to_id, reason))

    def _start_worker(self, feed: SymbolFeed) -> None:
        self._workers[feed.symbol] = asyncio.create_task(self._backfill_worker(feed), name=f"backfill-{feed.symbol}")

    async def _backfill_worker(self, feed: SymbolFeed) -> None:
        while True:
            job = await feed.jobs.get()
            for attempt in range(BACKFILL_RETRIES):
                try:
                    await self._run_job(feed, job)
                    break
                except (httpx.HTTPError, RestError) as exc:
                    if isinstance(exc, RestError) and exc.status in (400, 401, 403):
                        log.error("%s: backfill of ids from %d impossible: %s", feed.symbol, job.from_id, exc)
                        await self._settle_gap(feed, job.from_id, job.to_id or job.from_id, 0, f"REST refused: {exc}")
                        break
                    delay = self.config.reconnect_delay_s(attempt + 2)
                    log.warning("%s: backfill from id %d failed (%s); retrying in %.1f s", feed.symbol,
                                job.from_id, exc, delay)
                    await asyncio.sleep(delay)

    async def _run_job(self, feed: SymbolFeed, job: BackfillJob) -> None:
        if job.history:
            await self._fetch_history(feed, job)
            return
        if job.to_id is not None:
            missing = await asyncio.wrap_future(self.writer.call(
                lambda conn: store.count_missing(conn, feed.symbol, job.from_id, job.to_id)))
            if missing == 0:  # an earlier catch-up already stored them
                await self._settle_gap(feed, job.from_id, job.to_id, 0, "already stored")
                return
        next_id, fetched = job.from_id, 0
        while job.to_id is None or next_id <= job.to_id:
            limit = min(binance.REST_PAGE_LIMIT, self.config.backfill_depth - fetched)
            if limit <= 0:
                break
            live_from = feed.first_live_id
            if job.to_id is None and live_from is not None and job.from_id < live_from <= next_id:
                break  # a catch-up that reached the live stream: it covers the rest
            page = await self.rest.fetch_from(feed.symbol, next_id, limit)
            page = [t for t in page if t.trade_id >= next_id and (job.to_id is None or t.trade_id <= job.to_id)]
            if not page:
                break
            self._store_fetched(feed, page)
            fetched += len(page)
            next_id = page[-1].trade_id + 1
            # an open-ended catch-up ends on an empty page, not a short one: an exchange may cap
            # pages below the limit asked for
        if job.to_id is None:
            if fetched:
                log.info("%s: caught up %d trades (ids %d..%d) by REST", feed.symbol, fetched, job.from_id,
                         next_id - 1)
                await self._record_filled(feed, job.from_id, next_id - 1, fetched, job.reason)
            if fetched >= self.config.backfill_depth:  # the rest stays recorded as an open gap
                await self._record_beyond_depth(feed, next_id)
            return
        await self._settle_gap(feed, job.from_id, job.to_id, fetched, "")

    async def _fetch_history(self, feed: SymbolFeed, job: BackfillJob) -> None:
        """A new symbol's trades from ``from_id`` up to its first live trade, newest page first (so the
        last minutes before the live stream, which every panel needs first, arrive within seconds),
        down to whatever the exchange has (ids before its first trade do not exist). The span is
        recorded as a gap first, so that a fetch cut short (a stop, a crash) is resumed by the next
        start; once complete it is closed."""
        await asyncio.wrap_future(self.writer.call(
            lambda conn: store.open_gap(conn, feed.symbol, job.from_id, job.to_id, HISTORY_REASON)))
        upper, fetched, first = job.to_id, 0, None
        while upper >= job.from_id:
            lower = max(job.from_id, upper - binance.REST_PAGE_LIMIT + 1)
            page = await self.rest.fetch_from(feed.symbol, lower, upper - lower + 1)
            page = [t for t in page if lower <= t.trade_id <= upper]
            if not page:
                break
            self._store_fetched(feed, page)
            first = page[0].trade_id
            fetched += len(page)
            if first > lower:  # the exchange has nothing older
                break
            upper = lower - 1
        detail = f"{fetched} trades from id {first}" if fetched else "the exchange has none before the live trades"
        await asyncio.wrap_future(self.writer.call(
            lambda conn: store.close_gap(conn, feed.symbol, job.from_id, "filled", fetched, "rest", detail)))
        if fetched:
            log.info("%s: %d trades of history stored (ids %d..%d) by REST", feed.symbol, fetched, first, job.to_id)

    async def _record_beyond_depth(self, feed: SymbolFeed, from_id: int) -> None:
        live_from = feed.first_live_id
        if live_from is not None and live_from > from_id:
            end = live_from - 1
        else:
            newest = await self.rest.recent(feed.symbol, limit=1)
            end = newest[-1].trade_id if newest else from_id - 1
        if end >= from_id:
            self._open_gap(feed, from_id, end, f"beyond --backfill-depth {self.config.backfill_depth}", fill=False)

    async def _record_filled(self, feed: SymbolFeed, from_id: int, to_id: int, fetched: int, reason: str) -> None:
        def record(conn):
            store.open_gap(conn, feed.symbol, from_id, to_id, reason)
            store.close_gap(conn, feed.symbol, from_id, "filled", fetched, "rest")

        await asyncio.wrap_future(self.writer.call(record))

    async def _settle_gap(self, feed: SymbolFeed, from_id: int, to_id: int, fetched: int, detail: str) -> None:
        """Close the gap if every id is now stored; otherwise leave it open with what is still missing."""
        def settle(conn):
            missing = store.count_missing(conn, feed.symbol, from_id, to_id)
            if missing == 0:
                store.close_gap(conn, feed.symbol, from_id, "filled", fetched, "rest", detail)
            else:
                store.set_gap_detail(conn, feed.symbol, from_id, detail or f"{missing} ids still missing")
            return missing

        missing = await asyncio.wrap_future(self.writer.call(settle))
        if missing == 0:
            feed.open_gaps = max(0, feed.open_gaps - 1)
            log.info("%s: gap ids %d..%d filled (%d trades fetched)", feed.symbol, from_id, to_id, fetched)
        else:
            log.warning("%s: gap ids %d..%d still has %d missing trades; left open", feed.symbol, from_id, to_id,
                        missing)

