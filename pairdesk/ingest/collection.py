"""Following the stored collection control live (``POST /api/stop`` / ``POST /api/start``, the sidebar):
a paused symbol is UNSUBSCRIBEd and its status says ``paused``; on resume it is SUBSCRIBEd again.
The trade ids missed while paused are recorded as a gap with status "paused" (never back-filled),
unless the resume asked for a backfill: then they are fetched like any gap."""
from __future__ import annotations

import asyncio
import logging

import httpx

from pairdesk import store
from pairdesk.binance import RestError
from pairdesk.ingest.config import WATCHLIST_POLL_INTERVAL_S, BackfillJob, SymbolFeed

log = logging.getLogger("data_ingestor")

PAUSED_GAP_REASON = "collection paused"


class CollectionMixin:
    """The pause-and-resume half of ``Ingestor`` (mixed into it; uses its ``feeds``, ``writer``, ``rest``)."""

    def _active_symbols(self) -> list[str]:
        """The followed symbols that are not paused: the ones the connection carries."""
        return [s for s, feed in self.feeds.items() if not feed.paused]

    async def _collection_loop(self) -> None:
        """Follow the ``collection`` table; a failed resume (REST down) is retried at the next poll."""
        while True:
            rows = await asyncio.wrap_future(self.writer.call(store.read_collection))
            version = max((row.changed_ms for row in rows), default=None)
            if version != self._collection_version:
                try:
                    await self._apply_collection(rows)
                    self._collection_version = version
                except (httpx.HTTPError, RestError) as exc:
                    log.warning("collection: cannot resume yet: %s", exc)
            await asyncio.sleep(WATCHLIST_POLL_INTERVAL_S)

    async def _apply_collection(self, rows: list[store.CollectionRow]) -> None:
        pause = [r.symbol for r in rows if r.paused and r.symbol in self.feeds and not self.feeds[r.symbol].paused]
        resume = [r for r in rows if not r.paused and r.symbol in self.feeds and self.feeds[r.symbol].paused]
        for symbol in pause:
            self.feeds[symbol].paused = True
        if pause:
            await self._send_control("UNSUBSCRIBE", pause)
            log.info("collection: paused %s", ",".join(pause))
        for row in resume:
            await self._resume(self.feeds[row.symbol], row.backfill)
        if resume:
            self._any_active.set()
            await self._send_control("SUBSCRIBE", [r.symbol for r in resume])
            log.info("collection: resumed %s", ",".join(f"{r.symbol} ({'with' if r.backfill else 'no'} backfill)"
                                                      for r in resume))
        if not self._active_symbols():
            self._any_active.clear()

    async def _resume(self, feed: SymbolFeed, backfill: bool) -> None:
        """Before SUBSCRIBE: queue the missed ids' backfill, or record them as a paused gap."""
        feed.first_live_id = None  # the next live trade is the first of this subscription
        if feed.last_id is None:
            feed.paused = False
            return
        if backfill:
            feed.jobs.put_nowait(BackfillJob(feed.last_id + 1, None, "missed while collection was paused"))
        else:
            newest = await self.rest.recent(feed.symbol, limit=1)
            if newest and newest[-1].trade_id > feed.last_id:
                from_id, to_id = feed.last_id + 1, newest[-1].trade_id
                log.info("%s: %d trades (ids %d..%d) missed while paused: recorded, not fetched", feed.symbol,
                         to_id - from_id + 1, from_id, to_id)
                await asyncio.wrap_future(self.writer.call(
                    lambda conn: store.record_paused_gap(conn, feed.symbol, from_id, to_id, PAUSED_GAP_REASON)))
                feed.last_id, feed.last_trade_ms = to_id, newest[-1].ts_ms
        feed.paused = False
