"""A local exchange that speaks Binance's market-data wire format, on loopback, for tests and demos.

One process serves ONE market (spot or USD-M futures) on ONE port: the WebSocket streams
(`@trade`, `@aggTrade`, raw and combined, live SUBSCRIBE) and the REST endpoints a gap-filling
ingestor uses, in Binance's exact shapes (key order, string prices with Binance's trailing zeros,
error codes, weight headers). It is written from ../shared/BINANCE.md and the recorded real frames
in ../shared/data/binance, independently of the product's own parser, so that it catches that
parser's mistakes. The product must never import this module.

Trades come from a model (a cointegrated BTC/ETH pair with calm and busy spells), from recorded
files replayed at any speed, or are pre-generated and blasted for throughput benchmarks. The sim
keeps every trade and aggregate trade it ever made (the ground truth) and can misbehave on demand:
abrupt drops, silence, junk, duplicates, unseen gaps, REST 429/418, `serverShutdown`, short
connection lifetimes.

Run it::

    python exchange_sim.py --port 0                      # spot, BTCUSDT+ETHUSDT, model prices
    python exchange_sim.py --market futures --drop-every 500
    python exchange_sim.py --replay ../shared/data/binance/hftbacktest/spot/btcusdt_20240808.gz --speed 10

The first stdout line is ``exchange_sim listening on 127.0.0.1:<port>``; logs go to stderr.

Not Binance (clearly marked, same port): ``GET /sim/history``, ``GET /sim/stats``,
``GET|POST /sim/control``; see `ExchangeSim.control` for the switches.

In-process use::

    async with ExchangeSim(market="futures", rate_per_s=200, drop_every=50) as sim:
        ...  # ws://127.0.0.1:{sim.port}/public/ws/btcusdt@trade

    with run_in_thread(ExchangeSim(seed=1)) as sim:   # for synchronous tests
        sim.control(paused=True)
"""
from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import dataclasses
import gzip
import heapq
import http
import json
import logging
import math
import random
import re
import signal
import sys
import threading
import time
import zlib
from array import array
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

import orjson
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------

SPOT = "spot"
FUTURES = "futures"
MARKETS = (SPOT, FUTURES)
TRADE = "trade"
AGG_TRADE = "aggTrade"
STREAM_KINDS = (TRADE, AGG_TRADE)

DEFAULT_SYMBOLS = ("BTCUSDT", "ETHUSDT")
DEFAULT_RATE_PER_S = 25.0  # trades per second across all symbols; the 2024 recordings run ~46/s
DEFAULT_HOST = "127.0.0.1"
LISTENING_LINE = "exchange_sim listening on {host}:{port}"

# WebSocket behaviour per market (BINANCE.md: keep-alive, limits).
PING_INTERVAL_S = {SPOT: 20.0, FUTURES: 180.0}
PING_TIMEOUT_S = {SPOT: 60.0, FUTURES: 600.0}
CONTROL_MESSAGES_PER_S = {SPOT: 5, FUTURES: 10}
MAX_STREAMS_PER_CONNECTION = 1024
CLOSE_TIMEOUT_S = 1.0  # closing handshake wait; short so SIGTERM exits promptly
MAX_WRITE_BUFFER_BYTES = 64 * 2**20  # a client this far behind is cut off as a slow consumer
CLOSE_CODE_TOO_MANY_MESSAGES = 1008  # policy violation, as Binance answers a chatty client
CLOSE_CODE_GOING_AWAY = 1001

# REST behaviour per market.
REST_WEIGHT_LIMIT_1M = {SPOT: 6000, FUTURES: 2400}
REST_DEFAULT_LIMIT = 500
REST_MAX_LIMIT = 1000
AGG_TRADES_MAX_WINDOW_MS = 3_600_000
JSON_CONTENT_TYPE = "application/json;charset=UTF-8"
MAX_REQUEST_HEAD_BYTES = 64 * 1024

# Trading loop.
TICK_S = 0.01  # how often the model and replay loops publish
REPLAY_CHUNK_FILLS = 2000  # at --speed 0, publish this many trades then let the loop breathe
BLAST_EVENT_SPACING_US = 1000  # E - T of pre-generated trades

# Model parameters (per-second units; realistic magnitudes, see the 2024-08-08 recordings).
LEADER_VOL_PER_SQRT_S = 1.2e-4  # BTC log-price random walk, ~3.5 % a day
INDEPENDENT_VOL_PER_SQRT_S = 2.0e-4  # symbols outside the BTC/ETH pair
PAIR_BETA = 1.2  # log ETH = c + beta * log BTC + u
PAIR_HALF_LIFE_S = 90.0  # of the OU residual u
PAIR_RESIDUAL_STD = 0.0015  # stationary std of u (15 bp)
PAIRS = {"ETHUSDT": "BTCUSDT"}  # follower -> leader
CALM_RATE_MULT, BUSY_RATE_MULT = 0.5, 3.0
CALM_MEAN_S, BUSY_MEAN_S = 30.0, 6.0
EXTRA_FILL_PROB = 0.45  # each taker order fills 1 + Geometric(0.45) maker orders
MAX_FILLS_PER_ORDER = 12
SWEEP_TICK_PROB = 0.25  # a further fill walks one tick through the book
QTY_LOG_SIGMA = 2.0  # lognormal trade sizes: heavy tail around the median
MAX_QTY_MEDIANS = 3000.0

# Faults.
RESEND_DEPTH = 5  # --resend-every sends again the frame from this many frames back
JUNK_KINDS = ("not_json", "truncated_json", "missing_id", "non_numeric_price", "unknown_event", "binary")
NOT_JSON_TEXT = b"<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>"
SERVER_SHUTDOWN_STREAM = "!serverShutdown"

SYMBOL_PATTERN = re.compile(r"^[A-Z0-9]{2,20}$")
QUOTE_ASSETS = ("USDT", "USDC", "FDUSD", "BUSD", "TUSD", "BTC", "ETH", "BNB", "EUR", "TRY")


class SimConfigError(ValueError):
    """A configuration the sim cannot run with; the message says what to change."""


# ---------------------------------------------------------------------------------------------
# Fixed-point decimals: Binance sends prices and quantities as fixed-width decimal strings.
# ---------------------------------------------------------------------------------------------


def format_fixed(units: int, decimals: int) -> str:
    """Render an integer count of 10**-decimals as Binance does: 6180030, 2 -> "61800.30"."""
    if decimals == 0:
        return str(units)
    whole, frac = divmod(units, 10**decimals)
    return f"{whole}.{frac:0{decimals}d}"


def parse_fixed(text: str) -> tuple[int, int]:
    """Inverse of `format_fixed`: "0.00600000" -> (600000, 8)."""
    whole, _, frac = text.partition(".")
    return int(whole + frac), len(frac)


def rescale_units(units: int, decimals: int, to_decimals: int) -> int:
    """Express units of 10**-decimals in units of 10**-to_decimals (exact when widening)."""
    if to_decimals >= decimals:
        return units * 10 ** (to_decimals - decimals)
    return units // 10 ** (decimals - to_decimals)


# ---------------------------------------------------------------------------------------------
# Symbols
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarketListing:
    """How one symbol trades on one market: filter sizes as Binance writes them, id ranges."""

    tick_size: str  # futures: also fixes the price's decimals on the wire ("0.10" -> "61800.30")
    step_size: str
    median_qty: float  # model's typical trade size, base asset
    first_trade_id: int
    first_agg_id: int


@dataclass(frozen=True)
class Listing:
    """What the sim knows about a symbol before it trades."""

    base_asset: str
    start_price: float
    activity_weight: float  # share of the market's trades
    spot: MarketListing
    futures: MarketListing


# Trade ids start where the 2024-08-08 recordings start; aggregate ids are deliberately far from
# trade ids so that a client mixing the two is caught.
LISTINGS: dict[str, Listing] = {
    "BTCUSDT": Listing(
        "BTC", 61800.0, 3.0,
        spot=MarketListing("0.01", "0.00001", 0.0006, 3_735_683_259, 3_101_846_210),
        futures=MarketListing("0.10", "0.001", 0.016, 5_266_583_935, 2_271_938_417),
    ),
    "ETHUSDT": Listing(
        "ETH", 2680.0, 2.0,
        spot=MarketListing("0.01", "0.0001", 0.0088, 1_520_538_925, 1_120_412_377),
        futures=MarketListing("0.01", "0.001", 0.071, 4_308_068_523, 1_905_117_062),
    ),
    "SOLUSDT": Listing(
        "SOL", 150.0, 1.0,
        spot=MarketListing("0.01", "0.001", 0.35, 767_410_115, 601_834_997),
        futures=MarketListing("0.0100", "1", 4.0, 1_984_301_221, 1_050_377_512),
    ),
    "BNBUSDT": Listing(
        "BNB", 520.0, 1.0,
        spot=MarketListing("0.01", "0.001", 0.08, 921_554_780, 735_904_118),
        futures=MarketListing("0.010", "0.01", 0.5, 1_203_377_004, 801_226_450),
    ),
    "XRPUSDT": Listing(
        "XRP", 0.55, 1.0,
        spot=MarketListing("0.0001", "1", 120.0, 688_100_442, 512_009_731),
        futures=MarketListing("0.0001", "0.1", 300.0, 1_702_884_310, 955_612_004),
    ),
    "DOGEUSDT": Listing(
        "DOGE", 0.11, 1.0,
        spot=MarketListing("0.00001", "1", 900.0, 801_339_107, 601_442_893),
        futures=MarketListing("0.000010", "1", 2500.0, 1_630_024_775, 890_114_206),
    ),
}


def default_listing(symbol: str) -> Listing:
    """A plausible listing for a symbol the table does not know; ids differ per symbol."""
    base = next((symbol[: -len(q)] for q in QUOTE_ASSETS if symbol.endswith(q) and len(symbol) > len(q)), symbol)
    salt = zlib.crc32(symbol.encode())
    first_trade_id = 100_000_000 + salt % 900_000_000
    first_agg_id = 50_000_000 + (salt // 7) % 400_000_000
    return Listing(
        base, 10.0, 1.0,
        spot=MarketListing("0.001", "0.01", 5.0, first_trade_id, first_agg_id),
        futures=MarketListing("0.001", "0.1", 20.0, first_trade_id + 13_579, first_agg_id + 2_468),
    )


@dataclass(frozen=True)
class SymbolSpec:
    """One symbol as traded by this sim: wire decimals, filters, model hints, first ids."""

    symbol: str
    base_asset: str
    quote_asset: str
    price_decimals: int  # digits after the point on the wire
    tick_units: int  # tick size in units of 10**-price_decimals
    qty_decimals: int
    step_units: int  # lot step in units of 10**-qty_decimals
    start_price: float
    median_qty: float
    activity_weight: float
    first_trade_id: int
    first_agg_id: int

    def price_text(self, units: int) -> str:
        """Price units as Binance writes them."""
        return format_fixed(units, self.price_decimals)

    def qty_text(self, units: int) -> str:
        """Quantity units as Binance writes them."""
        return format_fixed(units, self.qty_decimals)

    @property
    def tick_size(self) -> float:
        """Tick size in quote currency."""
        return self.tick_units / 10**self.price_decimals


SPOT_WIRE_DECIMALS = 8  # spot writes every price and quantity with 8 decimals: "61837.63000000"


def make_spec(market: str, symbol: str) -> SymbolSpec:
    """The spec of `symbol` on `market` from the listing table (or a plausible default)."""
    listing = LISTINGS.get(symbol) or default_listing(symbol)
    on_market = listing.spot if market == SPOT else listing.futures
    tick_units, tick_decimals = parse_fixed(on_market.tick_size)
    step_units, step_decimals = parse_fixed(on_market.step_size)
    price_decimals = SPOT_WIRE_DECIMALS if market == SPOT else tick_decimals
    qty_decimals = SPOT_WIRE_DECIMALS if market == SPOT else step_decimals
    return SymbolSpec(
        symbol=symbol,
        base_asset=listing.base_asset,
        quote_asset=symbol[len(listing.base_asset):] or "USDT",
        price_decimals=price_decimals,
        tick_units=rescale_units(tick_units, tick_decimals, price_decimals),
        qty_decimals=qty_decimals,
        step_units=rescale_units(step_units, step_decimals, qty_decimals),
        start_price=listing.start_price,
        median_qty=on_market.median_qty,
        activity_weight=listing.activity_weight,
        first_trade_id=on_market.first_trade_id,
        first_agg_id=on_market.first_agg_id,
    )


# ---------------------------------------------------------------------------------------------
# Ground truth: every trade and aggregate trade of a symbol
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trade:
    """One trade as the exchange knows it; times in microseconds."""

    symbol: str
    trade_id: int
    price: str
    qty: str
    time_us: int
    event_us: int
    is_buyer_maker: bool


@dataclass(frozen=True, slots=True)
class AggTrade:
    """Consecutive trades with the same price, taker side and millisecond, merged."""

    symbol: str
    agg_id: int
    price: str
    qty: str
    first_trade_id: int
    last_trade_id: int
    time_us: int
    event_us: int
    is_buyer_maker: bool


class Fill(NamedTuple):
    """A trade about to happen (from the model or a recording); prices in the spec's units."""

    symbol: str
    price_units: int
    qty_units: int
    time_us: int
    event_us: int | None  # None: stamped with the publishing time
    is_buyer_maker: bool
    starts_aggregate: bool = False  # replayed aggregates keep their recorded boundaries


class SymbolHistory:
    """Every trade and closed aggregate trade of one symbol, in id order: the sim's ground truth.

    Stored column-wise in arrays (~50 bytes a trade) so a day of trades fits comfortably. Trade ids
    are contiguous from `first_trade_id`, aggregate ids from `first_agg_id`. An aggregate is
    closed when a trade arrives that does not join it or when the clock has left its millisecond;
    only closed aggregates are visible (REST answers only what has already happened).
    """

    def __init__(self, spec: SymbolSpec) -> None:
        self.spec = spec
        self.first_trade_id = spec.first_trade_id
        self.first_agg_id = spec.first_agg_id
        self._price = array("q")
        self._qty = array("q")
        self._time_us = array("q")
        self._event_us = array("q")
        self._maker = array("b")
        self._agg_start = array("q")  # index of the aggregate's first trade
        self._agg_end = array("q")  # index of its last trade
        self._agg_qty = array("q")
        self._open_start: int | None = None  # first trade index of the aggregate still open
        self._open_qty = 0

    def __len__(self) -> int:
        return len(self._price)

    @property
    def agg_count(self) -> int:
        """Number of closed aggregate trades."""
        return len(self._agg_start)

    @property
    def last_price_units(self) -> int | None:
        """Price of the latest trade, None before the first."""
        return self._price[-1] if self._price else None

    def append(self, fill: Fill, event_us: int) -> list[int]:
        """Record one trade; returns the indexes of aggregates this trade closed (0 or 1)."""
        closed: list[int] = []
        index = len(self._price)
        if self._open_start is not None:
            first = self._open_start
            joins = (
                not fill.starts_aggregate
                and self._price[first] == fill.price_units
                and self._maker[first] == fill.is_buyer_maker
                and self._time_us[first] // 1000 == fill.time_us // 1000
            )
            if not joins:
                closed.append(self._close_open())
        self._price.append(fill.price_units)
        self._qty.append(fill.qty_units)
        self._time_us.append(fill.time_us)
        self._event_us.append(event_us)
        self._maker.append(fill.is_buyer_maker)
        if self._open_start is None:
            self._open_start = index
            self._open_qty = 0
        self._open_qty += fill.qty_units
        return closed

    def close_aggregate(self, before_ms: int | None = None) -> int | None:
        """Close the open aggregate if its millisecond is before `before_ms` (None: always)."""
        if self._open_start is None:
            return None
        if before_ms is not None and self._time_us[self._open_start] // 1000 >= before_ms:
            return None
        return self._close_open()

    def _close_open(self) -> int:
        assert self._open_start is not None
        self._agg_start.append(self._open_start)
        self._agg_end.append(len(self._price) - 1)
        self._agg_qty.append(self._open_qty)
        self._open_start = None
        return len(self._agg_start) - 1

    def trade(self, index: int) -> Trade:
        """The trade at `index` (0 = first; negative counts from the end)."""
        if index < 0:
            index += len(self._price)
        return Trade(
            symbol=self.spec.symbol,
            trade_id=self.first_trade_id + index,
            price=self.spec.price_text(self._price[index]),
            qty=self.spec.qty_text(self._qty[index]),
            time_us=self._time_us[index],
            event_us=self._event_us[index],
            is_buyer_maker=bool(self._maker[index]),
        )

    def aggregate(self, index: int) -> AggTrade:
        """The closed aggregate at `index`."""
        if index < 0:
            index += len(self._agg_start)
        start, end = self._agg_start[index], self._agg_end[index]
        return AggTrade(
            symbol=self.spec.symbol,
            agg_id=self.first_agg_id + index,
            price=self.spec.price_text(self._price[start]),
            qty=self.spec.qty_text(self._agg_qty[index]),
            first_trade_id=self.first_trade_id + start,
            last_trade_id=self.first_trade_id + end,
            time_us=self._time_us[start],
            event_us=self._event_us[end],
            is_buyer_maker=bool(self._maker[start]),
        )

    def trades(self, start: int, stop: int) -> list[Trade]:
        """Trades with indexes in [start, stop), clamped to what exists."""
        start, stop = max(start, 0), min(stop, len(self._price))
        return [self.trade(i) for i in range(start, stop)]

    def aggregates(self, start: int, stop: int) -> list[AggTrade]:
        """Closed aggregates with indexes in [start, stop), clamped."""
        start, stop = max(start, 0), min(stop, len(self._agg_start))
        return [self.aggregate(i) for i in range(start, stop)]

    def trade_index(self, trade_id: int) -> int:
        """Index of `trade_id` (may fall outside the stored range)."""
        return trade_id - self.first_trade_id

    def agg_index(self, agg_id: int) -> int:
        """Index of `agg_id` (may fall outside the stored range)."""
        return agg_id - self.first_agg_id

    def agg_index_at(self, time_us: int) -> int:
        """Index of the first closed aggregate with trade time >= `time_us`."""
        return bisect.bisect_left(
            range(len(self._agg_start)), time_us, key=lambda i: self._time_us[self._agg_start[i]]
        )


# ---------------------------------------------------------------------------------------------
# Wire format: the exact JSON Binance sends
# ---------------------------------------------------------------------------------------------


def _time(us: int, micros: bool) -> int:
    return us if micros else us // 1000


class WireFormat:
    """Builds WebSocket events, combined frames and REST records for one market.

    Key order follows the recordings: spot `@trade` e,E,s,t,p,q,T,m,M (hftbacktest spot 2024);
    futures `@trade` e,E,T,s,t,p,q,X,m (hftbacktest usdm); futures `@aggTrade` e,E,a,s,p,q,f,l,T,m
    (cryptofeed BINANCE_FUTURES); spot `@aggTrade` e,E,s,a,p,q,f,l,T,m,M (Binance's docs).
    """

    def __init__(self, market: str, extra_fields: bool = False) -> None:
        self.market = market
        self.extra_fields = extra_fields  # futures only: the newer "nq" / "st" keys

    def event(self, kind: str, record: Trade | AggTrade, micros: bool = False) -> dict[str, Any]:
        """The raw stream event for a trade or an aggregate trade."""
        if kind == TRADE:
            assert isinstance(record, Trade)
            return self._trade_event(record, micros)
        assert isinstance(record, AggTrade)
        return self._agg_event(record, micros)

    def _trade_event(self, t: Trade, micros: bool) -> dict[str, Any]:
        event_time, trade_time = _time(t.event_us, micros), _time(t.time_us, micros)
        if self.market == SPOT:
            return {"e": "trade", "E": event_time, "s": t.symbol, "t": t.trade_id, "p": t.price,
                    "q": t.qty, "T": trade_time, "m": t.is_buyer_maker, "M": True}
        event = {"e": "trade", "E": event_time, "T": trade_time, "s": t.symbol, "t": t.trade_id,
                 "p": t.price, "q": t.qty, "X": "MARKET", "m": t.is_buyer_maker}
        if self.extra_fields:
            event["st"] = 1
        return event

    def _agg_event(self, a: AggTrade, micros: bool) -> dict[str, Any]:
        event_time, trade_time = _time(a.event_us, micros), _time(a.time_us, micros)
        if self.market == SPOT:
            return {"e": "aggTrade", "E": event_time, "s": a.symbol, "a": a.agg_id, "p": a.price,
                    "q": a.qty, "f": a.first_trade_id, "l": a.last_trade_id, "T": trade_time,
                    "m": a.is_buyer_maker, "M": True}
        event: dict[str, Any] = {"e": "aggTrade", "E": event_time, "a": a.agg_id, "s": a.symbol,
                                 "p": a.price, "q": a.qty}
        if self.extra_fields:
            event["nq"] = a.qty  # quantity without RPI orders; the sim has none
        event.update({"f": a.first_trade_id, "l": a.last_trade_id, "T": trade_time, "m": a.is_buyer_maker})
        if self.extra_fields:
            event["st"] = 1
        return event

    @staticmethod
    def frame(event: dict[str, Any], stream: str, combined: bool) -> bytes:
        """Serialize an event as sent on a raw (`/ws`) or combined (`/stream`) connection."""
        raw = orjson.dumps(event)
        return wrap_combined(stream, raw) if combined else raw

    def shutdown_frame(self, event_us: int, combined: bool, micros: bool) -> bytes:
        """The `serverShutdown` announcement."""
        return self.frame({"e": "serverShutdown", "E": _time(event_us, micros)}, SERVER_SHUTDOWN_STREAM, combined)

    def rest_trade(self, t: Trade, spec: SymbolSpec, micros: bool = False) -> dict[str, Any]:
        """One element of `/api/v3/trades`, `/historicalTrades`, `/fapi/v1/trades`."""
        record: dict[str, Any] = {"id": t.trade_id, "price": t.price, "qty": t.qty,
                                  "quoteQty": quote_qty(t, spec, self.market), "time": _time(t.time_us, micros),
                                  "isBuyerMaker": t.is_buyer_maker}
        if self.market == SPOT:
            record["isBestMatch"] = True
        return record

    def rest_agg(self, a: AggTrade, micros: bool = False) -> dict[str, Any]:
        """One element of `/api/v3/aggTrades` (with "M") or `/fapi/v1/aggTrades` (without)."""
        record: dict[str, Any] = {"a": a.agg_id, "p": a.price, "q": a.qty, "f": a.first_trade_id,
                                  "l": a.last_trade_id, "T": _time(a.time_us, micros), "m": a.is_buyer_maker}
        if self.market == SPOT:
            record["M"] = True
        return record


def wrap_combined(stream: str, raw: bytes) -> bytes:
    """`{"stream":"<name>","data":<raw>}` without re-serializing the event."""
    return b'{"stream":"' + stream.encode() + b'","data":' + raw + b"}"


def quote_qty(t: Trade, spec: SymbolSpec, market: str) -> str:
    """price * qty: spot with 8 decimals (truncated), futures exact without trailing zeros."""
    price_units, price_decimals = parse_fixed(t.price)
    qty_units, qty_decimals = parse_fixed(t.qty)
    product, decimals = price_units * qty_units, price_decimals + qty_decimals
    if market == SPOT:
        return format_fixed(rescale_units(product, decimals, SPOT_WIRE_DECIMALS), SPOT_WIRE_DECIMALS)
    text = format_fixed(product, decimals)
    return text.rstrip("0").rstrip(".") if "." in text else text


def history_record(kind: str, record: Trade | AggTrade) -> dict[str, Any]:
    """Ground-truth record for `/sim/history`: stream keys, strings exactly as sent, times in ms."""
    if isinstance(record, Trade):
        return {"t": record.trade_id, "p": record.price, "q": record.qty, "T": record.time_us // 1000,
                "E": record.event_us // 1000, "m": record.is_buyer_maker}
    return {"a": record.agg_id, "p": record.price, "q": record.qty, "f": record.first_trade_id,
            "l": record.last_trade_id, "T": record.time_us // 1000, "E": record.event_us // 1000,
            "m": record.is_buyer_maker}


# ---------------------------------------------------------------------------------------------
# WebSocket routes and stream names
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WsRoute:
    """A WebSocket URL, understood: which prefix, combined or raw, initial streams, time unit."""

    prefix: str  # spot: ""; futures: "market", "public" or "root" (the retired /ws, /stream)
    combined: bool
    streams: tuple[str, ...]
    micros: bool


def parse_ws_path(market: str, path: str) -> WsRoute | None:
    """Route a WebSocket request path; None when the exchange has no such path (HTTP 404)."""
    parts = urlsplit(path)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    segments = parts.path.strip("/").split("/") if parts.path.strip("/") else []
    prefix = ""
    if market == FUTURES:
        prefix = "root"
        if segments and segments[0] in ("market", "public"):
            prefix = segments.pop(0)
    if not segments:
        return None
    micros = market == SPOT and query.get("timeUnit", "").upper() == "MICROSECOND"
    if segments[0] == "ws":
        return WsRoute(prefix, combined=False, streams=tuple(s for s in segments[1:] if s), micros=micros)
    if segments[0] == "stream" and len(segments) == 1:
        streams = tuple(s for s in query.get("streams", "").split("/") if s)
        return WsRoute(prefix, combined=True, streams=streams, micros=micros)
    return None


def parse_stream(name: str) -> tuple[str, str] | None:
    """"btcusdt@trade" -> ("BTCUSDT", "trade"); None for streams this sim never produces.

    Binance stream names are lower case; an upper-case name is accepted and stays silent.
    """
    symbol, _, kind = name.partition("@")
    if kind not in STREAM_KINDS or not symbol or symbol != symbol.lower():
        return None
    return symbol.upper(), kind


# USD-M futures since 2026-04-23: aggTrade on /market, trade on /public (newest ccxt routing); the
# retired root paths and the wrong prefix complete the handshake, acknowledge SUBSCRIBE, send nothing.
FUTURES_ROUTING = frozenset({("market", AGG_TRADE), ("public", TRADE)})


def route_carries(market: str, prefix: str, kind: str) -> bool:
    """Whether a connection on `prefix` receives `kind` events (futures split them by path)."""
    return market == SPOT or (prefix, kind) in FUTURES_ROUTING


# ---------------------------------------------------------------------------------------------
# Fault switches
# ---------------------------------------------------------------------------------------------


@dataclass
class FaultSwitches:
    """Misbehaviour on demand; 0 turns a switch off. Counters are per connection.

    drop_every: close the TCP connection without a close frame after every N market frames.
    silent_after / silent_for_s: after every N frames, send no market data for S seconds while
        staying connected (pings are still answered).
    junk_every: after every N frames, send one corrupted frame (rotating through JUNK_KINDS).
    resend_every: after every N frames, send again the frame from RESEND_DEPTH frames back.
    gap_every / gap_size: after every N frames, skip the next K market frames (they stay in REST).
    rest_429 / rest_418: answer the next K Binance REST requests with that status and Retry-After.
    retry_after_s: the Retry-After value, seconds.
    max_connection_s: close every connection S seconds after it opened (Binance: 24 h).
    shutdown_after_s: announce serverShutdown S seconds after each connection opened.
    shutdown_grace_s: seconds between the serverShutdown event and the close.
    """

    drop_every: int = 0
    silent_after: int = 0
    silent_for_s: float = 0.0
    junk_every: int = 0
    resend_every: int = 0
    gap_every: int = 0
    gap_size: int = 1
    rest_429: int = 0
    rest_418: int = 0
    retry_after_s: int = 2
    max_connection_s: float = 0.0
    shutdown_after_s: float = 0.0
    shutdown_grace_s: float = 1.0

    def update(self, changes: dict[str, Any]) -> None:
        """Apply validated changes: non-negative numbers of each field's type."""
        for name, value in changes.items():
            current = getattr(self, name)
            if not _is_number(value) or value < 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
            if isinstance(current, int) and value != int(value):
                raise ValueError(f"{name} must be a whole number, got {value!r}")
            setattr(self, name, type(current)(value))


FAULT_SWITCH_NAMES = frozenset(f.name for f in dataclasses.fields(FaultSwitches))


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


@dataclass
class SimConfig:
    """Everything `ExchangeSim` can be told at start; the CLI options map onto these fields."""

    host: str = DEFAULT_HOST
    port: int = 0
    market: str = SPOT
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    rate_per_s: float = DEFAULT_RATE_PER_S
    seed: int | None = None
    replay_files: tuple[Path, ...] = ()
    speed: float = 1.0  # replay: 1 = real time, 0 = as fast as possible
    blast: int = 0  # pre-generate N trades per symbol and blast them to the first subscriber
    wait_for_subscriber: bool = False  # start trading when the first stream is subscribed
    paused: bool = False
    ping_interval_s: float | None = None  # None: the market's default
    ping_timeout_s: float | None = None
    extra_fields: bool = False  # futures: add "nq"/"st" as newer frames do
    api_key: str | None = None  # accepted X-MBX-APIKEY for /fapi/v1/historicalTrades
    weight_limit_1m: int | None = None  # None: the market's default
    faults: FaultSwitches = field(default_factory=FaultSwitches)

    def validate(self) -> None:
        """Raise SimConfigError with a one-line fix for anything the sim cannot run with."""
        if self.market not in MARKETS:
            raise SimConfigError(f"unknown market {self.market!r}; use one of {', '.join(MARKETS)}")
        bad = [s for s in self.symbols if not SYMBOL_PATTERN.match(s)]
        if bad or not self.symbols:
            raise SimConfigError(f"bad symbols {bad or '(none)'}; give e.g. --symbols BTCUSDT,ETHUSDT")
        if self.rate_per_s < 0 or self.speed < 0 or self.blast < 0:
            raise SimConfigError("--rate, --speed and --blast must not be negative")
        for path in self.replay_files:
            if not Path(path).is_file():
                raise SimConfigError(f"replay file not found: {path}")


# ---------------------------------------------------------------------------------------------
# Model: prices and taker orders
# ---------------------------------------------------------------------------------------------


class MarketModel:
    """Model prices and taker orders.

    BTC (the leader) is a log random walk; ETH follows it: log ETH = c + beta * log BTC + u with u
    an Ornstein-Uhlenbeck residual, so the pair is cointegrated. Other symbols walk independently.
    Activity switches between a calm and a busy regime (market-wide). Each taker order fills one
    or more maker orders at the same millisecond, walking the book a tick at a time now and then;
    prices sit on the tick grid, sizes on the lot grid with a heavy-tailed lognormal.
    """

    def __init__(self, specs: Sequence[SymbolSpec], rate_per_s: float, rng: random.Random, start_us: int) -> None:
        self._rng = rng
        self._specs = {s.symbol: s for s in specs}
        self._level = {s.symbol: math.log(s.start_price) for s in specs}  # log price, or u for followers
        self._shock = {s.symbol: 0.0 for s in specs}
        self._links: dict[str, tuple[str, float]] = {}  # follower -> (leader, intercept)
        for follower, leader in PAIRS.items():
            if follower in self._specs and leader in self._specs:
                intercept = self._level[follower] - PAIR_BETA * self._level[leader]
                self._links[follower] = (leader, intercept)
                self._level[follower] = 0.0
        total_weight = sum(s.activity_weight for s in specs)
        self._share = {s.symbol: s.activity_weight / total_weight for s in specs}
        self._rate_per_s = rate_per_s
        self._busy = False
        self._time_us = start_us
        self._regime_switch_us = start_us
        self._next_order_us: dict[str, float] = {}
        self.restart(start_us)

    def restart(self, now_us: int) -> None:
        """Continue from `now_us` after a pause or a rate change (no backlog of orders)."""
        self._time_us = now_us
        self._regime_switch_us = now_us + self._regime_duration_us()
        self._next_order_us = {sym: now_us + self._order_gap_us(sym) for sym in self._specs}

    def set_rate(self, rate_per_s: float, now_us: int) -> None:
        """Change the long-run trades per second across symbols."""
        self._rate_per_s = rate_per_s
        self.restart(now_us)

    def shock(self, symbol: str, pct: float) -> None:
        """Move `symbol`'s price level by `pct` percent, permanently (a shock back undoes it)."""
        if pct <= -100:
            raise ValueError("pct must be above -100")
        self._shock[symbol] += math.log1p(pct / 100.0)

    def fair_price(self, symbol: str) -> float:
        """The model's current price, quote currency (before rounding to the tick)."""
        return math.exp(self._fair_log(symbol))

    def take(self, until_us: int) -> list[Fill]:
        """Advance to `until_us`; return the fills of every taker order in between, by time."""
        fills: list[Fill] = []
        while True:
            symbol, order_us = min(self._next_order_us.items(), key=lambda item: item[1])
            next_us = min(order_us, self._regime_switch_us)
            if next_us > until_us:
                break
            self._advance_to(int(next_us))
            if self._regime_switch_us <= order_us:
                self._busy = not self._busy
                self._regime_switch_us = self._time_us + self._regime_duration_us()
                continue
            fills.extend(self._taker_order(symbol, int(order_us)))
            self._next_order_us[symbol] = order_us + self._order_gap_us(symbol)
        self._advance_to(until_us)
        return fills

    def _fair_log(self, symbol: str) -> float:
        link = self._links.get(symbol)
        if link is None:
            return self._level[symbol] + self._shock[symbol]
        leader, intercept = link
        return intercept + PAIR_BETA * self._level[leader] + self._level[symbol] + self._shock[symbol]

    def _advance_to(self, now_us: int) -> None:
        dt_s = (now_us - self._time_us) / 1e6
        if dt_s <= 0:
            return
        self._time_us = now_us
        decay = math.exp(-math.log(2) / PAIR_HALF_LIFE_S * dt_s)
        for symbol in self._level:
            if symbol in self._links:
                noise = PAIR_RESIDUAL_STD * math.sqrt(1.0 - decay * decay)
                self._level[symbol] = self._level[symbol] * decay + noise * self._rng.gauss(0.0, 1.0)
            else:
                vol = LEADER_VOL_PER_SQRT_S if symbol in PAIRS.values() else INDEPENDENT_VOL_PER_SQRT_S
                self._level[symbol] += vol * math.sqrt(dt_s) * self._rng.gauss(0.0, 1.0)

    def _regime_duration_us(self) -> float:
        mean_s = BUSY_MEAN_S if self._busy else CALM_MEAN_S
        return self._rng.expovariate(1.0 / mean_s) * 1e6

    def _order_gap_us(self, symbol: str) -> float:
        """Exponential wait until `symbol`'s next taker order at the current rate."""
        mean_mult = (CALM_MEAN_S * CALM_RATE_MULT + BUSY_MEAN_S * BUSY_RATE_MULT) / (CALM_MEAN_S + BUSY_MEAN_S)
        regime_mult = (BUSY_RATE_MULT if self._busy else CALM_RATE_MULT) / mean_mult
        fills_per_order = 1.0 / (1.0 - EXTRA_FILL_PROB)
        orders_per_s = self._rate_per_s * self._share[symbol] * regime_mult / fills_per_order
        if orders_per_s <= 0:
            return math.inf
        return max(1.0, self._rng.expovariate(orders_per_s) * 1e6)

    def _taker_order(self, symbol: str, time_us: int) -> list[Fill]:
        spec = self._specs[symbol]
        fair_ticks = self.fair_price(symbol) * 10**spec.price_decimals / spec.tick_units
        taker_buys = self._rng.random() < 0.5
        level = math.ceil(fair_ticks) if taker_buys else math.floor(fair_ticks)
        fill_count = 1
        while fill_count < MAX_FILLS_PER_ORDER and self._rng.random() < EXTRA_FILL_PROB:
            fill_count += 1
        fills = []
        for n in range(fill_count):
            if n and self._rng.random() < SWEEP_TICK_PROB:
                level += 1 if taker_buys else -1
            price_units = max(level, 1) * spec.tick_units
            fills.append(Fill(symbol, price_units, self._qty_units(spec), time_us, None, not taker_buys))
        return fills

    def _qty_units(self, spec: SymbolSpec) -> int:
        qty = min(self._rng.lognormvariate(math.log(spec.median_qty), QTY_LOG_SIGMA), spec.median_qty * MAX_QTY_MEDIANS)
        step = spec.step_units / 10**spec.qty_decimals
        return max(1, round(qty / step)) * spec.step_units


# ---------------------------------------------------------------------------------------------
# Replay of recorded frames
# ---------------------------------------------------------------------------------------------


@dataclass
class RecordedTape:
    """Trades read from recordings, ready to replay: per-symbol specs and time-ordered fills."""

    market: str
    specs: dict[str, SymbolSpec]
    fills: list[Fill]
    stream: str = TRADE  # what the files hold natively: aggTrade when some symbol has only aggregates


def iter_recorded_events(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the `trade` / `aggTrade` events of a recording, in file order.

    Understands hftbacktest logs (gzip, `<local ns> <frame>` per line) and cryptofeed logs
    (`<unix s>: <frame>`, first line the URL); frames may be combined or raw. Other streams
    (depth, bookTicker, kline) are skipped.
    """
    with open(path, "rb") as probe:
        is_gzip = probe.read(2) == b"\x1f\x8b"
    opener: Callable[..., Any] = gzip.open if is_gzip else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for line_number, line in enumerate(lines, start=1):
            if '"e":"trade"' not in line and '"e":"aggTrade"' not in line:
                continue
            try:
                frame = orjson.loads(line[line.index("{"):])
            except orjson.JSONDecodeError:
                raise SimConfigError(f"{path}:{line_number}: not a JSON frame; is this a recording?") from None
            event = frame.get("data", frame)
            if event.get("e") in (TRADE, AGG_TRADE):
                yield event


SQLITE_MAGIC = b"SQLite format 3\x00"
# Binance dump layouts by column count: (market, event kind, column of id, time, maker, first/last ids)
# (spot trades and futures aggTrades both have 7 columns: only the futures files have a header row)
DUMP_LAYOUTS = {
    7: {"market": SPOT, "kind": TRADE, "id": 0, "time": 4, "maker": 5},
    8: {"market": SPOT, "kind": AGG_TRADE, "id": 0, "time": 5, "maker": 6, "first": 3, "last": 4},
    6: {"market": FUTURES, "kind": TRADE, "id": 0, "time": 4, "maker": 5},
}
FUTURES_AGG_DUMP = {"market": FUTURES, "kind": AGG_TRADE, "id": 0, "time": 5, "maker": 6, "first": 3, "last": 4}
DUMP_NAME = re.compile(r"^(?P<symbol>[A-Z0-9]{2,30})-(?:trades|aggTrades)-")


def iter_replay_events(path: Path) -> Iterator[dict[str, Any]]:
    """Trade / aggTrade events of any replay source, as stream events (``e``, ``s``, ids, ``p``, ``q``, ``T``...).

    Sources: recordings (see `iter_recorded_events`), a tick database of this product (its
    ``trades`` view and ``meta`` table), or Binance dump files (``BTCUSDT-trades-2024-08-09.csv``
    or ``.zip``; spot or futures, trades or aggTrades, with or without a header, ms or µs times).
    """
    try:
        with open(path, "rb") as probe:
            head = probe.read(16)
    except OSError as exc:
        raise SimConfigError(f"replay file {path} not found or unreadable ({exc.strerror})") from None
    if head == SQLITE_MAGIC:
        return _database_events(path)
    if path.suffix.lower() in (".csv", ".zip"):
        return _dump_events(path)
    return iter_recorded_events(path)


def _database_events(path: Path) -> Iterator[dict[str, Any]]:
    import sqlite3  # only replays of a database need it

    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        market, kind = meta.get("market", SPOT), meta.get("stream", TRADE)
        id_key = "t" if kind == TRADE else "a"
        rows = conn.execute("SELECT symbol, trade_id, ts_ms, price, qty, is_buyer_maker FROM trades "
                            "ORDER BY symbol, trade_id")
        for symbol, trade_id, ts_ms, price, qty, maker in rows:
            spec = make_spec(market, symbol)
            event = {"e": kind, "E": ts_ms, "s": symbol, id_key: trade_id,
                     "p": _decimal_text(price, spec.price_decimals), "q": _decimal_text(qty, spec.qty_decimals),
                     "T": ts_ms, "m": bool(maker)}
            if kind == AGG_TRADE:  # a database keeps aggregate ids only: one trade per aggregate
                event["f"] = event["l"] = trade_id
            if market == SPOT:
                event["M"] = True
            yield event
    except sqlite3.DatabaseError as exc:
        raise SimConfigError(f"{path}: not a tick database this sim can replay ({exc})") from None
    finally:
        conn.close()


def _decimal_text(value: float, decimals: int) -> str:
    """A stored float as Binance would write it: the listing's decimals when exact, else 8."""
    text = f"{value:.{decimals}f}"
    return text if float(text) == value else f"{value:.8f}"


def _dump_lines(path: Path) -> Iterator[str]:
    if path.suffix.lower() == ".zip":
        import io
        import zipfile

        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if len(names) != 1:
                raise SimConfigError(f"{path}: expected one CSV inside the zip, found {len(names)}")
            with archive.open(names[0]) as member:
                yield from io.TextIOWrapper(member, encoding="utf-8")
    else:
        with open(path, encoding="utf-8") as lines:
            yield from lines


def _dump_events(path: Path) -> Iterator[dict[str, Any]]:
    match = DUMP_NAME.match(path.name)
    if not match:
        raise SimConfigError(f"{path}: name a dump file like BTCUSDT-trades-2024-08-09.csv (the symbol comes from it)")
    symbol = match["symbol"]
    layout: dict[str, Any] | None = None
    for line_number, line in enumerate(_dump_lines(path), start=1):
        fields = line.strip().split(",")
        if fields == [""]:
            continue
        if layout is None:
            has_header = not fields[0].isdigit()
            layout = FUTURES_AGG_DUMP if has_header and len(fields) == 7 else DUMP_LAYOUTS.get(len(fields))
            if layout is None:
                raise SimConfigError(f"{path}:{line_number}: {len(fields)} columns is no Binance trades dump")
            if has_header:
                continue
        time_value = int(fields[layout["time"]])
        ts_ms = time_value // 1000 if time_value >= 10**14 else time_value
        kind = layout["kind"]
        event = {"e": kind, "E": ts_ms, "s": symbol, ("t" if kind == TRADE else "a"): int(fields[layout["id"]]),
                 "p": fields[1], "q": fields[2], "T": ts_ms, "m": fields[layout["maker"]].lower() == "true"}
        if kind == AGG_TRADE:
            event["f"], event["l"] = int(fields[layout["first"]]), int(fields[layout["last"]])
        if layout["market"] == SPOT:
            event["M"] = True
        yield event


def replay_market(paths: Sequence[Path]) -> str:
    """The market the replay sources hold (from their first event)."""
    for path in paths:
        for event in iter_replay_events(Path(path)):
            return recorded_market(event)
    raise SimConfigError("the replay files hold no @trade or @aggTrade events")


def recorded_market(event: dict[str, Any]) -> str:
    """Which market a recorded event came from: futures events carry "X" or lack "M"."""
    return FUTURES if "X" in event or "M" not in event else SPOT


def load_tape(paths: Sequence[Path], market: str) -> RecordedTape:
    """Read recordings into a replayable tape, checking market and id contiguity.

    A symbol with `@trade` frames replays them as recorded (ids, prices, times, E); its aggregates
    are derived. A symbol with only `@aggTrade` frames gets one synthetic trade per covered trade
    id (the aggregate's quantity split evenly), so the derived aggregates equal the recorded ones.
    """
    trades: dict[str, dict[int, dict[str, Any]]] = {}
    aggs: dict[str, dict[int, dict[str, Any]]] = {}
    for path in paths:
        count = 0
        for event in iter_replay_events(Path(path)):
            if recorded_market(event) != market:
                raise SimConfigError(
                    f"{path} holds {recorded_market(event)} frames; run with --market {recorded_market(event)}")
            target = trades if event["e"] == TRADE else aggs
            target.setdefault(event["s"], {})[event["t"] if event["e"] == TRADE else event["a"]] = event
            count += 1
        if count == 0:
            raise SimConfigError(f"{path} holds no @trade or @aggTrade frames")
        logger.info("replay: read %s events from %s", count, path)
    specs: dict[str, SymbolSpec] = {}
    per_symbol: list[list[Fill]] = []
    for symbol in sorted(set(trades) | set(aggs)):
        if symbol in trades:
            spec, fills = _fills_from_trades(market, symbol, trades[symbol])
        else:
            spec, fills = _fills_from_aggs(market, symbol, aggs[symbol])
        specs[symbol] = spec
        per_symbol.append(fills)
    merged = list(heapq.merge(*per_symbol, key=lambda fill: fill.time_us))
    return RecordedTape(market, specs, merged, AGG_TRADE if set(aggs) - set(trades) else TRADE)


def _check_contiguous(symbol: str, ids: list[int], what: str) -> None:
    for previous, current in zip(ids, ids[1:]):
        if current != previous + 1:
            raise SimConfigError(
                f"{symbol} {what} ids jump from {previous} to {current} in the replay files; "
                "replay one continuous window at a time")


def _recorded_spec(market: str, symbol: str, price: str, qty: str, first_trade_id: int,
                   first_agg_id: int | None) -> SymbolSpec:
    """The symbol's spec with the recording's decimals and first ids."""
    spec = make_spec(market, symbol)
    price_units, price_decimals = parse_fixed(price)
    _, qty_decimals = parse_fixed(qty)
    if (price_decimals, qty_decimals) != (spec.price_decimals, spec.qty_decimals):
        spec = dataclasses.replace(spec, price_decimals=price_decimals, tick_units=1, qty_decimals=qty_decimals,
                                   step_units=1)
    return dataclasses.replace(
        spec, first_trade_id=first_trade_id, first_agg_id=spec.first_agg_id if first_agg_id is None else first_agg_id,
        start_price=price_units / 10**price_decimals)


def _fills_from_trades(market: str, symbol: str, by_id: dict[int, dict[str, Any]]) -> tuple[SymbolSpec, list[Fill]]:
    ids = sorted(by_id)
    _check_contiguous(symbol, ids, "trade")
    first = by_id[ids[0]]
    spec = _recorded_spec(market, symbol, first["p"], first["q"], ids[0], None)
    fills = []
    for trade_id in ids:
        event = by_id[trade_id]
        fills.append(Fill(symbol, _units(event["p"], spec.price_decimals), _units(event["q"], spec.qty_decimals),
                          event["T"] * 1000, event["E"] * 1000, event["m"]))
    return spec, fills


def _fills_from_aggs(market: str, symbol: str, by_id: dict[int, dict[str, Any]]) -> tuple[SymbolSpec, list[Fill]]:
    ids = sorted(by_id)
    _check_contiguous(symbol, ids, "aggregate")
    events = [by_id[a] for a in ids]
    for previous, current in zip(events, events[1:]):
        if current["f"] != previous["l"] + 1:
            raise SimConfigError(f"{symbol} aggregate {current['a']} starts at trade {current['f']}, not "
                                 f"{previous['l'] + 1}; replay one continuous window at a time")
    spec = _recorded_spec(market, symbol, events[0]["p"], events[0]["q"], events[0]["f"], ids[0])
    fills = []
    for event in events:
        count = event["l"] - event["f"] + 1
        share, remainder = divmod(_units(event["q"], spec.qty_decimals), count)
        for n in range(count):
            fills.append(Fill(symbol, _units(event["p"], spec.price_decimals), share + (1 if n < remainder else 0),
                              event["T"] * 1000, event["E"] * 1000, event["m"], starts_aggregate=n == 0))
    return spec, fills


def _units(text: str, decimals: int) -> int:
    units, text_decimals = parse_fixed(text)
    return rescale_units(units, text_decimals, decimals)


class ReplayFeed:
    """Releases recorded fills when the replay clock reaches their time.

    The replay clock runs at `speed` times the wall clock from the first recorded trade; at speed
    0 it jumps to each next trade (as fast as possible, in chunks so the server stays responsive).
    """

    def __init__(self, fills: list[Fill], speed: float) -> None:
        self._fills = fills
        self._speed = speed
        self._position = 0
        self.clock_us = fills[0].time_us if fills else 0
        self._clock_anchor_us = self.clock_us
        self._wall_anchor_us: int | None = None

    @property
    def exhausted(self) -> bool:
        """True once every recorded fill has been released."""
        return self._position >= len(self._fills)

    def restart(self, wall_us: int) -> None:
        """Start, or continue after a pause, from the current replay clock."""
        self._wall_anchor_us = wall_us
        self._clock_anchor_us = self.clock_us

    def take(self, wall_us: int) -> list[Fill]:
        """Fills whose recorded time the replay clock has reached."""
        if self._wall_anchor_us is None:
            self.restart(wall_us)
        start = self._position
        if self._speed == 0:
            stop = min(start + REPLAY_CHUNK_FILLS, len(self._fills))
            if stop > start:
                self.clock_us = max(self.clock_us, self._fills[stop - 1].time_us)
        else:
            elapsed_us = (wall_us - self._wall_anchor_us) * self._speed
            self.clock_us = max(self.clock_us, int(self._clock_anchor_us + elapsed_us))
            stop = start
            while stop < len(self._fills) and self._fills[stop].time_us <= self.clock_us:
                stop += 1
        self._position = stop
        return self._fills[start:stop]


# ---------------------------------------------------------------------------------------------
# One WebSocket client
# ---------------------------------------------------------------------------------------------


class ControlError(Exception):
    """A bad live control message; `reply` is Binance's error object."""

    def __init__(self, code: int, msg: str, request_id: Any = None) -> None:
        super().__init__(msg)
        self.reply: dict[str, Any] = {"code": code, "msg": msg}
        if code == 0:
            self.reply["id"] = request_id


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
        try:
            return self._handle_control(message)
        except ControlError as exc:
            return exc.reply

    def _handle_control(self, message: str | bytes) -> dict[str, Any]:
        try:
            request = json.loads(message)
        except json.JSONDecodeError as exc:
            raise ControlError(3, f"Invalid JSON: expected value at line {exc.lineno} column {exc.colno}") from None
        except UnicodeDecodeError:
            raise ControlError(3, "Invalid JSON: expected value at line 1 column 1") from None
        if not isinstance(request, dict):
            raise ControlError(2, "Invalid request: expected a JSON object")
        request_id = request.get("id")
        if "method" not in request:
            raise ControlError(2, "Invalid request: missing field `method`")
        if not _valid_request_id(request_id):
            raise ControlError(2, "Invalid request: request ID must be an unsigned integer")
        method, params = request["method"], request.get("params", [])
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                raise ControlError(2, "Invalid request: params must be an array of stream names")
            if method == "SUBSCRIBE":
                if len(set(self.streams) | set(params)) > MAX_STREAMS_PER_CONNECTION:
                    raise ControlError(2, "Invalid request: too many streams")
                self.subscribe(params)
            else:
                self.unsubscribe(params)
            return {"result": None, "id": request_id}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": list(self.streams), "id": request_id}
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            return self._property(method, params, request_id)
        raise ControlError(2, f"Invalid request: unknown variant `{method}`, expected one of `SUBSCRIBE`, "
                              "`UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`")

    def _property(self, method: str, params: Any, request_id: Any) -> dict[str, Any]:
        if not isinstance(params, list) or not params or not isinstance(params[0], str):
            raise ControlError(2, "Invalid request: property name must be a string")
        if params[0] != "combined":
            raise ControlError(0, "Unknown property", request_id)
        if method == "GET_PROPERTY":
            return {"result": self.combined, "id": request_id}
        if len(params) != 2:
            raise ControlError(2, "Invalid request: too many parameters" if len(params) > 2 else
                               "Invalid request: missing property value")
        if not isinstance(params[1], bool):
            raise ControlError(1, "Invalid value type: expected Boolean")
        self.combined = params[1]
        return {"result": None, "id": request_id}

    # -- sending, with faults ---------------------------------------------------------------------

    def deliver(self, frame: bytes, event: dict[str, Any], kind: str, stream: str) -> None:
        """Send one market frame, applying the fault switches (see FaultSwitches)."""
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
        if junk_kind == "not_json":
            return NOT_JSON_TEXT, True
        if junk_kind == "truncated_json":
            return frame[: len(frame) // 2], True
        if junk_kind == "binary":
            return frame, False
        if junk_kind == "missing_id":
            broken = {k: v for k, v in event.items() if k != ("t" if kind == TRADE else "a")}
        elif junk_kind == "non_numeric_price":
            broken = {**event, "p": "abc"}
        else:
            broken = {"e": "mystery", "E": event["E"]}
        return WireFormat.frame(broken, stream, self.combined), True

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


def _valid_request_id(request_id: Any) -> bool:
    """Binance accepts a 64-bit integer, an alphanumeric string of up to 36 characters, or null."""
    if request_id is None:
        return True
    if isinstance(request_id, bool):
        return False
    if isinstance(request_id, int):
        return -(2**63) <= request_id < 2**63
    return isinstance(request_id, str) and len(request_id) <= 36 and request_id.isalnum()


# ---------------------------------------------------------------------------------------------
# REST
# ---------------------------------------------------------------------------------------------


class RestError(Exception):
    """A Binance REST error: HTTP status plus `{"code":..., "msg":...}`."""

    def __init__(self, status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.status = status
        self.body = {"code": code, "msg": msg}
        self.headers = headers or {}


INT_PATTERN = "^[0-9]{1,20}$"
SYMBOLS_PATTERN = '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'


class QueryParams:
    """Query-string parameters with Binance's validation errors, tracking which were read."""

    def __init__(self, query: str) -> None:
        self._values = dict(parse_qsl(query, keep_blank_values=True))
        self._read: set[str] = set()

    def has(self, name: str) -> bool:
        """Whether `name` was sent with a value (does not count as reading it)."""
        return self._values.get(name, "") != ""

    def text(self, name: str, required: bool = False) -> str | None:
        """A string parameter; -1102 when required and missing or empty."""
        self._read.add(name)
        value = self._values.get(name)
        if value in (None, ""):
            if required:
                raise RestError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
            return None
        return value

    def integer(self, name: str, required: bool = False) -> int | None:
        """A non-negative integer parameter; -1100 when it has other characters."""
        value = self.text(name, required)
        if value is None:
            return None
        if not re.fullmatch(r"[0-9]{1,20}", value):
            raise RestError(400, -1100,
                            f"Illegal characters found in parameter '{name}'; legal range is '{INT_PATTERN}'.")
        return int(value)

    def limit(self) -> int:
        """`limit`: default 500, 1..1000."""
        value = self.integer("limit")
        if value is None:
            return REST_DEFAULT_LIMIT
        if not 1 <= value <= REST_MAX_LIMIT:
            raise RestError(400, -1130, "Data sent for parameter 'limit' is not valid.")
        return value

    def finish(self) -> None:
        """-1104 when a parameter was sent that the endpoint does not read (catches typos)."""
        unread = set(self._values) - self._read
        if unread:
            raise RestError(400, -1104, f"Not all sent parameters were read; read '{len(self._values) - len(unread)}' "
                                        f"parameter(s) but was sent '{len(self._values)}'.")


@dataclass(frozen=True)
class RestRoute:
    """One REST endpoint: handler and request weight (`weight_all` when no symbol is given)."""

    handler: Callable[[QueryParams, Request], Any]
    weight: int
    weight_all: int | None = None


class WeightMeter:
    """Request weight used per wall-clock minute, as in `X-MBX-USED-WEIGHT-1M`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._minute = -1
        self.used = 0

    def add(self, weight: int) -> int:
        """Count a request's weight; returns the minute's total."""
        minute = int(time.time() // 60)
        if minute != self._minute:
            self._minute, self.used = minute, 0
        self.used += weight
        return self.used

    @staticmethod
    def seconds_to_next_minute() -> int:
        """Retry-After for a request over the limit."""
        return max(1, math.ceil(60 - time.time() % 60))


# ---------------------------------------------------------------------------------------------
# HTTP request bodies (for POST /sim/control)
# ---------------------------------------------------------------------------------------------


class _BodyReadingConnection(ServerConnection):
    """A ServerConnection that also accepts a request body, for `POST /sim/control`.

    websockets parses only body-less requests (a WebSocket handshake has none) and refuses a
    Content-Length. This peels the body off before the head reaches the parser and keeps it in
    `request_body`; WebSocket traffic after the handshake passes through untouched.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_body = b""
        self._head: bytearray | None = bytearray()

    def data_received(self, data: bytes) -> None:
        if self._head is None:
            super().data_received(data)
            return
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0 and len(self._head) <= MAX_REQUEST_HEAD_BYTES:
            return  # wait for the rest of the head
        head, rest = bytes(self._head[: end + 4]), bytes(self._head[end + 4:])
        if end < 0:
            head, rest = bytes(self._head), b""
        match = re.search(rb"(?im)^content-length:[ \t]*(\d+)[ \t]*\r\n", head)
        length = int(match.group(1)) if match else 0
        if len(rest) < length:
            return  # wait for the rest of the body
        self._head = None
        self.request_body = rest[:length]
        if match:
            head = head[: match.start()] + head[match.end():]
        super().data_received(head + rest[length:])

    def eof_received(self) -> bool | None:
        if self._head:
            pending, self._head = bytes(self._head), None
            super().data_received(pending)
        return super().eof_received()


# ---------------------------------------------------------------------------------------------
# The exchange
# ---------------------------------------------------------------------------------------------


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
        self.histories: dict[str, SymbolHistory] = {}
        self.sessions: set[ClientSession] = set()
        self.host = config.host
        self.port = config.port
        self._rng = random.Random(config.seed)
        self._model: MarketModel | None = None
        self._replay: ReplayFeed | None = None
        self._server: Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._trading_task: asyncio.Task[None] | None = None
        self._running = asyncio.Event()  # set while trading is not paused
        self._subscribed = asyncio.Event()
        self._paused = config.paused
        self._blast_claimed = False
        self.replay_stream: str | None = None  # with replay_files: the stream kind the files hold
        self._blast_result: dict[str, Any] | None = None
        self._weight = WeightMeter(config.weight_limit_1m or REST_WEIGHT_LIMIT_1M[config.market])
        self._rest_routes = self._build_rest_routes()
        self._sim_routes: dict[str, Callable[[QueryParams, Request, bytes], Any]] = {
            "/sim/history": self._sim_history, "/sim/stats": self._sim_stats, "/sim/control": self._sim_control,
        }

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the trades source, bind the port and start trading."""
        self._loop = asyncio.get_running_loop()
        self._prepare_market()
        ping_interval = self.config.ping_interval_s or PING_INTERVAL_S[self.market]
        ping_timeout = self.config.ping_timeout_s or PING_TIMEOUT_S[self.market]
        self._server = await serve(
            self._handle_connection, self.host, self.config.port,
            process_request=self._process_request, create_connection=_BodyReadingConnection,
            compression=None, ping_interval=ping_interval, ping_timeout=ping_timeout,
            close_timeout=CLOSE_TIMEOUT_S,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        if not self._paused:
            self._running.set()
        if not self.config.blast:
            self._trading_task = asyncio.create_task(self._trade_forever(), name="exchange_sim.trading")
        logger.info("%s exchange on %s:%s, symbols %s, %s", self.market, self.host, self.port,
                    ",".join(self.histories), self._mode())

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

    def _mode(self) -> str:
        if self.config.replay_files:
            return f"replaying {len(self.config.replay_files)} file(s) at speed {self.config.speed:g}"
        if self.config.blast:
            return f"blast of {self.config.blast} trades per symbol"
        return f"model at {self.config.rate_per_s:g} trades/s"

    def _prepare_market(self) -> None:
        """Histories per symbol, and the model or replay feed (blast: pre-filled history)."""
        if self.config.replay_files:
            tape = load_tape(self.config.replay_files, self.market)
            self.replay_stream = tape.stream
            self.histories = {symbol: SymbolHistory(spec) for symbol, spec in tape.specs.items()}
            if set(self.config.symbols) - set(tape.specs) and self.config.symbols != DEFAULT_SYMBOLS:
                logger.warning("replay: --symbols ignored; the files hold %s", ",".join(tape.specs))
            if self.config.blast:
                self._record(tape.fills, now_us=None)
            else:
                self._replay = ReplayFeed(tape.fills, self.config.speed)
            return
        specs = [make_spec(self.market, symbol) for symbol in self.config.symbols]
        self.histories = {spec.symbol: SymbolHistory(spec) for spec in specs}
        now_us = wall_us()
        self._model = MarketModel(specs, self.config.rate_per_s, self._rng, now_us)
        if self.config.blast:
            self._pregenerate(self.config.blast, now_us)

    def _pregenerate(self, per_symbol: int, now_us: int) -> None:
        """Fill the history with `per_symbol` model trades per symbol, the last one just now."""
        assert self._model is not None
        started = time.perf_counter()
        counts: Counter[str] = Counter()
        fills: list[Fill] = []
        horizon_us = now_us
        while min(counts[s] for s in self.histories) < per_symbol:
            horizon_us += 1_000_000
            for fill in self._model.take(horizon_us):
                if counts[fill.symbol] < per_symbol:
                    counts[fill.symbol] += 1
                    fills.append(fill)
        shift_us = now_us - max(f.time_us for f in fills) - BLAST_EVENT_SPACING_US
        self._record([f._replace(time_us=f.time_us + shift_us, event_us=f.time_us + shift_us + BLAST_EVENT_SPACING_US)
                      for f in fills], now_us=None)
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
                    fills = self._replay.take(wall_us())
                    self._publish(self._record(fills, now_us=None, clock_ms=self._replay.clock_us // 1000))
                    if self._replay.exhausted:
                        self._publish(self._close_all_aggregates(None))
                        logger.info("replay finished: %s trades", sum(len(h) for h in self.histories.values()))
                        return
                    await asyncio.sleep(0 if self.config.speed == 0 else TICK_S)
                elif self._model is not None:
                    now = wall_us()
                    self._publish(self._record(self._model.take(now), now_us=now, clock_ms=now // 1000))
                    await asyncio.sleep(TICK_S)
        except Exception:
            logger.exception("trading loop failed; the market is now idle")
            raise

    def _restart_feed(self) -> None:
        """Let the model or the replay clock continue from now, without a backlog."""
        if self._replay is not None:
            self._replay.restart(wall_us())
        elif self._model is not None:
            self._model.restart(wall_us())

    def _record(self, fills: Iterable[Fill], now_us: int | None,
                clock_ms: int | None = None) -> list[tuple[str, str, Trade | AggTrade]]:
        """Append fills to the histories; return the (kind, symbol, record) events to publish.

        `now_us` stamps E on fills without a recorded one. Aggregates whose millisecond is before
        `clock_ms` are closed afterwards (None: leave them to the next trade or the end).
        """
        events: list[tuple[str, str, Trade | AggTrade]] = []
        for fill in fills:
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

    def _close_all_aggregates(self, before_ms: int | None) -> list[tuple[str, str, Trade | AggTrade]]:
        events: list[tuple[str, str, Trade | AggTrade]] = []
        for symbol, history in self.histories.items():
            index = history.close_aggregate(before_ms)
            if index is not None:
                events.append((AGG_TRADE, symbol, history.aggregate(index)))
        return events

    def _publish(self, events: list[tuple[str, str, Trade | AggTrade]]) -> None:
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
        """Send the whole pre-generated history of the session's streams as fast as possible."""
        await asyncio.sleep(0)  # let the subscription reply go first
        started = time.perf_counter()
        frames = self._serialize_history(session)
        serialized = time.perf_counter()
        try:
            for frame in frames:
                await session.ws.send(frame, text=True)
        except ConnectionClosed:
            logger.warning("blast: client left early")
        finished = time.perf_counter()
        rate = len(frames) / (finished - serialized) if finished > serialized else 0.0
        self._blast_result = {"frames": len(frames), "serialize_s": round(serialized - started, 3),
                              "send_s": round(finished - serialized, 3), "frames_per_s": round(rate)}
        self.counters["frames_blast"] += len(frames)
        logger.info("blast: %s frames in %.3f s = %.0f frames/s (serialized beforehand in %.3f s)",
                    len(frames), finished - serialized, rate, serialized - started)

    def _serialize_history(self, session: ClientSession) -> list[bytes]:
        """Every recorded event of the session's streams, in time order, as frames."""
        streams = []
        for (symbol, kind), stream in session.wanted.items():
            history = self.histories[symbol]
            records: list[Trade | AggTrade] = []
            if kind == TRADE:
                records.extend(history.trades(0, len(history)))
            else:
                records.extend(history.aggregates(0, history.agg_count))
            streams.append([(r.event_us, kind, stream, r) for r in records])
        micros, combined = session.route.micros, session.combined
        return [WireFormat.frame(self.wire.event(kind, record, micros), stream, combined)
                for _, kind, stream, record in heapq.merge(*streams, key=lambda item: item[0])]

    # -- WebSocket connections --------------------------------------------------------------------

    async def _handle_connection(self, ws: ServerConnection) -> None:
        route = parse_ws_path(self.market, ws.request.path)
        assert route is not None  # _process_request answered 404 otherwise
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
        if path in self._rest_routes:
            return self._answer_rest(connection, request)
        if path in self._sim_routes:
            return self._answer_sim(connection, request)
        if parse_ws_path(self.market, request.path) is not None:
            return None
        return connection.respond(http.HTTPStatus.NOT_FOUND, "Not Found\n")

    def _answer_rest(self, connection: ServerConnection, request: Request) -> Response:
        parts = urlsplit(request.path)
        route = self._rest_routes[parts.path]
        params = QueryParams(parts.query)
        weight = route.weight if route.weight_all is None or params.has("symbol") else route.weight_all
        used = self._weight.add(weight)
        headers = {"X-MBX-USED-WEIGHT-1M": str(used)}
        self.counters["rest_requests"] += 1
        try:
            forced = self._forced_rest_error()
            if forced is not None:
                raise forced
            if used > self._weight.limit:
                raise RestError(429, -1003, f"Too many requests; current limit of IP({self.host}) request weight per "
                                            f"minute is {self._weight.limit}. Please use WebSocket Streams for live "
                                            "updates to avoid polling the API.",
                                {"Retry-After": str(WeightMeter.seconds_to_next_minute())})
            status, body = 200, route.handler(params, request)
            params.finish()
        except RestError as exc:
            status, body = exc.status, exc.body
            headers.update(exc.headers)
            self.counters[f"rest_{exc.status}"] += 1
        return json_response(connection, status, body, headers)

    def _forced_rest_error(self) -> RestError | None:
        """The next 429/418 requested by the rest_429 / rest_418 switches, if any."""
        retry = {"Retry-After": str(self.faults.retry_after_s)}
        if self.faults.rest_418 > 0:
            self.faults.rest_418 -= 1
            until_ms = wall_us() // 1000 + self.faults.retry_after_s * 1000
            return RestError(418, -1003, f"Way too many requests; IP({self.host}) banned until {until_ms}. "
                                         "Please use WebSocket Streams for live updates to avoid bans.", retry)
        if self.faults.rest_429 > 0:
            self.faults.rest_429 -= 1
            return RestError(429, -1003, "Too many requests; please use the websocket for live updates.", retry)
        return None

    def _answer_sim(self, connection: ServerConnection, request: Request) -> Response:
        parts = urlsplit(request.path)
        body = getattr(connection, "request_body", b"")
        try:
            result = self._sim_routes[parts.path](QueryParams(parts.query), request, body)
        except RestError as exc:
            return json_response(connection, exc.status, {"error": exc.body["msg"]}, {})
        except (ValueError, KeyError, TypeError) as exc:
            return json_response(connection, 400, {"error": str(exc).strip("'\"")}, {})
        return json_response(connection, 200, result, {})

    def _build_rest_routes(self) -> dict[str, RestRoute]:
        """Binance's endpoints for this market, with their request weights."""
        if self.market == SPOT:
            return {
                "/api/v3/ping": RestRoute(lambda p, r: {}, 1),
                "/api/v3/time": RestRoute(self._rest_time, 1),
                "/api/v3/exchangeInfo": RestRoute(self._rest_exchange_info, 20),
                "/api/v3/ticker/price": RestRoute(self._rest_ticker_price, 2, weight_all=4),
                "/api/v3/trades": RestRoute(self._rest_recent_trades, 25),
                "/api/v3/historicalTrades": RestRoute(self._rest_historical_trades, 25),
                "/api/v3/aggTrades": RestRoute(self._rest_agg_trades, 4),
            }
        return {
            "/fapi/v1/ping": RestRoute(lambda p, r: {}, 1),
            "/fapi/v1/time": RestRoute(self._rest_time, 1),
            "/fapi/v1/exchangeInfo": RestRoute(self._rest_exchange_info, 1),
            "/fapi/v1/ticker/price": RestRoute(self._rest_ticker_price, 1, weight_all=2),
            "/fapi/v1/trades": RestRoute(self._rest_recent_trades, 5),
            "/fapi/v1/historicalTrades": RestRoute(self._rest_historical_trades, 20),
            "/fapi/v1/aggTrades": RestRoute(self._rest_agg_trades, 20),
        }

    def _history_for(self, params: QueryParams) -> SymbolHistory:
        symbol = params.text("symbol", required=True)
        assert symbol is not None
        history = self.histories.get(symbol)
        if history is None:
            raise RestError(400, -1121, "Invalid symbol.")
        return history

    def _rest_micros(self, request: Request) -> bool:
        """Spot answers in microseconds when asked with `X-MBX-TIME-UNIT: MICROSECOND`."""
        return self.market == SPOT and request.headers.get("X-MBX-TIME-UNIT", "").upper() == "MICROSECOND"

    def _rest_time(self, params: QueryParams, request: Request) -> dict[str, int]:
        return {"serverTime": self.now_us() // 1000}

    def _requested_symbols(self, params: QueryParams) -> list[str] | None:
        """`symbol=X` -> [X]; spot's `symbols=["X","Y"]` -> [X, Y]; neither -> None (all)."""
        symbol = params.text("symbol")
        symbols = params.text("symbols") if self.market == SPOT else None
        if symbol is not None:
            wanted = [symbol]
        elif symbols is not None:
            try:
                wanted = json.loads(symbols)
            except json.JSONDecodeError:
                wanted = None
            if not isinstance(wanted, list) or not all(isinstance(s, str) for s in wanted):
                raise RestError(400, -1100, "Illegal characters found in parameter 'symbols'; legal range is "
                                            f"'{SYMBOLS_PATTERN}'.")
        else:
            return None
        if any(s not in self.histories for s in wanted):
            raise RestError(400, -1121, "Invalid symbol.")
        return wanted

    def _rest_ticker_price(self, params: QueryParams, request: Request) -> Any:
        wanted = self._requested_symbols(params)
        if wanted is not None and params.has("symbol"):
            return self._ticker(self.histories[wanted[0]])
        return [self._ticker(self.histories[s]) for s in wanted or self.histories]

    def _ticker(self, history: SymbolHistory) -> dict[str, Any]:
        spec = history.spec
        units = history.last_price_units
        if units is None:
            units = round(spec.start_price * 10**spec.price_decimals / spec.tick_units) * spec.tick_units
        ticker: dict[str, Any] = {"symbol": spec.symbol, "price": spec.price_text(units)}
        if self.market == FUTURES:
            ticker["time"] = history.trade(-1).time_us // 1000 if len(history) else self.now_us() // 1000
        return ticker

    def _rest_recent_trades(self, params: QueryParams, request: Request) -> list[dict[str, Any]]:
        history, limit = self._history_for(params), params.limit()
        micros = self._rest_micros(request)
        recent = history.trades(len(history) - limit, len(history))
        return [self.wire.rest_trade(t, history.spec, micros) for t in recent]

    def _rest_historical_trades(self, params: QueryParams, request: Request) -> list[dict[str, Any]]:
        if self.market == FUTURES:
            self._require_api_key(request)
        history, limit, from_id = self._history_for(params), params.limit(), params.integer("fromId")
        start = len(history) - limit if from_id is None else max(history.trade_index(from_id), 0)
        micros = self._rest_micros(request)
        return [self.wire.rest_trade(t, history.spec, micros) for t in history.trades(start, start + limit)]

    def _require_api_key(self, request: Request) -> None:
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise RestError(401, -2014, "API-key format invalid.")
        if key != self.config.api_key:
            raise RestError(401, -2015, f"Invalid API-key, IP, or permissions for action, request ip: {self.host}")

    def _rest_agg_trades(self, params: QueryParams, request: Request) -> list[dict[str, Any]]:
        history, limit = self._history_for(params), params.limit()
        from_id = params.integer("fromId")
        start_time, end_time = params.integer("startTime"), params.integer("endTime")
        micros = self._rest_micros(request)
        unit_us = 1 if micros else 1000
        if from_id is not None and (start_time is not None or end_time is not None) and self.market == FUTURES:
            raise RestError(400, -1128, "Combination of optional parameters invalid.")
        window_ms = (end_time - start_time) * unit_us // 1000 if start_time is not None and end_time is not None else 0
        if window_ms > AGG_TRADES_MAX_WINDOW_MS:
            raise RestError(400, -1127, "More than 1 hours between startTime and endTime.")
        count = history.agg_count
        start = count - limit
        if from_id is not None:
            start = max(history.agg_index(from_id), 0)
        elif start_time is not None:
            start = history.agg_index_at(start_time * unit_us)
        elif end_time is not None:
            start = history.agg_index_at((end_time + 1) * unit_us) - limit
        records = history.aggregates(start, start + limit)
        if end_time is not None:
            records = [a for a in records if a.time_us < (end_time + 1) * unit_us]
        if start_time is not None:
            records = [a for a in records if a.time_us >= start_time * unit_us]
        return [self.wire.rest_agg(a, micros) for a in records]

    def _rest_exchange_info(self, params: QueryParams, request: Request) -> dict[str, Any]:
        wanted = (self._requested_symbols(params) if self.market == SPOT else None) or list(self.histories)
        return exchange_info(self.market, [self.histories[s].spec for s in wanted], self.now_us() // 1000,
                             self._weight.limit)

    # -- /sim/ --------------------------------------------------------------------------------------

    def _sim_history(self, params: QueryParams, request: Request, body: bytes) -> list[dict[str, Any]]:
        symbol = params.text("symbol") or ""
        return self.history(symbol, params.text("kind") or TRADE, params.integer("fromId"), params.integer("limit"))

    def _sim_stats(self, params: QueryParams, request: Request, body: bytes) -> dict[str, Any]:
        return self._stats_now()

    def _sim_control(self, params: QueryParams, request: Request, body: bytes) -> dict[str, Any]:
        if request.method == "GET" or not body.strip():
            return self._switches()
        changes = json.loads(body)
        if not isinstance(changes, dict):
            raise ValueError("the control body must be a JSON object")
        return self._apply_control(changes)

    # -- Python API (thread-safe) ----------------------------------------------------------------

    def history(self, symbol: str, kind: str = TRADE, from_id: int | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
        """Ground-truth trades (`kind="trade"`) or closed aggregates (`"aggTrade"`) of `symbol`.

        Records use the stream keys with strings exactly as sent: trades {t,p,q,T,E,m}, aggregates
        {a,p,q,f,l,T,E,m}; times in ms. `from_id` selects the first id, `limit` caps the count.
        """
        return self._call_in_loop(self._history_now, symbol.upper(), kind, from_id, limit)

    def stats(self) -> dict[str, Any]:
        """Counts per symbol, connections, frames sent, faults injected, REST use (as /sim/stats)."""
        return self._call_in_loop(self._stats_now)

    def control(self, **switches: Any) -> dict[str, Any]:
        """Change the sim at runtime; returns the resulting switches. Keys (also POST /sim/control):

        any FaultSwitches field (drop_every, silent_after, silent_for_s, junk_every, resend_every,
        gap_every, gap_size, rest_429, rest_418, retry_after_s, max_connection_s, shutdown_after_s,
        shutdown_grace_s); paused (bool); rate_per_s (model); server_shutdown (true: announce
        serverShutdown on every connection, close after shutdown_grace_s); drop_all (true: drop
        every connection abruptly now); shock ({"symbol": "ETHUSDT", "pct": 1.5}: move that
        symbol's model price level by pct percent).
        """
        return self._call_in_loop(self._apply_control, switches)

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

    def _history_now(self, symbol: str, kind: str, from_id: int | None, limit: int | None) -> list[dict[str, Any]]:
        history = self.histories.get(symbol)
        if history is None:
            raise ValueError(f"unknown symbol {symbol!r}; the sim trades {', '.join(self.histories)}")
        if kind == TRADE:
            start = 0 if from_id is None else max(history.trade_index(from_id), 0)
            stop = len(history) if limit is None else start + limit
            return [history_record(kind, t) for t in history.trades(start, stop)]
        if kind == AGG_TRADE:
            start = 0 if from_id is None else max(history.agg_index(from_id), 0)
            stop = history.agg_count if limit is None else start + limit
            return [history_record(kind, a) for a in history.aggregates(start, stop)]
        raise ValueError(f"kind must be {TRADE!r} or {AGG_TRADE!r}, got {kind!r}")

    def _stats_now(self) -> dict[str, Any]:
        symbols = {}
        for symbol, history in self.histories.items():
            last = history.trade(-1) if len(history) else None
            symbols[symbol] = {
                "trades": len(history), "first_trade_id": history.first_trade_id,
                "last_trade_id": last.trade_id if last else None, "agg_trades": history.agg_count,
                "first_agg_id": history.first_agg_id,
                "last_agg_id": history.first_agg_id + history.agg_count - 1 if history.agg_count else None,
                "last_price": last.price if last else None,
            }
        counters = dict(self.counters)
        return {
            "market": self.market, "mode": self._mode(), "replay_stream": self.replay_stream, "clock_ms": self.now_us() // 1000, "paused": self._paused,
            "symbols": symbols,
            "connections": {"open": len(self.sessions), "total": counters.get("connections_total", 0),
                            "clients": [s.describe() for s in self.sessions]},
            "frames_sent": {k.removeprefix("frames_"): v for k, v in counters.items() if k.startswith("frames_")},
            "faults": {k: v for k, v in counters.items()
                       if k.startswith(("drops_", "rest_4")) or k in FAULT_COUNTERS},
            "rest": {"requests": counters.get("rest_requests", 0), "weight_used_1m": self._weight.used,
                     "weight_limit_1m": self._weight.limit},
            "control_messages": counters.get("control_messages", 0),
            "switches": self._switches(),
            "blast": self._blast_result,
        }

    def _switches(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self.faults), "paused": self._paused, "rate_per_s": self.config.rate_per_s}

    def _apply_control(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Validate everything first, then apply: a bad request changes nothing."""
        self._validate_control(changes)
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
        return self._switches()

    def _validate_control(self, changes: dict[str, Any]) -> None:
        """Raise ValueError naming the first bad key or value in a control request."""
        unknown = set(changes) - FAULT_SWITCH_NAMES - CONTROL_ACTIONS
        if unknown:
            valid = sorted(FAULT_SWITCH_NAMES | CONTROL_ACTIONS)
            raise ValueError(f"unknown control keys {sorted(unknown)}; valid: {valid}")
        dataclasses.replace(self.faults).update({k: v for k, v in changes.items() if k in FAULT_SWITCH_NAMES})
        shock = changes.get("shock")
        if shock is not None:
            symbol, pct = (shock.get("symbol"), shock.get("pct")) if isinstance(shock, dict) else (None, None)
            traded = isinstance(symbol, str) and symbol.upper() in self.histories
            if not traded or not _is_number(pct) or pct <= -100:
                raise ValueError('shock must look like {"symbol": "ETHUSDT", "pct": 1.5}, for a traded symbol')
            if self._model is None:
                raise ValueError("shock needs the model; this sim is replaying or blasting")
        rate = changes.get("rate_per_s")
        if rate is not None and (not _is_number(rate) or rate < 0):
            raise ValueError("rate_per_s must be a non-negative number")
        for flag in ("paused", "server_shutdown", "drop_all"):
            if flag in changes and not isinstance(changes[flag], bool):
                raise ValueError(f"{flag} must be true or false")


def _is_number(value: Any) -> bool:
    """An int or float that is not a bool (JSON true is not a number)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


CONTROL_ACTIONS = frozenset({"paused", "rate_per_s", "server_shutdown", "drop_all", "shock"})
FAULT_COUNTERS = frozenset({"silenced_frames", "gap_frames", "resent_frames", "junk_frames", "silences",
                            "server_shutdowns", "rate_limit_closes", "lifetime_closes", "shocks"})


def wall_us() -> int:
    """Wall clock, microseconds since the epoch."""
    return time.time_ns() // 1000


def json_response(connection: ServerConnection, status: int, body: Any, headers: dict[str, str]) -> Response:
    """A JSON HTTP answer built on `connection.respond`, with extra headers."""
    response = connection.respond(status, orjson.dumps(body).decode())
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = JSON_CONTENT_TYPE
    for name, value in headers.items():
        response.headers[name] = value
    return response


def exchange_info(market: str, specs: Sequence[SymbolSpec], server_time_ms: int, weight_limit: int) -> dict[str, Any]:
    """`/api/v3/exchangeInfo` or `/fapi/v1/exchangeInfo` for `specs` (trimmed to what matters)."""
    rate_limits = [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": weight_limit},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100 if market == SPOT else 300},
        {"rateLimitType": "ORDERS", "interval": "DAY" if market == SPOT else "MINUTE", "intervalNum": 1,
         "limit": 200000 if market == SPOT else 1200},
    ]
    if market == SPOT:
        rate_limits.append({"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000})
        return {"timezone": "UTC", "serverTime": server_time_ms, "rateLimits": rate_limits, "exchangeFilters": [],
                "symbols": [_spot_symbol_info(spec) for spec in specs]}
    return {"timezone": "UTC", "serverTime": server_time_ms, "futuresType": "U_MARGINED", "rateLimits": rate_limits,
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [_futures_symbol_info(spec) for spec in specs]}


def _spot_symbol_info(spec: SymbolSpec) -> dict[str, Any]:
    price, qty = spec.price_text, spec.qty_text
    return {
        "symbol": spec.symbol, "status": "TRADING", "baseAsset": spec.base_asset, "baseAssetPrecision": 8,
        "quoteAsset": spec.quote_asset, "quotePrecision": 8, "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
                       "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True, "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True, "cancelReplaceAllowed": True, "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": True,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": price(spec.tick_units),
             "maxPrice": price(spec.tick_units * 10**8), "tickSize": price(spec.tick_units)},
            {"filterType": "LOT_SIZE", "minQty": qty(spec.step_units), "maxQty": qty(spec.step_units * 9 * 10**8),
             "stepSize": qty(spec.step_units)},
            {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
        ],
        "permissions": [], "permissionSets": [["SPOT", "MARGIN"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def _futures_symbol_info(spec: SymbolSpec) -> dict[str, Any]:
    price, qty = spec.price_text, spec.qty_text
    return {
        "symbol": spec.symbol, "pair": spec.symbol, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000, "status": "TRADING", "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000", "baseAsset": spec.base_asset, "quoteAsset": spec.quote_asset,
        "marginAsset": spec.quote_asset, "pricePrecision": spec.price_decimals,
        "quantityPrecision": spec.qty_decimals, "baseAssetPrecision": 8, "quotePrecision": 8,
        "underlyingType": "COIN", "underlyingSubType": [], "triggerProtect": "0.0500", "liquidationFee": "0.012500",
        "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": price(spec.tick_units),
             "maxPrice": price(spec.tick_units * 10**8), "tickSize": price(spec.tick_units)},
            {"filterType": "LOT_SIZE", "minQty": qty(spec.step_units), "maxQty": qty(spec.step_units * 10**6),
             "stepSize": qty(spec.step_units)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": qty(spec.step_units),
             "maxQty": qty(spec.step_units * 10**5), "stepSize": qty(spec.step_units)},
            {"filterType": "MIN_NOTIONAL", "notional": "5"},
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                       "TRAILING_STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }


# ---------------------------------------------------------------------------------------------
# Running in a background thread (for synchronous tests)
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def run_in_thread(sim: ExchangeSim, start_timeout_s: float = 30.0) -> Iterator[ExchangeSim]:
    """Run `sim` on its own event loop in a daemon thread; stop it on exit.

    with run_in_thread(ExchangeSim(rate_per_s=200)) as sim:
        urllib.request.urlopen(sim.http_url("/api/v3/ping"))
    """
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(sim.start())
        except BaseException as exc:  # reported to the caller's thread below
            failure.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="exchange_sim", daemon=True)
    thread.start()
    if not started.wait(start_timeout_s):
        raise TimeoutError("exchange_sim did not start")
    if failure:
        thread.join()
        loop.close()
        raise failure[0]
    try:
        yield sim
    finally:
        asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def build_arg_parser() -> argparse.ArgumentParser:
    """The CLI; every option is documented (a test checks)."""
    parser = argparse.ArgumentParser(
        prog="exchange_sim.py",
        description="A local exchange on loopback speaking Binance's market-data wire format "
                    "(WebSocket @trade/@aggTrade and the REST gap-fill endpoints) for one market. "
                    "Prints 'exchange_sim listening on HOST:PORT' as its first stdout line.",
        epilog="Runtime control (not Binance): GET /sim/history?symbol=&kind=trade|aggTrade&fromId=&limit=, "
               "GET /sim/stats, POST /sim/control with a JSON object of switches (fault switch names as "
               "below with _ instead of -, seconds in *_s; plus paused, rate_per_s, server_shutdown, "
               "drop_all, shock={\"symbol\":\"ETHUSDT\",\"pct\":1.5}).",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="interface to listen on (default %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default %(default)s)")
    parser.add_argument("--market", choices=MARKETS,
                        help="spot (/ws, /stream, /api/v3) or USD-M futures (/market, /public, /fapi/v1); "
                             "default spot, or the market of the --replay files")
    parser.add_argument("--symbols", default=",".join(DEFAULT_SYMBOLS),
                        help="comma-separated symbols to trade in model mode (default %(default)s)")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE_PER_S,
                        help="model trades per second across all symbols, long-run average (default %(default)s)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for a reproducible model")
    parser.add_argument("--replay", nargs="+", type=Path, default=(), metavar="FILE",
                        help="replay instead of the model: recorded frames (hftbacktest .gz, cryptofeed futures "
                             "log), a tick database of this product, or Binance dump files (.csv/.zip)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="replay speed: 1 = real time, 10 = ten times faster, 0 = as fast as possible")
    parser.add_argument("--blast", type=int, default=0, metavar="N",
                        help="pre-generate N trades per symbol (or load the replay files) and send them as fast "
                             "as possible to the first subscriber; no live trading (throughput benchmarks)")
    parser.add_argument("--wait-for-subscriber", action="store_true",
                        help="start trading or replaying only when the first stream is subscribed")
    parser.add_argument("--paused", action="store_true", help="start with trading paused (resume via /sim/control)")
    parser.add_argument("--ping-interval", type=float, default=None, metavar="S",
                        help="server keep-alive ping interval (default: spot 20 s, futures 180 s)")
    parser.add_argument("--ping-timeout", type=float, default=None, metavar="S",
                        help="drop a client that has not answered a ping within S s (default: spot 60, futures 600)")
    parser.add_argument("--extra-fields", action="store_true",
                        help="futures: add the newer 'nq' (aggTrade) and 'st' keys to frames")
    parser.add_argument("--api-key", default=None,
                        help="X-MBX-APIKEY value accepted by /fapi/v1/historicalTrades (default: none accepted)")
    parser.add_argument("--weight-limit", type=int, default=None,
                        help="REST request weight per minute before HTTP 429 (default: spot 6000, futures 2400)")
    faults = parser.add_argument_group("fault switches (per connection; 0 = off; also at runtime via /sim/control)")
    faults.add_argument("--drop-every", type=int, default=0, metavar="N",
                        help="close the TCP connection without a close frame after every N market frames")
    faults.add_argument("--silent-after", type=int, default=0, metavar="N",
                        help="after every N market frames go silent (still answering pings) for --silent-for")
    faults.add_argument("--silent-for", type=float, default=0.0, metavar="S", help="length of each silence, seconds")
    faults.add_argument("--junk-every", type=int, default=0, metavar="N",
                        help="after every N frames send a corrupted frame: non-JSON, truncated JSON, missing id, "
                             "non-numeric price, unknown event type, binary frame (in rotation)")
    faults.add_argument("--resend-every", type=int, default=0, metavar="N",
                        help=f"after every N frames send again the frame from {RESEND_DEPTH} frames back")
    faults.add_argument("--gap-every", type=int, default=0, metavar="N",
                        help="after every N frames skip --gap-size trades on the socket (they stay in REST)")
    faults.add_argument("--gap-size", type=int, default=1, metavar="K", help="trades skipped per gap (default 1)")
    faults.add_argument("--rest-429", type=int, default=0, metavar="K",
                        help="answer the next K REST requests with HTTP 429 and Retry-After")
    faults.add_argument("--rest-418", type=int, default=0, metavar="K",
                        help="answer the next K REST requests with HTTP 418 (IP ban) and Retry-After")
    faults.add_argument("--retry-after", type=int, default=2, metavar="S",
                        help="Retry-After seconds on forced 429/418 answers (default 2)")
    faults.add_argument("--max-connection-s", type=float, default=0.0, metavar="S",
                        help="close each connection S seconds after it opened (Binance's 24 h limit, shrunk)")
    faults.add_argument("--shutdown-after", type=float, default=0.0, metavar="S",
                        help="send serverShutdown S seconds after each connection opened, then close it")
    faults.add_argument("--shutdown-grace", type=float, default=1.0, metavar="S",
                        help="seconds between serverShutdown and the close (default 1)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="stderr log level (default %(default)s)")
    return parser


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """Map parsed CLI options onto a SimConfig."""
    faults = FaultSwitches(
        drop_every=args.drop_every, silent_after=args.silent_after, silent_for_s=args.silent_for,
        junk_every=args.junk_every, resend_every=args.resend_every, gap_every=args.gap_every,
        gap_size=args.gap_size, rest_429=args.rest_429, rest_418=args.rest_418, retry_after_s=args.retry_after,
        max_connection_s=args.max_connection_s, shutdown_after_s=args.shutdown_after,
        shutdown_grace_s=args.shutdown_grace,
    )
    market = args.market or (replay_market([Path(p) for p in args.replay]) if args.replay else SPOT)
    config = SimConfig(
        host=args.host, port=args.port, market=market,
        symbols=tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip()),
        rate_per_s=args.rate, seed=args.seed, replay_files=tuple(args.replay), speed=args.speed, blast=args.blast,
        wait_for_subscriber=args.wait_for_subscriber, paused=args.paused, ping_interval_s=args.ping_interval,
        ping_timeout_s=args.ping_timeout, extra_fields=args.extra_fields, api_key=args.api_key,
        weight_limit_1m=args.weight_limit, faults=faults,
    )
    config.validate()
    return config


async def serve_until_signalled(config: SimConfig) -> int:
    """Run the sim until SIGINT or SIGTERM; returns the exit code."""
    sim = ExchangeSim(config)
    try:
        await sim.start()
    except OSError as exc:
        print(f"exchange_sim: cannot listen on {config.host}:{config.port}: {exc.strerror or exc}; "
              "pick another --port (0 = any free port)", file=sys.stderr)
        return 2
    except SimConfigError as exc:
        print(f"exchange_sim: {exc}", file=sys.stderr)
        return 2
    print(LISTENING_LINE.format(host=sim.host, port=sim.port), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    logger.info("signal received; shutting down")
    await sim.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point."""
    args = build_arg_parser().parse_args(argv)
    level = getattr(logging, args.log_level)
    logging.basicConfig(stream=sys.stderr, level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # websockets logs every plain HTTP answer at INFO; keep it for --log-level DEBUG only.
    logging.getLogger("websockets").setLevel(max(level, logging.WARNING) if level > logging.DEBUG else level)
    try:
        config = config_from_args(args)
    except SimConfigError as exc:
        print(f"exchange_sim: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(serve_until_signalled(config))


if __name__ == "__main__":
    sys.exit(main())
