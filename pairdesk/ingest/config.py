"""The ingestor's settings and its per-symbol state."""
from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from pairdesk.ingest.backoff import backoff_delay_s
from pairdesk.markets import LOCAL_SOURCE

WS_FAILURES_BEFORE_POLLING = 3
POLL_INTERVAL_S = 1.0
HANDOFF_INTERVAL_S = 0.05  # hand received trades to the writer at least this often
HANDOFF_TRADES = 1000  # ... or as soon as this many are waiting
MAX_WRITER_BACKLOG = 50_000  # stop reading the socket while this many trades wait for a commit
STATUS_INTERVAL_S = 1.0
OWNERSHIP_CHECK_INTERVAL_S = 2.0  # how often the symbols' ownership is checked (and retaken after a server restart)
RATE_WINDOW_S = 10.0  # message and duplicate rates are averaged over this long (a 1 s count of a calm market is often 0)
QUOTE_FLUSH_INTERVAL_S = 0.25  # closed quote seconds go to the writer this often
BAD_FRAME_SUMMARY_INTERVAL_S = 60.0
BACKFILL_RETRIES = 3
# A symbol quiet this long on an open connection: ask REST once whether trades were skipped at
# the tail (a skipped frame shows as an id jump only when the next trade arrives).
TAIL_CHECK_AFTER_S = 5.0
WATCHLIST_POLL_INTERVAL_S = 1.0
CONTROL_MESSAGE_INTERVAL_S = 0.25  # Binance accepts 5 incoming messages per second per connection
DEFAULT_SILENCE_TIMEOUT_S = 15.0  # BTC and ETH trade several times a second: 15 s of nothing is a broken feed
DEFAULT_BACKFILL_DEPTH = 50_000
DEFAULT_MAX_CONNECTION_AGE_S = 23.5 * 3600  # Binance cuts every connection at 24 h


@dataclass
class IngestorConfig:
    db: str
    symbols: list[str]
    market: str
    stream: str
    ws_url: str
    rest_url: str
    transport: str = "ws"
    silence_timeout_s: float = DEFAULT_SILENCE_TIMEOUT_S
    backfill_depth: int = DEFAULT_BACKFILL_DEPTH
    max_connection_age_s: float = DEFAULT_MAX_CONNECTION_AGE_S
    alerts: bool = True
    quotes: bool = True  # follow top of book (and, on futures, mark price and funding) beside the trades
    dashboard_url: str | None = None  # what alert notifications link to (None: $PAIRDESK_DASHBOARD_URL or the default)
    shards: int = 1  # ingestors sharing the database (PostgreSQL): this one takes its share of the watchlist
    # attempt number (0 = first failure in a row) -> seconds to wait before reconnecting
    reconnect_delay_s: Callable[[int], float] = backoff_delay_s

    @property
    def source(self) -> str:
        """"local" when the exchange is on this machine (exchange_sim): the dashboard says DEMO."""
        host = self.ws_url.split("//", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
        return LOCAL_SOURCE if host in ("127.0.0.1", "localhost", "[::1]") else "binance"


@dataclass
class SymbolFeed:
    """What the ingestor knows about one symbol's stream."""

    symbol: str
    last_id: int | None = None  # highest trade id stored or on its way to the store
    first_live_id: int | None = None  # first id received on the current connection
    last_trade_ms: int | None = None
    last_message_ms: int | None = None
    messages: int = 0
    trades: int = 0
    duplicates: int = 0
    open_gaps: int = 0
    # (monotonic time, messages, duplicates) at the status writes of the last RATE_WINDOW_S: the rates
    rate_marks: deque = field(default_factory=deque)
    last_live_monotonic: float = field(default_factory=time.monotonic)  # when its last live trade came
    tail_checked: bool = False  # REST asked once since that trade for anything after it
    health_colour: str | None = None  # the light last logged (pairdesk.health)
    paused: bool = False  # collection paused (store.set_collection): not subscribed, trades ignored
    jobs: asyncio.Queue = field(default_factory=asyncio.Queue)


@dataclass(frozen=True)
class BackfillJob:
    """Fetch ids from_id..to_id (to_id None: up to the present) for one symbol."""

    from_id: int
    to_id: int | None
    reason: str
    history: bool = False  # the trades before a new symbol's first live trade (none missing: no gap)
