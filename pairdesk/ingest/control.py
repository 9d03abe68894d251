"""SUBSCRIBE / UNSUBSCRIBE on an open connection, paced under Binance's incoming-message limit
(5 a second per connection: ``CONTROL_MESSAGE_INTERVAL_S`` apart)."""
from __future__ import annotations

import asyncio
import itertools
import logging
import time

import orjson
from websockets.exceptions import ConnectionClosed

from pairdesk.ingest.config import CONTROL_MESSAGE_INTERVAL_S

log = logging.getLogger("data_ingestor")


class ControlChannel:
    """The control messages of one connection: numbered, paced, dropped when it is closed."""

    def __init__(self, label: str = "") -> None:
        self.label = label
        self._ids = itertools.count(1)
        self._last_at = 0.0

    async def send(self, ws, method: str, streams: list[str]) -> bool:
        """Send ``method`` for ``streams`` on ``ws`` (None: no open connection, nothing to do, since
        the next connection's URL names what is followed). True when it went out."""
        wait_s = self._last_at + CONTROL_MESSAGE_INTERVAL_S - time.monotonic()
        if wait_s > 0:
            await asyncio.sleep(wait_s)
        if ws is None or not streams:
            return False
        self._last_at = time.monotonic()
        try:
            await ws.send(orjson.dumps({"method": method, "params": streams, "id": next(self._ids)}).decode())
        except ConnectionClosed:
            return False  # the reconnect builds its URL from the followed symbols
        log.info("%s%s %s", self.label, method, " ".join(streams))
        return True
