"""A second connection for quote streams that travel on another route than the trades.

USD-M futures sends bookTicker on ``/public`` while aggTrade and markPrice travel on ``/market``
(``pairdesk.binance.markets``): the bookTicker streams get a connection of their own, with its own
silence watchdog, reconnects and SUBSCRIBE / UNSUBSCRIBE. Every end of the connection interrupts
the quote bars of its symbols: the time until the next update is a quote gap.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from websockets.exceptions import ConnectionClosed

from pairdesk import binance, store
from pairdesk.binance import BadFrame, Control, MarkPrice, Quote
from pairdesk.ingest.connection import run_connection
from pairdesk.ingest.control import ControlChannel

if TYPE_CHECKING:
    from pairdesk.ingest.daemon import Ingestor

log = logging.getLogger("data_ingestor")


class QuoteStream:
    """The quote streams ``kinds`` of the ingestor's active symbols on the route ``route``."""

    def __init__(self, ingestor: Ingestor, route: str, kinds: list[str]) -> None:
        self.ingestor = ingestor
        self.route = route
        self.kinds = kinds
        self.reconnects = 0
        self.last_error = ""
        self._ws = None
        self._frames_on_connection = 0
        self._last_frame_monotonic = time.monotonic()
        self._control = ControlChannel("quotes: ")

    async def run(self) -> None:
        config = self.ingestor.config
        failures = 0
        while True:
            if not self.ingestor._active_symbols():
                await self.ingestor._any_active.wait()
            url = binance.streams_url(config.ws_url, config.market, self.kinds, self.ingestor._active_symbols())
            self._frames_on_connection = 0
            reason = await run_connection(url, self._session, "quotes: ")
            self.ingestor.quotes.interrupt(self.ingestor._active_symbols(), store.now_ms(), reason)
            failures = 0 if self._frames_on_connection else failures + 1
            self.last_error = reason
            self.reconnects += 1
            delay = config.reconnect_delay_s(failures)
            log.info("quotes: reconnecting in %.1f s: %s", delay, reason)
            await asyncio.sleep(delay)

    async def _session(self, ws) -> str:
        self._ws = ws
        try:
            return await self._consume(ws)
        finally:
            self._ws = None

    async def _consume(self, ws) -> str:
        replace: list[str] = []
        watchdog = asyncio.create_task(self._watch(ws, replace))
        collector = self.ingestor.quotes
        kind = self.ingestor.config.stream
        self._last_frame_monotonic = time.monotonic()
        try:
            async for raw in ws:
                try:
                    received_ms = store.now_ms()
                    item = binance.parse_message(raw, kind, received_ms)
                except BadFrame as exc:
                    self.ingestor._count_bad_frame(exc)
                    continue
                if type(item) is Quote:
                    self._frames_on_connection += 1
                    self._last_frame_monotonic = time.monotonic()
                    collector.on_quote(item, received_ms)
                elif type(item) is MarkPrice:
                    self._frames_on_connection += 1
                    self._last_frame_monotonic = time.monotonic()
                    collector.on_mark(item)
                elif type(item) is Control and item.kind == "server_shutdown":
                    return "serverShutdown on the quote connection"
            return replace[0] if replace else f"server closed the quote connection (code {ws.close_code})"
        except ConnectionClosed as exc:
            return replace[0] if replace else f"quote connection lost ({exc})"
        finally:
            watchdog.cancel()

    async def _watch(self, ws, replace: list[str]) -> None:
        """Close the connection when no quote frame came for the silence timeout (a wrong route
        completes the handshake and then sends nothing)."""
        timeout_s = self.ingestor.config.silence_timeout_s
        while True:
            await asyncio.sleep(min(1.0, timeout_s / 3))
            now = time.monotonic()
            if not self.ingestor._active_symbols():
                self._last_frame_monotonic = now
            silent_s = now - self._last_frame_monotonic
            if silent_s >= timeout_s:
                replace.append(f"no quote frame for {silent_s:.1f} s on the open {self.route or '/'} connection "
                               f"(a wrong stream route stays silent)")
                log.warning("quotes: %s: replacing it", replace[0])
                await ws.close(1000, "silent")
                return

    async def send_control(self, method: str, symbols: list[str]) -> None:
        """SUBSCRIBE / UNSUBSCRIBE this connection's streams of ``symbols``."""
        streams = [binance.stream_name(s, kind) for s in symbols for kind in self.kinds]
        await self._control.send(self._ws, method, streams)
