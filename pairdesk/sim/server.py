"""The exchange: one market on one port, WebSocket streams and REST, fed by the model, a replay or a blast.

Trades, top-of-book updates (`@bookTicker`) and, on USD-M futures, mark prices (`@markPrice@1s`)
travel the same path: the model or the replay yields them, `_record` keeps the ground truth,
`_publish` sends each to the sessions that want it, where the fault switches apply.
"""
from __future__ import annotations

import asyncio
import dataclasses
import http
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable
from typing import Any
from urllib.parse import urlsplit

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from pairdesk.history import replay_source
from pairdesk.markets import AGG_TRADE, BOOK_TICKER, FUTURES, MARK_PRICE, REPLAY_FINISHED, SPOT, TRADE
from pairdesk.sim.blast import blast, pregenerate_fills, pregenerate_quotes
from pairdesk.sim.clock import wall_us
from pairdesk.sim.config import DEFAULT_SYMBOLS, SimConfig
from pairdesk.sim.continuation import continue_tape
from pairdesk.sim.faults import FAULT_SWITCH_NAMES
from pairdesk.sim.fixed import units_at
from pairdesk.sim.funding import FundingHistory
from pairdesk.sim.http_body import BodyReadingConnection
from pairdesk.sim.listings import make_spec
from pairdesk.sim.marks import MarkPricer
from pairdesk.sim.model import MarketModel, planted_pairs
from pairdesk.sim.quotes import BookQuote, SentQuote, SentQuoteLog
from pairdesk.sim.replay import ReplayFeed, load_tape
from pairdesk.sim.rest_routes import BinanceRest
from pairdesk.sim.sessions import (
    CLOSE_CODE_GOING_AWAY,
    CLOSE_CODE_TOO_MANY_MESSAGES,
    CONTROL_MESSAGES_PER_S,
    ClientSession,
)
from pairdesk.sim.sim_api import SimApi, validate_control
from pairdesk.sim.tape_history import Fill, SymbolHistory
from pairdesk.sim.wire import MarketRecord, WireFormat
from pairdesk.sim.ws_routes import parse_ws_path

logger = logging.getLogger(__name__)

# WebSocket behaviour per market (BINANCE.md: keep-alive, limits).
PING_INTERVAL_S = {SPOT: 20.0, FUTURES: 180.0}
PING_TIMEOUT_S = {SPOT: 60.0, FUTURES: 600.0}
CLOSE_TIMEOUT_S = 1.0  # closing handshake wait; short so SIGTERM exits promptly
TICK_S = 0.01  # how often the model and replay loops publish
REPLAY_CLOSE_AFTER_S = 2.0  # after the last replayed frame, before the connections are closed

MarketEvent = tuple[str, str, MarketRecord]  # (stream kind, symbol, record) to publish


class ExchangeSim:
    """A Binance look-alike for one market on one port: WebSocket streams, REST, /sim/ control.

    Construct with a `SimConfig`, or with its field names (and FaultSwitches names) as keywords::

        ExchangeSim(market="futures", rate_per_s=200, seed=7, drop_every=100)

    `await start()` binds and starts trading; `port` is then known. `await stop()` closes all.
    `history()`, `stats()` and `control()` may be called from any thread.
    """

    def __init__(self, config: SimConfig | None = None, **options: Any) -> None:
        config = dataclasses.replace(config) if config else SimConfig()
        config.faults = dataclasses.replace(config.faults)
        fault_options = {k: options.pop(k) for k in list(options) if k in FAULT_SWITCH_NAMES}
        config = dataclasses.replace(config, **options)
        config.symbols = tuple(s.upper() for s in config.symbols)
        config.faults.update(fault_options)
        config.validate()
        self.config = config
        self.market = config.market
        self.faults = config.faults
        self.wire = WireFormat(config.market, config.extra_fields)
        self.counters: Counter[str] = Counter()
        self.frames_by_symbol: Counter[tuple[str, str]] = Counter()  # (symbol, kind) -> frames sent
        self.quote_log = SentQuoteLog()
        self.marks: MarkPricer | None = None  # futures: mark prices and funding
        self._last_quote: dict[str, BookQuote] = {}
        self.histories: dict[str, SymbolHistory] = {}
        self.sessions: set[ClientSession] = set()
        self.host = config.host
        self.port = config.port
        self.replay_stream: str | None = None  # with replay_files: the stream kind the files hold
        self.blast_result: dict[str, Any] | None = None  # timings of the blast, once sent
        self.rest = BinanceRest(self)
        self.api = SimApi(self)
        self._rng = random.Random(config.seed)
        self._model: MarketModel | None = None
        self._replay: ReplayFeed | None = None
        self.replay_finished = False  # set once the replay has sent everything: connections are closed
        self._server: Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._trading_task: asyncio.Task[None] | None = None
        self._running = asyncio.Event()  # set while trading is not paused
        self._subscribed = asyncio.Event()
        self._paused = config.paused
        self._blast_claimed = False
        self._blast_quotes: dict[str, list[BookQuote]] = {}

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the trades source, bind the port and start trading."""
        self._loop = asyncio.get_running_loop()
        self._prepare_market()
        ping_interval = self.config.ping_interval_s or PING_INTERVAL_S[self.market]
        ping_timeout = self.config.ping_timeout_s or PING_TIMEOUT_S[self.market]
        self._server = await serve(
            self._handle_connection, self.host, self.config.port,
            process_request=self._process_request, create_connection=BodyReadingConnection,
            compression=None, ping_interval=ping_interval, ping_timeout=ping_timeout,
            close_timeout=CLOSE_TIMEOUT_S,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        if not self._paused:
            self._running.set()
        if not self.config.blast:
            self._trading_task = asyncio.create_task(self._trade_forever(), name="exchange_sim.trading")
        logger.info("%s exchange on %s:%s, symbols %s, %s", self.market, self.host, self.port,
                    ",".join(self.histories), self.mode())

    async def stop(self) -> None:
        """Stop trading, close every connection (close frame 1001) and the listening socket."""
        tasks = [t for t in (self._trading_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        logger.info("stopped")

    async def __aenter__(self) -> ExchangeSim:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def ws_url(self, path: str) -> str:
        """`ws://host:port<path>`."""
        return f"ws://{self.host}:{self.port}{path}"

    def http_url(self, path: str) -> str:
        """`http://host:port<path>`."""
        return f"http://{self.host}:{self.port}{path}"

    @property
    def paused(self) -> bool:
        """Whether trading is paused (by --paused or the `paused` control)."""
        return self._paused

    def mode(self) -> str:
        """What drives the market, in words (for the start log and /sim/stats)."""
        if self.config.replay_files:
            return f"replaying {len(self.config.replay_files)} file(s) at speed {self.config.speed:g}"
        if self.config.blast:
            return f"blast of {self.config.blast} trades per symbol"
        return f"model at {self.config.rate_per_s:g} trades/s, {self.config.quote_rate_per_s:g} requotes/s per symbol"

    def _prepare_market(self) -> None:
        """Histories per symbol, the model or replay feed (blast: pre-filled history), futures funding."""
        self._prepare_feed()
        if self.market == FUTURES:
            specs = [history.spec for history in self.histories.values()]
            start_ms = self.now_us() // 1000
            self.marks = MarkPricer(specs, FundingHistory(specs, start_ms, self.config.seed), start_ms)

    def _prepare_feed(self) -> None:
        if self.config.replay_files:
            tape = load_tape(self.config.replay_files, self.market)
            self.replay_stream = tape.stream
            self.histories = {symbol: SymbolHistory(spec) for symbol, spec in tape.specs.items()}
            if set(self.config.symbols) - set(tape.specs) and self.config.symbols != DEFAULT_SYMBOLS:
                logger.warning("replay: --symbols ignored; the files hold %s", ",".join(tape.specs))
            if self.config.blast:
                self._record(tape.fills, now_us=None)
            else:
                self._replay = ReplayFeed(tape.items(), self.config.speed)
            return
        specs = [make_spec(self.market, symbol) for symbol in self.config.symbols]
        now_us = wall_us()
        start_us = now_us - int(self.config.history_s * 1e6) if not self.config.blast else now_us
        if self.config.continue_from is not None:
            specs, start_us = continue_tape(specs, replay_source.source_path(self.config.continue_from), self.market, start_us,
                                             now_us)
        self.histories = {spec.symbol: SymbolHistory(spec) for spec in specs}
        self._model = MarketModel(specs, self.config.rate_per_s, self._rng, start_us, self.config.quote_rate_per_s)
        if self.config.blast:
            self._pregenerate(self.config.blast, now_us)
        elif start_us < now_us:  # the trading behind the live tape: in the histories REST serves
            self._record(self._model.take_events(now_us), now_us=None)
            logger.info("history: %s trades behind the live tape, from %.0f s ago",
                        sum(len(h) for h in self.histories.values()), (now_us - start_us) / 1e6)


    def _pregenerate(self, per_symbol: int, now_us: int) -> None:
        """Fill the history with `per_symbol` model trades per symbol, the last one just now."""
        assert self._model is not None
        started = time.perf_counter()
        fills = pregenerate_fills(self._model, list(self.histories), per_symbol, now_us)
        self._record(fills, now_us=None)
        self._blast_quotes = pregenerate_quotes(fills, {s: h.spec for s, h in self.histories.items()},
                                                self.config.blast_quotes)
        self._model.restart(wall_us())
        logger.info("blast: generated %s trades in %.2f s", len(fills), time.perf_counter() - started)

    # -- trading ----------------------------------------------------------------------------------

    def now_us(self) -> int:
        """The sim's clock, microseconds: wall clock, or the replay clock when replaying."""
        return self._replay.clock_us if self._replay is not None else wall_us()

    async def _trade_forever(self) -> None:
        """Publish model or replay trades every TICK_S, honouring pause and wait-for-subscriber."""
        if self.config.wait_for_subscriber:
            logger.info("waiting for the first subscriber before trading")
            await self._subscribed.wait()
        self._restart_feed()
        try:
            while True:
                if not self._running.is_set():
                    await self._running.wait()
                    self._restart_feed()
                if self._replay is not None:
                    items = self._replay.take(wall_us())
                    self._publish(self._record(items, now_us=None, clock_ms=self._replay.clock_us // 1000))
                    self._publish(self._mark_events())
                    if self._replay.exhausted:
                        self._publish(self._close_all_aggregates(None))
                        logger.info("replay finished: %s trades", sum(len(h) for h in self.histories.values()))
                        await self._finish_replay()
                        return
                    await asyncio.sleep(0 if self.config.speed == 0 else TICK_S)
                elif self._model is not None:
                    now = wall_us()
                    self._publish(self._record(self._model.take_events(now), now_us=now, clock_ms=now // 1000))
                    self._publish(self._mark_events())
                    await asyncio.sleep(TICK_S)
        except Exception:
            logger.exception("trading loop failed; the market is now idle")
            raise

    async def _finish_replay(self) -> None:
        """Tell every client the recording is over: after a moment for the last frames, each
        connection (and any later one) is closed with the reason ``REPLAY_FINISHED``."""
        await asyncio.sleep(REPLAY_CLOSE_AFTER_S)
        self.replay_finished = True
        for session in list(self.sessions):
            await session.close(1000, REPLAY_FINISHED)

    def _restart_feed(self) -> None:
        """Let the model or the replay clock continue from now, without a backlog."""
        if self._replay is not None:
            self._replay.restart(wall_us())
        elif self._model is not None:
            self._model.restart(wall_us())

    def _record(self, items: Iterable[Fill | BookQuote], now_us: int | None,
                clock_ms: int | None = None) -> list[MarketEvent]:
        """Append fills to the histories; return the (kind, symbol, record) events to publish, quotes
        in their place among the trades.

        `now_us` stamps E on fills and quotes without a recorded one. Aggregates whose millisecond
        is before `clock_ms` are closed afterwards (None: leave them to the next trade or the end).
        """
        events: list[MarketEvent] = []
        for fill in items:
            if isinstance(fill, BookQuote):
                quote = fill
                if quote.event_us is None and now_us is not None:
                    quote = dataclasses.replace(quote, event_us=max(now_us, quote.time_us))
                self._last_quote[quote.symbol] = quote
                events.append((BOOK_TICKER, quote.symbol, quote))
                continue
            history = self.histories[fill.symbol]
            event_us = fill.event_us if fill.event_us is not None else max(now_us or fill.time_us, fill.time_us)
            for index in history.append(fill, event_us):
                events.append((AGG_TRADE, fill.symbol, history.aggregate(index)))
            events.append((TRADE, fill.symbol, history.trade(-1)))
        if clock_ms is not None:
            events.extend(self._close_all_aggregates(clock_ms))
        elif now_us is None and self.config.blast:
            events.extend(self._close_all_aggregates(None))
        return events

    def _mark_events(self) -> list[MarketEvent]:
        """The mark prices due on the sim's clock (futures), settling funding on the way."""
        if self.marks is None:
            return []
        return [(MARK_PRICE, m.symbol, m) for m in self.marks.due(self.now_us() // 1000, self.reference_units)]

    def reference_units(self, symbol: str) -> int:
        """The price a mark follows, in the symbol's price units on its tick grid: the model's fair
        price; when replaying, the mid of the last quote, else the last trade (else the listing)."""
        spec = self.histories[symbol].spec
        if self._model is not None:
            price = self._model.fair_price(symbol)
        elif symbol in self._last_quote:
            quote = self._last_quote[symbol]
            mid_units = (units_at(quote.bid, spec.price_decimals) + units_at(quote.ask, spec.price_decimals)) / 2
            price = mid_units / 10**spec.price_decimals
        else:
            last_units = self.histories[symbol].last_price_units
            price = spec.start_price if last_units is None else last_units / 10**spec.price_decimals
        ticks = price * 10**spec.price_decimals / spec.tick_units
        return max(1, math.floor(ticks + 0.5)) * spec.tick_units

    def _close_all_aggregates(self, before_ms: int | None) -> list[MarketEvent]:
        events: list[MarketEvent] = []
        for symbol, history in self.histories.items():
            index = history.close_aggregate(before_ms)
            if index is not None:
                events.append((AGG_TRADE, symbol, history.aggregate(index)))
        return events

    def _publish(self, events: list[MarketEvent]) -> None:
        """Send each event to the sessions that want it; each frame is serialized once."""
        sessions = [s for s in self.sessions if s.wanted and not s.closed]
        if not sessions or not events:
            return
        for kind, symbol, record in events:
            frames: dict[tuple[str, bool, bool], tuple[bytes, dict[str, Any]]] = {}
            for session in sessions:
                stream = session.wanted.get((symbol, kind))
                if stream is None:
                    continue
                key = (stream, session.route.micros, session.combined)
                cached = frames.get(key)
                if cached is None:
                    event = self.wire.event(kind, record, session.route.micros)
                    cached = frames[key] = (WireFormat.frame(event, stream, session.combined), event)
                session.deliver(cached[0], cached[1], kind, stream)

    # -- blast ------------------------------------------------------------------------------------

    def on_subscriber(self, session: ClientSession) -> None:
        """A session now wants deliverable streams: release a waiting market or start a blast."""
        self._subscribed.set()
        if self.config.blast and not self._blast_claimed:
            self._blast_claimed = True
            self._spawn(self._blast(session))

    async def _blast(self, session: ClientSession) -> None:
        await asyncio.sleep(0)  # let the subscription reply go first
        self.blast_result = await blast(self.wire, self.histories, session, self._blast_quotes)
        self.counters["frames_blast"] += self.blast_result["frames"]

    # -- WebSocket connections --------------------------------------------------------------------

    async def _handle_connection(self, ws: ServerConnection) -> None:
        route = parse_ws_path(self.market, ws.request.path)
        assert route is not None  # _process_request answered 404 otherwise
        if self.replay_finished:
            await ws.close(1000, REPLAY_FINISHED)
            return
        session = ClientSession(self, ws, route)
        self.sessions.add(session)
        self.counters["connections_total"] += 1
        logger.info("client %s connected to %s", session.peer, ws.request.path)
        timers = self._connection_timers(session)
        try:
            async for message in ws:
                if not session.note_incoming():
                    logger.info("client %s sent more than %s messages/s; closing", session.peer,
                                CONTROL_MESSAGES_PER_S[self.market])
                    self.counters["rate_limit_closes"] += 1
                    await session.close(CLOSE_CODE_TOO_MANY_MESSAGES, "Too many requests")
                    break
                reply = session.handle_control(message)
                self.counters["control_messages"] += 1
                await ws.send(orjson.dumps(reply), text=True)
        except ConnectionClosed:
            pass
        finally:
            session.closed = True
            self.sessions.discard(session)
            for timer in timers:
                timer.cancel()
            logger.info("client %s disconnected after %s frames", session.peer, session.frames_sent)

    def _connection_timers(self, session: ClientSession) -> list[asyncio.Task[None]]:
        """Per-connection lifetime and serverShutdown timers from the current switches."""
        timers = []
        if self.faults.max_connection_s:
            timers.append(self._spawn(self._close_after(session, self.faults.max_connection_s)))
        if self.faults.shutdown_after_s:
            timers.append(self._spawn(self._shutdown_after(session, self.faults.shutdown_after_s)))
        return timers

    async def _close_after(self, session: ClientSession, seconds: float) -> None:
        await asyncio.sleep(seconds)
        logger.info("client %s reached the %.1f s connection lifetime", session.peer, seconds)
        self.counters["lifetime_closes"] += 1
        await session.close(CLOSE_CODE_GOING_AWAY, "connection lifetime exceeded")

    async def _shutdown_after(self, session: ClientSession, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await session.announce_shutdown(self.faults.shutdown_grace_s)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a background task the sim cancels on stop."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- HTTP: REST and /sim/ ------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Answer REST and /sim/ requests as plain HTTP; let WebSocket handshakes through."""
        path = urlsplit(request.path).path
        if self.rest.handles(path):
            return self.rest.answer(connection, request)
        if self.api.handles(path):
            return self.api.answer(connection, request)
        if parse_ws_path(self.market, request.path) is not None:
            return None
        return connection.respond(http.HTTPStatus.NOT_FOUND, "Not Found\n")

    # -- Python API (thread-safe) ----------------------------------------------------------------

    def history(self, symbol: str, kind: str = TRADE, from_id: int | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
        """Ground-truth trades (`kind="trade"`) or closed aggregates (`"aggTrade"`) of `symbol`.

        Records use the stream keys with strings exactly as sent: trades {t,p,q,T,E,m}, aggregates
        {a,p,q,f,l,T,E,m}; times in ms. `from_id` selects the first id, `limit` caps the count.
        """
        return self._call_in_loop(self.api.history_now, symbol.upper(), kind, from_id, limit)

    def planted(self) -> dict[str, tuple[str, float]]:
        """The model's cointegrated pairs, follower -> (leader, half-life s); none when replaying."""
        return planted_pairs(list(self.histories)) if self._model is not None else {}

    def sent_quotes(self, symbol: str) -> list[SentQuote]:
        """The bookTicker updates of `symbol` that went out, once each, in send order (see `SentQuoteLog`):
        (u, ts_ms, bid, bid_qty, ask, ask_qty), `ts_ms` being `T` on futures and the send time on spot."""
        return self._call_in_loop(self.quote_log.sent, symbol.upper())

    def stats(self) -> dict[str, Any]:
        """Counts per symbol, connections, frames sent, faults injected, REST use (as /sim/stats)."""
        return self._call_in_loop(self.api.stats_now)

    def control(self, **switches: Any) -> dict[str, Any]:
        """Change the sim at runtime; returns the resulting switches. Keys (also POST /sim/control):

        any FaultSwitches field (drop_every, silent_after, silent_for_s, junk_every, resend_every,
        gap_every, gap_size, rest_429, rest_418, retry_after_s, max_connection_s, shutdown_after_s,
        shutdown_grace_s); paused (bool); rate_per_s (model); server_shutdown (true: announce
        serverShutdown on every connection, close after shutdown_grace_s); drop_all (true: drop
        every connection abruptly now); shock ({"symbol": "ETHUSDT", "pct": 1.5}: move that
        symbol's model price level by pct percent).
        """
        return self._call_in_loop(self.apply_control_now, switches)

    def _call_in_loop(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run `function` on the sim's event loop (directly when already there)."""
        loop = self._loop
        if loop is None or not loop.is_running():
            return function(*args)
        try:
            if asyncio.get_running_loop() is loop:
                return function(*args)
        except RuntimeError:
            pass  # no loop in this thread

        async def call() -> Any:
            return function(*args)

        return asyncio.run_coroutine_threadsafe(call(), loop).result()


    def switches(self) -> dict[str, Any]:
        """The fault switches, paused and rate_per_s, as /sim/control answers them."""
        return {**dataclasses.asdict(self.faults), "paused": self._paused, "rate_per_s": self.config.rate_per_s}

    def apply_control_now(self, changes: dict[str, Any]) -> dict[str, Any]:
        """`control()` on the sim's loop: validate everything first, then apply (a bad request changes nothing)."""
        validate_control(changes, self.faults, self.histories, self._model is not None)
        self.faults.update({k: v for k, v in changes.items() if k in FAULT_SWITCH_NAMES})
        shock = changes.get("shock")
        if shock is not None and self._model is not None:
            self._model.shock(shock["symbol"].upper(), float(shock["pct"]))
            self.counters["shocks"] += 1
        rate = changes.get("rate_per_s")
        if rate is not None:
            self.config.rate_per_s = float(rate)
            if self._model is not None:
                self._model.set_rate(float(rate), wall_us())
        if "paused" in changes:
            self._paused = changes["paused"]
            if self._paused:
                self._running.clear()
            else:
                self._running.set()
        if changes.get("drop_all"):
            for session in list(self.sessions):
                session.drop("drop_all")
        if changes.get("server_shutdown"):
            for session in list(self.sessions):
                self._spawn(session.announce_shutdown(self.faults.shutdown_grace_s))
        logger.info("control: %s", changes)
        return self.switches()

