"""Following the stored watchlist live: new symbols are checked against ``exchangeInfo``, their
recent trades fetched, then SUBSCRIBEd on the open connection; removed ones are UNSUBSCRIBEd
(at most CONTROL_MESSAGE_INTERVAL_S apart: Binance takes 5 incoming messages a second)."""
from __future__ import annotations

import asyncio
import logging

import httpx

from pairdesk import binance, store, watchlist
from pairdesk.binance import RestError
from pairdesk.ingest.config import WATCHLIST_POLL_INTERVAL_S, SymbolFeed

log = logging.getLogger("data_ingestor")


class WatchlistMixin:
    """The watchlist-following half of ``Ingestor`` (mixed into it; uses its ``feeds``, ``_ws``, ``writer``)."""

    async def _watchlist_loop(self) -> None:
        """Follow the ``watchlist`` table (the API and the dashboard edit it) on the open connection.

        On PostgreSQL it looks again at every poll even when the list did not change: another ingestor
        may have died and left its symbols to take (``claims.SymbolClaims``)."""
        while True:
            await asyncio.sleep(WATCHLIST_POLL_INTERVAL_S)
            rows = await asyncio.wrap_future(self.writer.call(store.read_watchlist))
            version = max((updated for _, updated in rows), default=None)
            if (version == self._watchlist_version and not store.is_url(self.config.db)) or not rows:
                continue
            try:
                await self._follow([symbol for symbol, _ in rows])
                self._watchlist_version = version
            except (httpx.HTTPError, RestError) as exc:  # try again at the next poll
                log.warning("watchlist: cannot check the new symbols against exchangeInfo yet: %s", exc)

    async def _follow(self, listed: list[str]) -> None:
        """Follow what the claims give this ingestor of the ``listed`` watchlist (all of it, alone)."""
        wanted = await asyncio.to_thread(self.claims.choose, listed, list(self.feeds))
        added = [s for s in wanted if s not in self.feeds]
        removed = [s for s in self.feeds if s not in wanted]
        if added:
            listed_now = await self.rest.trading_symbols()
            unknown = [s for s in added if s not in listed_now]
            if unknown:
                log.error("watchlist: %s not TRADING on %s; not followed", ", ".join(unknown), self.config.market)
                self.claims.ownership.release_symbols(unknown)
                added = [s for s in added if s in listed_now]
                keep = [s for s in listed if s not in unknown]
                reason = watchlist.refused_state(self.config.market)

                def drop_unknown(conn) -> None:  # the page and the API say why they left the list
                    store.replace_watchlist(conn, keep)
                    store.record_refusals(conn, dict.fromkeys(unknown, reason), added)

                await asyncio.wrap_future(self.writer.call(drop_unknown))
            else:  # a symbol refused before and listed now is no longer refused
                await asyncio.wrap_future(self.writer.call(lambda conn: store.record_refusals(conn, {}, added)))
        if not added and not removed:
            return
        for symbol in removed:
            del self.feeds[symbol]
            self._unfollowed.add(symbol)
            self._workers.pop(symbol).cancel()
        if removed:
            await asyncio.wrap_future(self.writer.call(
                lambda conn: [store.delete_status(conn, s) for s in removed]))
            await self._send_control("UNSUBSCRIBE", removed)
        for symbol in added:
            feed = SymbolFeed(symbol)
            self._unfollowed.discard(symbol)
            self._store_fetched(feed, await self.rest.recent(symbol))  # its recent history first
            self.feeds[symbol] = feed
            self._start_worker(feed)
        if added:
            await self._send_control("SUBSCRIBE", added)
        if self._active_symbols():  # an added symbol lets a connection that waited for one open
            self._any_active.set()
        else:
            self._any_active.clear()
        log.info("watchlist: following %s (added %s; removed %s)", ",".join(self.feeds),
                 ",".join(added) or "none", ",".join(removed) or "none")

    async def _send_control(self, method: str, symbols: list[str]) -> None:
        """SUBSCRIBE / UNSUBSCRIBE ``symbols`` on every open connection: their trade stream (with the
        quote streams riding beside it) on the trade connection, their other quote streams on theirs.
        Quote collection follows: unsubscribed symbols stop (their open second is written), subscribed
        ones start, recording the quote gap since."""
        now = store.now_ms()
        for symbol in symbols:
            if method == "SUBSCRIBE":
                self.quotes.follow(symbol)
            else:
                self.quotes.unfollow(symbol, now, "symbol paused or removed")
        kinds = [self.config.stream, *self._quote_kinds_beside]
        await self._control.send(self._ws, method, [binance.stream_name(s, k) for s in symbols for k in kinds])
        for quote_stream in self._quote_streams:
            await quote_stream.send_control(method, symbols)
