"""One WebSocket connection's life, the same for the trade connection and the quote connections:
open it with the ingestor's settings, run a session on it, and say in one line why it ended."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from pairdesk import health

log = logging.getLogger("data_ingestor")

# Binance pings every 20 s (spot) and drops a client silent for a minute; frames stay well under 1 MiB.
CONNECT_OPTIONS = dict(open_timeout=10, ping_interval=20, ping_timeout=60, close_timeout=1, max_queue=4096,
                       max_size=2**20)


async def run_connection(url: str, session: Callable[[ClientConnection], Awaitable[str]], label: str = "") -> str:
    """Connect to ``url``, run ``session(ws)`` until it returns why the connection must end, and
    return that reason, or why connecting or the connection failed (``label`` prefixes both)."""
    try:
        async with connect(url, **CONNECT_OPTIONS) as ws:
            log.info("%sconnected to %s", label, url)
            return await session(ws)
    except (OSError, InvalidHandshake, TimeoutError) as exc:
        return f"{label}{health.UNREACHABLE_PREFIX}: {exc or type(exc).__name__}"
    except ConnectionClosed as exc:
        return f"{label}connection closed ({exc})"
