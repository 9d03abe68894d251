"""Settled funding rates of USD-M perpetuals, fetched at start-up and after each settlement.

``GET /fapi/v1/fundingRate`` pages from the newest stored settlement (or ``FUNDING_HISTORY_DAYS``
back for a symbol without any), paced under that endpoint's own limit (``BinanceRest``'s funding
pacer; a 429 waits ``Retry-After``). Rows are stored once each (``store.store_funding``), so a
restart or a repeated page stores nothing twice. The next fetch is due shortly after the next
settlement: the mark-price stream's ``T`` when it has been seen, else the next 8-hour boundary.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import httpx

from pairdesk import store
from pairdesk.binance import REST_PAGE_LIMIT, RestError

if TYPE_CHECKING:
    from pairdesk.ingest.daemon import Ingestor

log = logging.getLogger("data_ingestor")

FUNDING_HISTORY_DAYS = 30  # how far back a symbol without stored funding starts
SETTLEMENT_MS = 8 * 3600 * 1000  # the usual interval (some symbols settle every 4 h or 1 h)
AFTER_SETTLEMENT_S = 15.0  # the settled rate shows up on REST shortly after the settlement
RECHECK_S = 60.0  # look for newly followed symbols at least this often
RETRY_S = 60.0  # after a failed fetch


def next_boundary_ms(now_ms: int, interval_ms: int = SETTLEMENT_MS) -> int:
    """The first settlement boundary after ``now_ms`` (00:00, 08:00, 16:00 UTC for 8 hours)."""
    return (now_ms // interval_ms + 1) * interval_ms


class FundingFollower:
    """Keeps ``funding`` complete for the ingestor's followed symbols."""

    def __init__(self, ingestor: Ingestor) -> None:
        self.ingestor = ingestor
        self.due_ms: dict[str, int] = {}  # symbol -> when its next fetch is due
        self.stored = 0
        self.last_error = ""

    async def run(self) -> None:
        while True:
            now = store.now_ms()
            for symbol in list(self.ingestor.feeds):
                if self.due_ms.get(symbol, 0) <= now:
                    await self._fetch_due(symbol)
            for symbol in [s for s in self.due_ms if s not in self.ingestor.feeds]:
                del self.due_ms[symbol]
            soonest = min(self.due_ms.values(), default=now + RECHECK_S * 1000)
            await asyncio.sleep(max(0.5, min(RECHECK_S, (soonest - store.now_ms()) / 1000)))

    async def _fetch_due(self, symbol: str) -> None:
        try:
            await self.catch_up(symbol)
        except (httpx.HTTPError, RestError) as exc:
            self.last_error = f"{symbol}: {exc}"
            log.warning("funding: cannot fetch %s's funding history yet: %s", symbol, exc)
            self.due_ms[symbol] = store.now_ms() + int(RETRY_S * 1000)
            return
        now = store.now_ms()
        settles = self.ingestor.quotes.next_funding_ms.get(symbol)
        if settles is None or settles <= now:
            settles = next_boundary_ms(now)
        self.due_ms[symbol] = settles + int(AFTER_SETTLEMENT_S * 1000)

    async def catch_up(self, symbol: str) -> int:
        """Fetch and store every settlement of ``symbol`` after the newest stored one; returns how many were new."""
        writer = self.ingestor.writer
        newest = await asyncio.wrap_future(writer.call(lambda conn: store.last_funding_ms(conn, symbol)))
        start = newest + 1 if newest is not None else store.now_ms() - FUNDING_HISTORY_DAYS * 86_400_000
        new = 0
        started = time.monotonic()
        while True:
            page = await self.ingestor.rest.funding_history(symbol, start, limit=REST_PAGE_LIMIT)
            if page:
                rows = [(f.symbol, f.funding_time_ms, f.rate, f.mark_price) for f in page if f.symbol == symbol]
                new += await asyncio.wrap_future(writer.call(lambda conn, rows=rows: store.store_funding(conn, rows)))
                start = page[-1].funding_time_ms + 1
            if len(page) < REST_PAGE_LIMIT:
                break
        self.stored += new
        if new:
            log.info("funding: %s: %d settlements stored (%.1f s)", symbol, new, time.monotonic() - started)
        return new
