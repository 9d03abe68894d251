"""Binance's frames, parsed: a frame in, a typed ``Trade`` (or a control event, or ``None`` for market
data we do not store) out; anything malformed raises ``BadFrame`` with a short kind for counting.
Prices and quantities are converted from Binance's strings once, here. The parsers are pure.

Real recorded frames (the data of each combined frame; provenance in tests/data/SOURCES.txt):
    spot @trade (hftbacktest, 2024-08-08):
        {"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000",
         "T":1723161255342,"m":true,"M":true}
    USD-M @trade (hftbacktest, 2024-08-08; no "M"):
        {"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT","t":5266583935,"p":"61800.30",
         "q":"0.006","X":"MARKET","m":false}
    USD-M @aggTrade (cryptofeed, 2021-07-22):
        {"e":"aggTrade","E":1626992741575,"a":16599292,"s":"CTKUSDT","p":"1.01100","q":"10","f":23961322,
         "l":23961322,"T":1626992741421,"m":false}
    spot @bookTicker (hftbacktest, 2024-08-08; no event name, no time):
        {"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}
    USD-M @bookTicker (hftbacktest, 2024-08-08):
        {"e":"bookTicker","u":5123107839020,"s":"BTCUSDT","b":"61800.20","B":"2.507","a":"61800.30","A":"2.510",
         "T":1723161256313,"E":1723161256313}
    USD-M @markPrice@1s (BINANCE.md):
        {"e":"markPriceUpdate","E":1723161256000,"s":"BTCUSDT","p":"61801.1","i":"61830.2","P":"61810.0",
         "r":"0.00010000","T":1723161600000}
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import orjson


class Trade(NamedTuple):
    """One trade as stored: ``trade_id`` is the aggregate id ``a`` for aggTrade streams."""

    symbol: str
    trade_id: int
    ts_ms: int
    price: float
    qty: float
    is_buyer_maker: bool


class Quote(NamedTuple):
    """One top-of-book update. ``ts_ms`` is the exchange's ``T`` on futures; spot frames carry no
    time, so there it is the local receive time given to the parser. ``update_id`` (``u``) orders
    updates of one symbol: an update with a lower ``u`` than one already seen is stale."""

    symbol: str
    update_id: int
    ts_ms: int
    bid: float
    bid_qty: float
    ask: float
    ask_qty: float


class MarkPrice(NamedTuple):
    """One ``markPriceUpdate`` (USD-M): mark and index price, the current funding rate and the time
    of the next funding settlement."""

    symbol: str
    ts_ms: int
    mark: float
    index: float
    funding_rate: float
    next_funding_ms: int


class FundingRate(NamedTuple):
    """One settled funding of ``GET /fapi/v1/fundingRate``; ``mark_price`` is None where not given
    (the monthly dumps carry none)."""

    symbol: str
    funding_time_ms: int
    rate: float
    mark_price: float | None


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
IGNORED_EVENTS = frozenset({"depthUpdate", "kline", "24hrTicker",
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


def _float(value: object, field: str) -> float:
    """A finite number from Binance's decimal string; anything else is a bad frame."""
    if type(value) is not str:
        raise BadFrame("bad_number", f"{field}={value!r}")
    try:
        number = float(value)
    except ValueError:
        raise BadFrame("bad_number", f"{field}={value!r}") from None
    if not math.isfinite(number):
        raise BadFrame("bad_number", f"{field}={value!r}")
    return number


def _decimal(value: object, field: str, allow_zero: bool) -> float:
    """A price or quantity: a decimal string, not negative (nor zero unless allowed)."""
    number = _float(value, field)
    if number < 0 or (number == 0 and not allow_zero):
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


def parse_book_ticker_event(event: dict, received_ms: int) -> Quote:
    """A spot or USD-M ``@bookTicker`` event. Futures frames are timed by ``T``; spot frames carry
    no time and are timed by ``received_ms``, the local receive time. A crossed or empty book
    (bid above ask, a zero price) is a bad frame."""
    symbol = _symbol(_required(event, "s"))
    update_id = _id(_required(event, "u"), "u")
    ts_ms = _ms(event["T"], "T") if "T" in event else received_ms
    bid = _decimal(_required(event, "b"), "b", allow_zero=False)
    ask = _decimal(_required(event, "a"), "a", allow_zero=False)
    if bid > ask:
        raise BadFrame("crossed_book", f"b={bid} > a={ask}")
    return Quote(symbol, update_id, ts_ms, bid, _decimal(_required(event, "B"), "B", allow_zero=True),
                 ask, _decimal(_required(event, "A"), "A", allow_zero=True))


def parse_mark_price_event(event: dict) -> MarkPrice:
    """A USD-M ``@markPrice@1s`` (or ``@markPrice``) event; the estimated settle price ``P`` is ignored."""
    return MarkPrice(_symbol(_required(event, "s")), _ms(_required(event, "E"), "E"),
                     _decimal(_required(event, "p"), "p", allow_zero=False),
                     _decimal(_required(event, "i"), "i", allow_zero=False),
                     _float(_required(event, "r"), "r"), _ms(_required(event, "T"), "T"))


def parse_rest_funding(row: dict) -> FundingRate:
    """A row of ``GET /fapi/v1/fundingRate``: ``{"symbol":"BTCUSDT","fundingTime":1723161600000,
    "fundingRate":"0.00010000","markPrice":"61800.10000000"}`` (``markPrice`` may be "" or absent
    on old rows)."""
    mark = row.get("markPrice")
    return FundingRate(_symbol(_required(row, "symbol")), _ms(_required(row, "fundingTime"), "fundingTime"),
                       _float(_required(row, "fundingRate"), "fundingRate"),
                       _decimal(mark, "markPrice", allow_zero=False) if mark not in (None, "") else None)


_EVENT_PARSERS = {"trade": parse_trade_event, "aggTrade": parse_agg_trade_event}


def parse_message(raw: str | bytes, kind: str, received_ms: int = 0) -> Trade | Quote | MarkPrice | Control | None:
    """Parse one WebSocket message of a raw or combined stream carrying ``kind`` trade events.

    Returns a Trade, a Quote (``@bookTicker``; spot ones timed by ``received_ms``), a MarkPrice
    (``@markPrice``), a Control (``serverShutdown``, a SUBSCRIBE answer, an error), or None for
    market data that is not stored (depth, klines...). Raises BadFrame otherwise, including for
    trades of the other kind (an aggTrade on a trade connection).

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
    if event_type == "bookTicker":
        return parse_book_ticker_event(message, received_ms)
    if event_type == "markPriceUpdate":
        return parse_mark_price_event(message)
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
            return parse_book_ticker_event(message, received_ms)
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


