"""The ingestor daemon: Binance trades over one WebSocket into the tick store, every trade once.

One combined-stream connection carries every symbol. Trade ids are checked per symbol as they
arrive; a jump opens a gap that a paced REST backfill closes, and after every (re)connect, and at
start-up from the last stored id, what was missed is fetched at once. A connection that is open
but silent, near the 24-hour cut-off, or told ``serverShutdown`` is replaced. Repeated WebSocket
failures while REST answers switch to REST polling until the WebSocket is back.
SQL lives in ``pairdesk.store``, the wire format in ``pairdesk.binance``, the id rule in
``pairdesk.ingest.sequencer``, settings in ``pairdesk.ingest.config``, the command line in ``pairdesk.ingest.cli``.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter

import httpx
from websockets.exceptions import ConnectionClosed

from pairdesk import binance, health, store
from pairdesk.binance import BadFrame, BinanceRest, Control, MarkPrice, Quote, RestError, Trade
from pairdesk.ingest.backfill import HISTORY_REASON, BackfillMixin
from pairdesk.ingest.claims import SymbolClaims
from pairdesk.ingest.collection import CollectionMixin
from pairdesk.ingest.config import (
    BAD_FRAME_SUMMARY_INTERVAL_S,
    HANDOFF_INTERVAL_S,
    HANDOFF_TRADES,
    MAX_WRITER_BACKLOG,
    OWNERSHIP_CHECK_INTERVAL_S,
    POLL_INTERVAL_S,
    QUOTE_FLUSH_INTERVAL_S,
    RATE_WINDOW_S,
    STATUS_INTERVAL_S,
    TAIL_CHECK_AFTER_S,
    WS_FAILURES_BEFORE_POLLING,
    BackfillJob,
    IngestorConfig,
    SymbolFeed,
)
from pairdesk.ingest.connection import run_connection
from pairdesk.ingest.control import ControlChannel
from pairdesk.ingest.funding import FundingFollower
from pairdesk.ingest.quote_stream import QuoteStream
from pairdesk.ingest.quotes import QuoteCollector
from pairdesk.ingest.sequencer import Step, sequence
from pairdesk.ingest.watchlist import WatchlistMixin
from pairdesk.markets import REPLAY_FINISHED

log = logging.getLogger("data_ingestor")


class Ingestor(BackfillMixin, WatchlistMixin, CollectionMixin):
    """One market, one stream kind, many symbols, one connection, one writer.

    Gap filling lives in ``pairdesk.ingest.backfill``, following the stored watchlist in
    ``pairdesk.ingest.watchlist``, pausing and resuming in ``pairdesk.ingest.collection``; all are mixed in
    here and share this object's state.
    """

    def __init__(self, config: IngestorConfig, writer: store.TradeWriter, rest: BinanceRest,
                 claims: SymbolClaims) -> None:
        self.config = config
        self.writer = writer
        self.rest = rest
        self.claims = claims  # which symbols are this ingestor's (store.claim_ownership underneath)
        # alone: the command line's symbols; a shard takes its share of the watchlist at start
        self.feeds = {} if config.shards > 1 else {s: SymbolFeed(s) for s in config.symbols}
        self.transport = config.transport
        self.state = "starting"
        self.reconnects = 0
        self.last_error = ""  # why the last connection ended, until trades flow again
        self.bad_frames: Counter[str] = Counter()
        self._bad_frames_logged: Counter[str] = Counter()
        self._pending: list[Trade] = []
        self._last_trade_monotonic = time.monotonic()
        self._stop = asyncio.Event()
        self._polling: asyncio.Task | None = None
        self._replace_reason: str | None = None
        self._trades_on_connection = 0
        self._workers: dict[str, asyncio.Task] = {}  # backfill worker per followed symbol
        self._ws = None  # the open connection, for SUBSCRIBE / UNSUBSCRIBE
        self._control = ControlChannel()
        # Top of book (and mark price) beside the trades: the quote streams on the trade route ride on
        # the trade connection, the others get a connection per route (futures bookTicker: /public).
        self.quotes = QuoteCollector(writer)
        beside, other_routes = binance.connections_for(config.market, config.stream) if config.quotes else ([], {})
        self._quote_kinds_beside = beside
        self._quote_streams = [QuoteStream(self, route, kinds) for route, kinds in other_routes.items()]
        spec = binance.MARKET_SPECS[config.market]
        self.funding = FundingFollower(self) if config.quotes and spec.funding is not None else None
        self._watchlist_version: int | None = None
        self._unfollowed: set[str] = set()  # frames of these may still be in flight after UNSUBSCRIBE
        self._collection_version: int | None = None
        self._any_active = asyncio.Event()  # set while some followed symbol is not paused
        self.fatal: str | None = None  # why the ingestor stopped by itself (its symbols could not be kept)

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Run until ``stop()``: connection, backfill workers, status heartbeat."""
        await self._load_store_state()
        tasks = [asyncio.create_task(self._handoff_loop(), name="handoff"),
                 asyncio.create_task(self._status_loop(), name="status"),
                 asyncio.create_task(self._ownership_loop(), name="ownership"),
                 asyncio.create_task(self._bad_frame_summary_loop(), name="bad-frames"),
                 asyncio.create_task(self._watchlist_loop(), name="watchlist"),
                 asyncio.create_task(self._collection_loop(), name="collection"),
                 asyncio.create_task(self._quote_flush_loop(), name="quote-flush")]
        tasks += [asyncio.create_task(q.run(), name=f"quotes{q.route}") for q in self._quote_streams]
        if self.funding is not None:
            tasks.append(asyncio.create_task(self.funding.run(), name="funding"))
        for feed in self.feeds.values():
            self._start_worker(feed)
        main = self._poll_forever() if self.config.transport == "rest" else self._stream_forever()
        tasks.append(asyncio.create_task(main, name="transport"))
        stopper = asyncio.create_task(self._stop.wait(), name="stop")
        done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
        crashed = [t for t in done if t is not stopper]
        workers = list(self._workers.values())
        for task in [stopper, *tasks, *workers] + ([self._polling] if self._polling else []):
            task.cancel()
        await asyncio.gather(*tasks, *workers, return_exceptions=True)
        self._handoff()
        self.quotes.stop(store.now_ms(), "ingestor stopped")
        self.state = "stopped"
        self.writer.call(self._write_status)
        for task in crashed:  # a task that ends by itself is a bug: stop loudly, after saving what we have
            raise RuntimeError(f"task {task.get_name()} ended unexpectedly") from task.exception()

    def stop(self) -> None:
        self._stop.set()

    async def _load_store_state(self) -> None:
        def seed(conn):  # the command line says what to follow
            if store.is_url(self.config.db):  # PostgreSQL: a watchlist shared by every ingestor; each adds its own
                store.add_to_watchlist(conn, self.config.symbols)
            else:  # a SQLite file has this one ingestor: its command line is the watchlist
                store.replace_watchlist(conn, self.config.symbols)
            return store.read_watchlist(conn)

        rows = await asyncio.wrap_future(self.writer.call(seed))
        if store.is_url(self.config.db):  # what else of the shared watchlist is this one's to take
            chosen = await asyncio.to_thread(self.claims.choose, [s for s, _ in rows], list(self.feeds))
            self.feeds = {s: self.feeds.get(s) or SymbolFeed(s) for s in chosen}
            if self.config.shards > 1:
                log.info("shard: following %s of the watchlist's %d symbols", ",".join(chosen) or "none yet",
                         len(rows))

        def load(conn):
            version = max((updated for _, updated in store.read_watchlist(conn)), default=None)
            last_ids = {s: store.last_trade_id(conn, s) for s in self.feeds}
            quotes_until = {s: store.last_quote_ms(conn, s) for s in self.feeds}
            return last_ids, quotes_until, store.list_open_gaps(conn), version, store.read_collection(conn)

        last_ids, quotes_until, gaps, self._watchlist_version, control = await asyncio.wrap_future(
            self.writer.call(load))
        for row in control:  # paused before this start: stays paused; resumed: nothing to do
            if row.paused and row.symbol in self.feeds:
                self.feeds[row.symbol].paused = True
                log.info("%s: collection paused (resume it from the sidebar or POST /api/start)", row.symbol)
        self._collection_version = max((row.changed_ms for row in control), default=None)
        if self._active_symbols():
            self._any_active.set()
        for symbol in self._active_symbols():  # the first quote records the gap since the stored ones
            last = quotes_until[symbol]
            self.quotes.follow(symbol, None if last is None else last + 1000)
        for symbol, last_id in last_ids.items():
            self.feeds[symbol].last_id = last_id
            if last_id is not None:
                log.info("%s: resuming after stored trade id %d", symbol, last_id)
        for symbol, from_id, to_id, reason in gaps:
            if symbol not in self.feeds:
                continue
            if reason == HISTORY_REASON:  # a history fetch cut short: resumed as one
                self.feeds[symbol].jobs.put_nowait(BackfillJob(from_id, to_id, reason, history=True))
            else:
                self.feeds[symbol].open_gaps += 1
                self.feeds[symbol].jobs.put_nowait(BackfillJob(from_id, to_id, "open gap"))

    # ------------------------------------------------------------------ WebSocket transport

    async def _stream_forever(self) -> None:
        failures = 0  # connections in a row that failed or delivered no trade
        while True:
            if not self._active_symbols():  # every symbol paused: no connection until one resumes
                self.state = "live"
                await self._any_active.wait()
            symbols = self._active_symbols()
            url = binance.streams_url(self.config.ws_url, self.config.market,
                                      [self.config.stream, *self._quote_kinds_beside], symbols)
            if self._polling is None:  # while REST polling delivers, the status says so
                self.state = "connecting"
            self._trades_on_connection = 0
            reason = await run_connection(url, self._session)
            if self._quote_kinds_beside:
                self.quotes.interrupt(self._active_symbols(), store.now_ms(), reason)
            self.last_error = reason
            if REPLAY_FINISHED in reason:  # nothing will come: no REST polling, just look again now and then
                self.state = "finished"
                self.reconnects += 1
                await asyncio.sleep(self.config.reconnect_delay_s(WS_FAILURES_BEFORE_POLLING + 3))
                continue
            failures = 0 if self._trades_on_connection else failures + 1
            if failures >= WS_FAILURES_BEFORE_POLLING and self._polling is None and await self.rest.ping():
                log.warning("WebSocket failed %d times in a row but REST answers: polling REST until the "
                            "WebSocket delivers trades again", failures)
                self._polling = asyncio.create_task(self._poll_forever(), name="rest-poll")
            self.reconnects += 1
            if self._polling is None:
                self.state = "disconnected"
            delay = self.config.reconnect_delay_s(failures)
            log.info("reconnecting in %.1f s: %s", delay, reason)
            await asyncio.sleep(delay)

    async def _session(self, ws) -> str:
        self._on_connected()
        self._ws = ws
        try:
            return await self._consume(ws)
        finally:
            self._ws = None

    def _on_connected(self) -> None:
        if self._polling is None:
            self.state = "live"
        self._last_trade_monotonic = time.monotonic()
        for feed in self.feeds.values():
            feed.first_live_id = None
            if feed.last_id is not None and not feed.paused:  # fetch what was missed now, not at the next live trade
                feed.jobs.put_nowait(BackfillJob(feed.last_id + 1, None, "catch-up after connect"))

    async def _consume(self, ws) -> str:
        """Read frames until the connection must be replaced; returns why."""
        self._replace_reason = None
        watchdog = asyncio.create_task(self._watch_connection(ws))
        kind = self.config.stream
        try:
            async for raw in ws:
                try:
                    received_ms = store.now_ms()
                    item = binance.parse_message(raw, kind, received_ms)
                except BadFrame as exc:
                    self._count_bad_frame(exc)
                    continue
                if type(item) is Trade:
                    self._on_trade(item)
                    if self.writer.backlog > MAX_WRITER_BACKLOG:
                        await self._wait_for_writer()
                elif type(item) is Quote:
                    self.quotes.on_quote(item, received_ms)
                elif type(item) is MarkPrice:
                    self.quotes.on_mark(item)
                elif type(item) is Control:
                    reason = self._on_control(item)
                    if reason:
                        return reason
            why = f"code {ws.close_code}" + (f": {ws.close_reason}" if ws.close_reason else "")
            return self._replace_reason or f"server closed the connection ({why})"
        except ConnectionClosed as exc:
            return self._replace_reason or f"connection lost ({exc})"
        finally:
            watchdog.cancel()

    async def _watch_connection(self, ws) -> None:
        """Close a connection that is silent too long or too old, saying why in ``_replace_reason``."""
        opened = time.monotonic()
        warn_after_s = self.config.silence_timeout_s / 3
        while True:
            await asyncio.sleep(min(1.0, warn_after_s))
            now = time.monotonic()
            if not self._active_symbols():  # every stream unsubscribed: silence is expected
                self._last_trade_monotonic = now
            silent_s = now - self._last_trade_monotonic
            if silent_s >= self.config.silence_timeout_s:
                self._replace_reason = (f"no trade frame for {silent_s:.1f} s on an open connection "
                                        f"(a wrong stream path or market stays silent)")
                log.warning("%s: replacing it", self._replace_reason)
                self.state = "silent"
                await ws.close(1000, "silent")
                return
            if now - opened >= self.config.max_connection_age_s:
                self._replace_reason = f"connection is {now - opened:.0f} s old (Binance cuts at 24 h)"
                log.info("%s: replacing it", self._replace_reason)
                await ws.close(1000, "age")
                return
            if self._polling is None:
                self.state = "silent" if silent_s >= warn_after_s else "live"
            self._check_quiet_tails(now)

    def _check_quiet_tails(self, now: float) -> None:
        for feed in self.feeds.values():
            if not feed.tail_checked and feed.last_id is not None and not feed.paused and \
                    now - feed.last_live_monotonic >= TAIL_CHECK_AFTER_S:
                feed.tail_checked = True
                feed.jobs.put_nowait(BackfillJob(feed.last_id + 1, None, "quiet stream: missed trades at the tail"))

    def _on_control(self, control: Control) -> str | None:
        if control.kind == "server_shutdown":
            log.warning("server announced shutdown: reconnecting now")
            return "serverShutdown"
        if control.kind == "error":
            log.warning("exchange error message: %s", control.payload)
        return None

    def _count_bad_frame(self, exc: BadFrame) -> None:
        self.bad_frames[exc.kind] += 1
        if self.bad_frames[exc.kind] == 1:
            log.warning("bad frame skipped (%s); further ones are counted, not logged", exc)

    # ------------------------------------------------------------------ trades

    def _on_trade(self, trade: Trade) -> None:
        feed = self.feeds.get(trade.symbol)
        if feed is None:
            if trade.symbol not in self._unfollowed:
                self._count_bad_frame(BadFrame("unknown_symbol", trade.symbol))
            return
        if feed.paused:  # in flight when it was UNSUBSCRIBEd: the resume records or fetches it
            return
        now = store.now_ms()
        feed.messages += 1
        feed.last_message_ms = now
        self._last_trade_monotonic = feed.last_live_monotonic = time.monotonic()
        feed.tail_checked = False
        first_on_connection = feed.first_live_id is None
        if first_on_connection:
            feed.first_live_id = trade.trade_id
            self.last_error = ""
            if self._polling is not None:
                self._stop_polling()
        self._trades_on_connection += 1
        if feed.last_id is None and first_on_connection and self.config.backfill_depth > 0 and trade.trade_id > 0:
            # a symbol new to the database: its recent history first, so every panel has data at once
            feed.jobs.put_nowait(BackfillJob(max(0, trade.trade_id - self.config.backfill_depth), trade.trade_id - 1,
                                             HISTORY_REASON, history=True))
        seen = sequence(feed.last_id, trade.trade_id)
        if seen.step is Step.DUPLICATE:
            feed.duplicates += 1  # the store keeps one
        else:
            if seen.gap is not None:
                self._open_gap(feed, *seen.gap, "missed before the stream (re)started" if first_on_connection
                               else "id jump in live stream")
            feed.last_id = trade.trade_id
            feed.last_trade_ms = trade.ts_ms
        feed.trades += 1
        self._pending.append(trade)
        if len(self._pending) >= HANDOFF_TRADES:
            self._handoff()

    async def _wait_for_writer(self) -> None:
        """Backpressure: let the writer catch up; meanwhile TCP slows the sender, not our memory."""
        while self.writer.backlog > MAX_WRITER_BACKLOG // 2:
            await asyncio.sleep(0.01)
        self._last_trade_monotonic = time.monotonic()  # waiting on ourselves is not a silent stream

    def _handoff(self) -> None:
        if self._pending:
            self.writer.submit(self._pending)
            self._pending = []

    async def _quote_flush_loop(self) -> None:
        while True:
            await asyncio.sleep(QUOTE_FLUSH_INTERVAL_S)
            self.quotes.flush(store.now_ms())

    async def _handoff_loop(self) -> None:
        while True:
            await asyncio.sleep(HANDOFF_INTERVAL_S)
            self._handoff()

    def _store_fetched(self, feed: SymbolFeed, trades: list[Trade]) -> None:
        if not trades:
            return
        self.writer.submit(trades)
        newest = trades[-1]
        if feed.last_id is None or newest.trade_id > feed.last_id:
            feed.last_id = newest.trade_id
            feed.last_trade_ms = newest.ts_ms

    # ------------------------------------------------------------------ REST polling transport

    async def _poll_forever(self) -> None:
        """Poll the gap-filling endpoint from the last stored id about every second."""
        self.transport = "rest"
        self.state = "polling"
        log.info("polling REST %s every %.0f s", self.config.rest_url, POLL_INTERVAL_S)
        while True:
            started = time.monotonic()
            for feed in [f for f in self.feeds.values() if not f.paused]:
                try:
                    await self._poll_once(feed)
                except (httpx.HTTPError, RestError) as exc:
                    log.warning("%s: REST poll failed: %s", feed.symbol, exc)
                    self.state = "disconnected"
            await asyncio.sleep(max(0.0, POLL_INTERVAL_S - (time.monotonic() - started)))

    async def _poll_once(self, feed: SymbolFeed) -> None:
        if feed.last_id is None:
            page = await self.rest.recent(feed.symbol)
        else:
            page = await self.rest.fetch_from(feed.symbol, feed.last_id + 1)
        page = [t for t in page if feed.last_id is None or t.trade_id > feed.last_id]
        if page:
            feed.messages += len(page)
            feed.trades += len(page)
            feed.last_message_ms = store.now_ms()
            self._store_fetched(feed, page)
        self.state = "polling"

    def _stop_polling(self) -> None:
        self._polling.cancel()
        self._polling = None
        self.transport = "ws"
        self.state = "live"
        log.info("WebSocket delivers trades again: stopped polling REST")

    # ------------------------------------------------------------------ status

    async def _ownership_loop(self) -> None:
        """Keep owning the followed symbols (``ownership.check``: reconnects after a server restart); when
        they cannot be kept, stop: another ingestor may be writing them now."""
        while True:
            await asyncio.sleep(OWNERSHIP_CHECK_INTERVAL_S)
            try:
                await asyncio.to_thread(self.claims.ownership.check)
            except store.StoreError as exc:
                log.error("%s", exc)
                self.fatal = str(exc)
                self.stop()
                await asyncio.Future()  # cancelled with the others: ending by itself would read as a crash

    async def _status_loop(self) -> None:
        while True:
            self.writer.call(self._write_status)
            await asyncio.sleep(STATUS_INTERVAL_S)

    def _write_status(self, conn) -> None:
        bad = sum(self.bad_frames.values())
        detail = ", ".join(f"{k}={v}" for k, v in sorted(self.bad_frames.items()))
        now = store.now_ms()
        for feed in self.feeds.values():
            rate, duplicate_rate = self._rates(feed)
            row = dict(state=health.PAUSED_STATE if feed.paused else self.state, transport=self.transport, last_trade_ms=feed.last_trade_ms,
                       last_trade_id=feed.last_id, last_message_ms=feed.last_message_ms, messages=feed.messages,
                       trades=feed.trades, bad_frames=bad, reconnects=self.reconnects, open_gaps=feed.open_gaps,
                       message_rate=rate, detail=detail, last_error=self.last_error, duplicates=feed.duplicates,
                       duplicate_rate=duplicate_rate)
            store.upsert_status(conn, feed.symbol, **row)
            self._log_health_change(feed, health.feed_health(feed.symbol, {**row, "updated_ms": now}, now))

    @staticmethod
    def _rates(feed: SymbolFeed) -> tuple[float, float]:
        """Messages and already-stored trades per second over the last RATE_WINDOW_S."""
        now = time.monotonic()
        marks = feed.rate_marks
        marks.append((now, feed.messages, feed.duplicates))
        while len(marks) > 2 and now - marks[1][0] >= RATE_WINDOW_S:
            marks.popleft()
        then, messages, duplicates = marks[0]
        span = now - then
        if span <= 0:
            return 0.0, 0.0
        return (feed.messages - messages) / span, (feed.duplicates - duplicates) / span

    def _log_health_change(self, feed: SymbolFeed, light: health.FeedHealth) -> None:
        """Log a feed's light when its colour changes, with the same reason the API and dashboard show."""
        if light.colour != feed.health_colour:
            level = logging.INFO if light.colour in ("green", "grey") else logging.WARNING
            log.log(level, "%s feed %s (%s): %s", feed.symbol, light.label, light.colour, light.reason)
            feed.health_colour = light.colour

    async def _bad_frame_summary_loop(self) -> None:
        while True:
            await asyncio.sleep(BAD_FRAME_SUMMARY_INTERVAL_S)
            if self.bad_frames != self._bad_frames_logged:
                log.info("bad frames skipped so far: %s",
                         ", ".join(f"{k}={v}" for k, v in sorted(self.bad_frames.items())))
                self._bad_frames_logged = Counter(self.bad_frames)
