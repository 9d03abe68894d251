"""One WebSocket client: its route, subscriptions, combined flag, and the faults applied to what it is sent."""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import ServerConnection, broadcast

from pairdesk.markets import BOOK_TICKER, FUTURES, SPOT
from pairdesk.sim.clock import wall_us
from pairdesk.sim.control_messages import answer_control
from pairdesk.sim.faults import JUNK_KINDS, RESEND_DEPTH, junk_frame
from pairdesk.sim.ws_routes import WsRoute, parse_stream, route_carries

if TYPE_CHECKING:
    from pairdesk.sim.server import ExchangeSim

logger = logging.getLogger(__name__)

CONTROL_MESSAGES_PER_S = {SPOT: 5, FUTURES: 10}
MAX_WRITE_BUFFER_BYTES = 64 * 2**20  # a client this far behind is cut off as a slow consumer
CLOSE_CODE_TOO_MANY_MESSAGES = 1008  # policy violation, as Binance answers a chatty client
CLOSE_CODE_GOING_AWAY = 1001


class ClientSession:
    """One WebSocket connection: route, subscriptions, combined flag and per-connection faults."""

    def __init__(self, sim: ExchangeSim, ws: ServerConnection, route: WsRoute) -> None:
        self.sim = sim
        self.ws = ws
        self.route = route
        self.combined = route.combined
        self.streams: dict[str, None] = {}  # subscription order, as LIST_SUBSCRIPTIONS answers
        self.wanted: dict[tuple[str, str], str] = {}  # (symbol, kind) -> stream name, deliverable only
        self.opened_monotonic = time.monotonic()
        self.frames_sent = 0
        self.closed = False
        self._gap_remaining = 0
        self._silent_until = 0.0
        self._junk_rotation = 0
        self._recent: deque[bytes] = deque(maxlen=RESEND_DEPTH)  # the last frames sent
        self._incoming: deque[float] = deque()
        self.subscribe(route.streams)

    @property
    def peer(self) -> str:
        """Client address for logs."""
        address = self.ws.remote_address
        return f"{address[0]}:{address[1]}" if address else "?"

    # -- subscriptions and live control messages -----------------------------------------------

    def subscribe(self, streams: Iterable[str]) -> None:
        """Add streams; unknown symbols and wrong futures prefixes are accepted and stay silent."""
        for name in streams:
            self.streams[name] = None
        self._refresh_wanted()

    def unsubscribe(self, streams: Iterable[str]) -> None:
        """Remove streams (unknown names are ignored, as Binance does)."""
        for name in streams:
            self.streams.pop(name, None)
        self._refresh_wanted()

    def _refresh_wanted(self) -> None:
        self.wanted = {}
        for name in self.streams:
            parsed = parse_stream(name)
            if parsed is None or parsed[0] not in self.sim.histories:
                continue  # a stream this exchange never fills: accepted, silent
            if route_carries(self.sim.market, self.route.prefix, parsed[1]):
                self.wanted[parsed] = name
        if self.wanted:
            self.sim.on_subscriber(self)

    def note_incoming(self) -> bool:
        """Count one incoming message; False when the per-second limit is exceeded."""
        now = time.monotonic()
        self._incoming.append(now)
        while self._incoming and self._incoming[0] <= now - 1.0:
            self._incoming.popleft()
        return len(self._incoming) <= CONTROL_MESSAGES_PER_S[self.sim.market]

    def handle_control(self, message: str | bytes) -> dict[str, Any]:
        """Answer one live control message (SUBSCRIBE, ...) with Binance's reply or error."""
        return answer_control(self, message)

    # -- sending, with faults ---------------------------------------------------------------------

    def deliver(self, frame: bytes, event: dict[str, Any], kind: str, stream: str) -> None:
        """Send one market frame, applying the fault switches (see FaultSwitches); a bookTicker
        frame sent goes into the sim's log of sent quotes."""
        if self.closed:
            return
        faults, stats = self.sim.faults, self.sim.counters
        now = time.monotonic()
        if now < self._silent_until:
            stats["silenced_frames"] += 1
            return
        if self._gap_remaining > 0:
            self._gap_remaining -= 1
            stats["gap_frames"] += 1
            return
        self.send(frame)
        self.frames_sent += 1
        stats[f"frames_{kind}"] += 1
        self.sim.frames_by_symbol[(event["s"], kind)] += 1
        if kind == BOOK_TICKER:
            self.sim.quote_log.note(event, wall_us() // 1000)
        count = self.frames_sent
        if faults.resend_every and count % faults.resend_every == 0 and self._recent:
            self.send(self._recent[0])
            stats["resent_frames"] += 1
        self._recent.append(frame)
        if faults.junk_every and count % faults.junk_every == 0:
            junk, text = self._junk(frame, event, kind, stream)
            self.send(junk, text=text)
            stats["junk_frames"] += 1
        if faults.gap_every and count % faults.gap_every == 0:
            self._gap_remaining = faults.gap_size
        if faults.silent_after and faults.silent_for_s and count % faults.silent_after == 0:
            self._silent_until = now + faults.silent_for_s
            stats["silences"] += 1
        if faults.drop_every and count % faults.drop_every == 0:
            self.drop("drop_every")

    def _junk(self, frame: bytes, event: dict[str, Any], kind: str, stream: str) -> tuple[bytes, bool]:
        """The next corrupted frame in the rotation, made from the frame just sent."""
        junk_kind = JUNK_KINDS[self._junk_rotation % len(JUNK_KINDS)]
        self._junk_rotation += 1
        return junk_frame(junk_kind, frame, event, kind, stream, self.combined)

    def send(self, payload: bytes, text: bool = True) -> None:
        """Write one frame now (no await: keeps frame order); cut off hopelessly slow clients."""
        if self.closed:
            return
        broadcast([self.ws], payload, text=text)
        transport = self.ws.transport
        if transport is not None and transport.get_write_buffer_size() > MAX_WRITE_BUFFER_BYTES:
            logger.warning("client %s is %s bytes behind; dropping it", self.peer, transport.get_write_buffer_size())
            self.drop("slow_consumer")

    def drop(self, reason: str) -> None:
        """Close the TCP connection without a WebSocket close frame (client sees code 1006)."""
        if self.closed:
            return
        self.closed = True
        self.sim.counters[f"drops_{reason}"] += 1
        logger.info("dropping client %s abruptly (%s) after %s frames", self.peer, reason, self.frames_sent)
        self.ws.transport.close()  # flushes what is written, then FIN: no close handshake

    async def announce_shutdown(self, grace_s: float) -> None:
        """Send `serverShutdown`, wait `grace_s`, then close the connection."""
        if self.closed:
            return
        self.send(self.sim.wire.shutdown_frame(self.sim.now_us(), self.combined, self.route.micros))
        self.sim.counters["server_shutdowns"] += 1
        await asyncio.sleep(grace_s)
        await self.close(CLOSE_CODE_GOING_AWAY, "server shutdown")

    async def close(self, code: int, reason: str) -> None:
        """Close with a close frame (a clean, announced close)."""
        self.closed = True
        await self.ws.close(code, reason)

    def describe(self) -> dict[str, Any]:
        """Summary for /sim/stats."""
        return {"peer": self.peer, "path": self.ws.request.path if self.ws.request else None,
                "streams": list(self.streams), "combined": self.combined, "frames_sent": self.frames_sent,
                "age_s": round(time.monotonic() - self.opened_monotonic, 3)}

