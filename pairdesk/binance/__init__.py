"""Binance's wire format: stream URLs, frame parsers and the REST client that fills gaps.

The parsers are pure: a frame in, a typed ``Trade`` (or a control event, or ``None`` for market
data we do not store) out; anything malformed raises ``BadFrame`` with a short kind for counting.
Prices and quantities are converted from Binance's strings once, here.
"""
from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from dataclasses import dataclass
from typing import NamedTuple

import httpx
import orjson

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- endpoints

DEFAULT_WS_URL = {"spot": "wss://stream.binance.com:9443", "futures": "wss://fstream.binance.com"}
DEFAULT_REST_URL = {"spot": "https://api.binance.com", "futures": "https://fapi.binance.com"}
DEFAULT_STREAM = {"spot": "trade", "futures": "aggTrade"}
# Since 2026-04-23 USD-M futures routes streams by path: aggTrade under /market, the
# high-frequency streams (and @trade, per the newest ccxt routing) under /public.
FUTURES_WS_PREFIX = {"aggTrade": "/market", "trade": "/public"}

# REST gap-filling endpoints: (path, request weight). Futures historicalTrades needs an API key.
REST_PAGE_LIMIT = 1000
_FETCH_ENDPOINT = {
    ("spot", "trade"): ("/api/v3/historicalTrades", 25),
    ("spot", "aggTrade"): ("/api/v3/aggTrades", 4),
    ("futures", "trade"): ("/fapi/v1/historicalTrades", 20),
    ("futures", "aggTrade"): ("/fapi/v1/aggTrades", 20),
}
_RECENT_ENDPOINT = {
    ("spot", "trade"): ("/api/v3/trades", 25),
    ("spot", "aggTrade"): ("/api/v3/aggTrades", 4),
    ("futures", "trade"): ("/fapi/v1/trades", 5),
    ("futures", "aggTrade"): ("/fapi/v1/aggTrades", 20),
}
_EXCHANGE_INFO = {"spot": ("/api/v3/exchangeInfo", 20), "futures": ("/fapi/v1/exchangeInfo", 1)}
# Request weight allowed per minute, and the share of it a backfill may use (the rest is left
# for anything else sharing this IP).
WEIGHT_LIMIT_PER_MIN = {"spot": 6000, "futures": 2400}
WEIGHT_SHARE = 0.5
HTTP_TIMEOUT_S = 10.0


def stream_name(symbol: str, kind: str) -> str:
    """``btcusdt@trade``: stream names are lower case."""
    return f"{symbol.lower()}@{kind}"


def _ws_prefix(base: str, market: str, kind: str) -> str:
    if market != "futures" or base.rstrip("/").endswith(("/market", "/public")):
        return base.rstrip("/")
    return base.rstrip("/") + FUTURES_WS_PREFIX[kind]


def raw_stream_url(base: str, market: str, kind: str, symbol: str) -> str:
    """The raw-stream URL of one symbol: ``<base>[/market|/public]/ws/<symbol>@<kind>``."""
    return f"{_ws_prefix(base, market, kind)}/ws/{stream_name(symbol, kind)}"


def combined_stream_url(base: str, market: str, kind: str, symbols: list[str]) -> str:
    """The combined-stream URL for all symbols: ``<base>[/market|/public]/stream?streams=a/b``."""
    streams = "/".join(stream_name(s, kind) for s in symbols)
    return f"{_ws_prefix(base, market, kind)}/stream?streams={streams}"


# --------------------------------------------------------------------------- frames


class Trade(NamedTuple):
    """One trade as stored: ``trade_id`` is the aggregate id ``a`` for aggTrade streams."""

    symbol: str
    trade_id: int
    ts_ms: int
    price: float
    qty: float
    is_buyer_maker: bool


@dataclass(frozen=True)
class Control:
    """A non-trade message that matters to the connection: ``server_shutdown``, ``result``, ``error``."""

    kind: str
    payload: dict


class BadFrame(ValueError):
    """A frame that cannot be stored; ``kind`` names the problem for counting."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


# Market data we receive on shared connections but do not store (skipped, not counted as bad).
IGNORED_EVENTS = frozenset({"depthUpdate", "bookTicker", "kline", "markPriceUpdate", "24hrTicker",
                            "24hrMiniTicker", "forceOrder", "continuous_kline", "compositeIndex"})
MICROSECONDS_ABOVE = 10**14  # a ms epoch reaches 1e14 only in the year 5138


def _ms(value: object, field: str) -> int:
    if type(value) is not int:
        raise BadFrame("bad_time", f"{field}={value!r}")
    return value // 1000 if value >= MICROSECONDS_ABOVE else value


def _id(value: object, field: str) -> int:
    if type(value) is not int or value < 0:
        raise BadFrame("bad_id", f"{field}={value!r}")
    return value


def _decimal(value: object, field: str, allow_zero: bool) -> float:
    """Binance sends prices and quantities as decimal strings; anything else is a bad frame."""
    if type(value) is not str:
        raise BadFrame("bad_number", f"{field}={value!r}")
    try:
        number = float(value)
    except ValueError:
        raise BadFrame("bad_number", f"{field}={value!r}") from None
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        raise BadFrame("bad_number", f"{field}={value!r}")
    return number


def _bool(value: object, field: str) -> bool:
    if type(value) is not bool:
        raise BadFrame("bad_flag", f"{field}={value!r}")
    return value


def _symbol(value: object) -> str:
    if type(value) is not str or not value:
        raise BadFrame("bad_symbol", f"s={value!r}")
    return value.upper()


def _required(event: dict, key: str) -> object:
    try:
        return event[key]
    except KeyError:
        raise BadFrame("missing_field", key) from None


def parse_trade_event(event: dict) -> Trade:
    """A spot or futures ``@trade`` event.

    Spot (2024 format): ``{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,
    "p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}``; before
    2024-06-18 it also carried ``"b"`` and ``"a"`` (order ids), which are ignored.
    Futures: ``{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT","t":5266583935,
    "p":"61800.30","q":"0.006","X":"MARKET","m":false}``.
    """
    return Trade(_symbol(_required(event, "s")), _id(_required(event, "t"), "t"), _ms(_required(event, "T"), "T"),
                 _decimal(_required(event, "p"), "p", allow_zero=False),
                 _decimal(_required(event, "q"), "q", allow_zero=True), _bool(_required(event, "m"), "m"))


def parse_agg_trade_event(event: dict) -> Trade:
    """A spot or futures ``@aggTrade`` event; the stored trade id is the aggregate id ``a``.

    Futures: ``{"e":"aggTrade","E":1626992741575,"a":16599292,"s":"CTKUSDT","p":"1.01100",
    "q":"10","f":23961322,"l":23961322,"T":1626992741421,"m":false}``; spot adds ``"M"``,
    newer futures frames add ``"nq"`` and ``"st"`` (ignored).
    """
    return Trade(_symbol(_required(event, "s")), _id(_required(event, "a"), "a"), _ms(_required(event, "T"), "T"),
                 _decimal(_required(event, "p"), "p", allow_zero=False),
                 _decimal(_required(event, "q"), "q", allow_zero=True), _bool(_required(event, "m"), "m"))


_EVENT_PARSERS = {"trade": parse_trade_event, "aggTrade": parse_agg_trade_event}


def parse_message(raw: str | bytes, kind: str) -> Trade | Control | None:
    """Parse one WebSocket message of a raw or combined stream carrying ``kind`` events.

    Returns a Trade, a Control (``serverShutdown``, a SUBSCRIBE answer, an error), or None for
    market data that is not stored (depth, bookTicker, klines...). Raises BadFrame otherwise,
    including for trades of the other kind (an aggTrade on a trade connection).

    Combined frames wrap the event: ``{"stream":"btcusdt@trade","data":{...}}``.
    """
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadFrame("not_json") from None
    if type(message) is not dict:
        raise BadFrame("not_object")
    data = message.get("data")
    if "stream" in message and type(data) is dict:
        message = data
    event_type = message.get("e")
    if event_type == kind:
        return _EVENT_PARSERS[kind](message)
    if event_type in _EVENT_PARSERS:
        raise BadFrame("unexpected_event", str(event_type))
    if event_type in IGNORED_EVENTS:
        return None
    if event_type == "serverShutdown":
        return Control("server_shutdown", message)
    if event_type is None:
        if "result" in message and "id" in message:
            return Control("result", message)
        if "code" in message and "msg" in message:
            return Control("error", message)
        if "u" in message and "b" in message and "a" in message:  # spot bookTicker carries no "e"
            return None
        if "lastUpdateId" in message:  # partial book depth (@depth5 etc.) carries no "e" either
            return None
    raise BadFrame("unknown_event", str(event_type))


def parse_rest_trade(row: dict, symbol: str) -> Trade:
    """A row of ``historicalTrades`` / ``trades``.

    ``{"id":3735683259,"price":"61837.63000000","qty":"0.02000000","quoteQty":"1236.75",
    "time":1723161255342,"isBuyerMaker":true,"isBestMatch":true}``
    """
    return Trade(symbol, _id(_required(row, "id"), "id"), _ms(_required(row, "time"), "time"),
                 _decimal(_required(row, "price"), "price", allow_zero=False),
                 _decimal(_required(row, "qty"), "qty", allow_zero=True),
                 _bool(_required(row, "isBuyerMaker"), "isBuyerMaker"))


def parse_rest_agg_trade(row: dict, symbol: str) -> Trade:
    """A row of ``aggTrades``: ``{"a":26129,"p":"0.01633102","q":"4.70443515","f":27781,"l":27781,
    "T":1498793709153,"m":true,"M":true}`` (futures has no ``M``)."""
    return Trade(symbol, _id(_required(row, "a"), "a"), _ms(_required(row, "T"), "T"),
                 _decimal(_required(row, "p"), "p", allow_zero=False),
                 _decimal(_required(row, "q"), "q", allow_zero=True), _bool(_required(row, "m"), "m"))


_REST_PARSERS = {"trade": parse_rest_trade, "aggTrade": parse_rest_agg_trade}


# --------------------------------------------------------------------------- REST


class RestError(Exception):
    """An answer from the exchange that is not data: ``status`` is the HTTP status, ``code`` Binance's."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"HTTP {status}" + (f" code {code}" if code is not None else "") + f": {message}")
        self.status = status
        self.code = code


class WeightPacer:
    """Keeps a client under a share of the exchange's request weight per minute.

    The exchange's own count (``X-MBX-USED-WEIGHT-1M``) wins over ours when it is higher, and a
    ``Retry-After`` pauses every request until it has passed.
    """

    def __init__(self, limit_per_min: int, share: float = WEIGHT_SHARE, clock=time.monotonic) -> None:
        self.budget = max(1, int(limit_per_min * share))
        self.clock = clock
        self.minute_start = clock()
        self.used = 0
        self.paused_until = 0.0

    def delay_for(self, weight: int) -> float:
        """Seconds to wait before a request of ``weight`` may go out (0 when it may go now)."""
        now = self.clock()
        if now >= self.minute_start + 60:
            self.minute_start, self.used = now, 0
        if now < self.paused_until:
            return self.paused_until - now
        if self.used + weight > self.budget:
            return self.minute_start + 60 - now
        return 0.0

    def spend(self, weight: int) -> None:
        self.used += weight

    def observe(self, used_header: str | None) -> None:
        if used_header and used_header.isdigit():  # the IP's total, other clients included
            self.used = max(self.used, int(used_header))

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock() + seconds)


class BinanceRest:
    """The REST calls the ingestor needs: symbol check, recent trades, pages by ``fromId``."""

    def __init__(self, base_url: str, market: str, kind: str, client: httpx.AsyncClient | None = None,
                 pacer: WeightPacer | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.market = market
        self.kind = kind
        headers = {}
        api_key = os.environ.get("BINANCE_API_KEY")
        if api_key:  # only futures historicalTrades needs one
            headers["X-MBX-APIKEY"] = api_key
        self.client = client or httpx.AsyncClient(timeout=HTTP_TIMEOUT_S, headers=headers)
        self.pacer = pacer or WeightPacer(WEIGHT_LIMIT_PER_MIN[market])
        self.requests = 0
        self.throttled = 0

    async def close(self) -> None:
        await self.client.aclose()

    async def get(self, path: str, weight: int, params: dict | None = None) -> object:
        """GET a JSON answer, paced under the weight limit; 429/418 wait ``Retry-After`` and retry."""
        while True:
            delay = self.pacer.delay_for(weight)
            if delay > 0:
                log.info("REST pacing: waiting %.1f s before %s", delay, path)
                await asyncio.sleep(delay)
                continue
            self.pacer.spend(weight)
            self.requests += 1
            response = await self.client.get(self.base_url + path, params=params)
            self.pacer.observe(response.headers.get("X-MBX-USED-WEIGHT-1M"))
            if response.status_code in (429, 418):
                self.throttled += 1
                retry_after = _retry_after_s(response)
                log.warning("REST %s answered %d: waiting %.0f s (Retry-After)", path, response.status_code,
                            retry_after)
                self.pacer.pause(retry_after)
                continue
            if response.status_code >= 400:
                raise _rest_error(response)
            try:
                return response.json()
            except ValueError:
                raise RestError(response.status_code, None, f"{path} answered something that is not JSON") from None

    async def ping(self) -> bool:
        """True when the REST API answers at all."""
        try:
            await self.get("/api/v3/ping" if self.market == "spot" else "/fapi/v1/ping", 1)
            return True
        except (httpx.HTTPError, RestError):
            return False

    async def trading_symbols(self) -> set[str]:
        """Symbols the exchange lists as TRADING (``exchangeInfo``)."""
        path, weight = _EXCHANGE_INFO[self.market]
        info = await self.get(path, weight)
        symbols = info.get("symbols", []) if isinstance(info, dict) else []
        # a listing without "status" (some mirrors trim it) counts as trading
        return {s["symbol"] for s in symbols if isinstance(s, dict) and "symbol" in s
                and s.get("status", "TRADING") == "TRADING"}

    async def fetch_from(self, symbol: str, from_id: int, limit: int = REST_PAGE_LIMIT) -> list[Trade]:
        """Up to ``limit`` trades of ``symbol`` from id ``from_id`` on, oldest first."""
        path, weight = _FETCH_ENDPOINT[(self.market, self.kind)]
        rows = await self.get(path, weight, {"symbol": symbol, "fromId": from_id, "limit": limit})
        return self._parse_rows(rows, symbol)

    async def recent(self, symbol: str, limit: int = REST_PAGE_LIMIT) -> list[Trade]:
        """The most recent trades of ``symbol``, oldest first."""
        path, weight = _RECENT_ENDPOINT[(self.market, self.kind)]
        rows = await self.get(path, weight, {"symbol": symbol, "limit": limit})
        return self._parse_rows(rows, symbol)

    def _parse_rows(self, rows: object, symbol: str) -> list[Trade]:
        if not isinstance(rows, list):
            raise RestError(200, None, f"expected a list of trades, got {type(rows).__name__}")
        parse = _REST_PARSERS[self.kind]
        return sorted((parse(row, symbol) for row in rows), key=lambda t: t.trade_id)


def _retry_after_s(response: httpx.Response) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(1.0, float(value))
    except ValueError:
        return 60.0


def _rest_error(response: httpx.Response) -> RestError:
    try:
        body = response.json()
        return RestError(response.status_code, body.get("code"), str(body.get("msg", body)))
    except (ValueError, AttributeError):
        return RestError(response.status_code, None, response.text[:200])
