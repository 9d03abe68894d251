"""Each Binance market declared once, as data: hosts, routed stream paths, REST endpoints and weights.

Since 2026-04-23 USD-M futures routes WebSocket streams by path: aggTrade (and kline, markPrice)
under ``/market``, the high-frequency streams (depth, bookTicker; and @trade, per the newest ccxt
routing) under ``/public``. A wrong path completes the handshake and then sends nothing: the
ingestor notices "connected but silent". Futures historicalTrades needs an API key, so futures
follows aggTrade by default (``pairdesk.markets.DEFAULT_STREAM``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pairdesk.markets import AGG_TRADE, BOOK_TICKER, FUTURES, MARK_PRICE, SPOT, TRADE

REST_PAGE_LIMIT = 1000
HTTP_TIMEOUT_S = 10.0
# The share of the request-weight limit a backfill may use (the rest is left for anything else
# sharing this IP).
WEIGHT_SHARE = 0.5


MAX_STREAMS_PER_CONNECTION = 1024  # Binance: streams one WebSocket connection may carry

@dataclass(frozen=True)
class Endpoint:
    """A REST path and its request weight."""

    path: str
    weight: int


@dataclass(frozen=True)
class MarketSpec:
    """One market: where it lives, how its streams are routed, which REST calls fill gaps."""

    name: str
    ws_url: str
    rest_url: str
    ws_route: Mapping[str, str]  # stream kind -> path prefix before /ws or /stream ("" for none)
    fetch: Mapping[str, Endpoint]  # stream kind -> pages of trades by fromId
    recent: Mapping[str, Endpoint]  # stream kind -> the most recent trades
    exchange_info: Endpoint
    ping: Endpoint
    weight_limit_per_min: int
    quote_streams: tuple[str, ...] = ()  # the top-of-book / mark streams followed beside the trades
    funding: Endpoint | None = None  # settled funding rates (perpetual futures only)
    funding_limit_per_5min: int = 0  # fundingRate's own request limit


MARKET_SPECS: Mapping[str, MarketSpec] = {
    SPOT: MarketSpec(
        name=SPOT, ws_url="wss://stream.binance.com:9443", rest_url="https://api.binance.com",
        ws_route={TRADE: "", AGG_TRADE: "", BOOK_TICKER: ""},
        fetch={TRADE: Endpoint("/api/v3/historicalTrades", 25), AGG_TRADE: Endpoint("/api/v3/aggTrades", 4)},
        recent={TRADE: Endpoint("/api/v3/trades", 25), AGG_TRADE: Endpoint("/api/v3/aggTrades", 4)},
        exchange_info=Endpoint("/api/v3/exchangeInfo", 20), ping=Endpoint("/api/v3/ping", 1),
        weight_limit_per_min=6000, quote_streams=(BOOK_TICKER,)),
    FUTURES: MarketSpec(
        name=FUTURES, ws_url="wss://fstream.binance.com", rest_url="https://fapi.binance.com",
        ws_route={AGG_TRADE: "/market", TRADE: "/public", MARK_PRICE: "/market", BOOK_TICKER: "/public"},
        fetch={TRADE: Endpoint("/fapi/v1/historicalTrades", 20), AGG_TRADE: Endpoint("/fapi/v1/aggTrades", 20)},
        recent={TRADE: Endpoint("/fapi/v1/trades", 5), AGG_TRADE: Endpoint("/fapi/v1/aggTrades", 20)},
        exchange_info=Endpoint("/fapi/v1/exchangeInfo", 1), ping=Endpoint("/fapi/v1/ping", 1),
        weight_limit_per_min=2400, quote_streams=(BOOK_TICKER, MARK_PRICE),
        funding=Endpoint("/fapi/v1/fundingRate", 1), funding_limit_per_5min=500),
}

# Views of the records for callers that need one field per market.
DEFAULT_WS_URL = {name: spec.ws_url for name, spec in MARKET_SPECS.items()}
DEFAULT_REST_URL = {name: spec.rest_url for name, spec in MARKET_SPECS.items()}


def stream_name(symbol: str, kind: str) -> str:
    """``btcusdt@trade``: stream names are lower case."""
    return f"{symbol.lower()}@{kind}"


def _ws_prefix(base: str, market: str, kind: str) -> str:
    base = base.rstrip("/")
    if base.endswith(("/market", "/public")):  # the caller gave a routed base already
        return base
    return base + MARKET_SPECS[market].ws_route[kind]


def raw_stream_url(base: str, market: str, kind: str, symbol: str) -> str:
    """The raw-stream URL of one symbol: ``<base>[/market|/public]/ws/<symbol>@<kind>``."""
    return f"{_ws_prefix(base, market, kind)}/ws/{stream_name(symbol, kind)}"


def combined_stream_url(base: str, market: str, kind: str, symbols: list[str]) -> str:
    """The combined-stream URL for all symbols: ``<base>[/market|/public]/stream?streams=a/b``."""
    return streams_url(base, market, [kind], symbols)


def route_of(market: str, kind: str) -> str:
    """The path prefix a stream kind travels on (``""``, ``/market`` or ``/public``)."""
    return MARKET_SPECS[market].ws_route[kind]


def streams_url(base: str, market: str, kinds: list[str], symbols: list[str]) -> str:
    """One combined-stream URL for several stream kinds of all symbols; the kinds must share a route
    (``btcusdt@trade/btcusdt@bookTicker/ethusdt@trade/...``)."""
    routes = {route_of(market, kind) for kind in kinds}
    if len(routes) != 1:
        raise ValueError(f"streams {kinds} of {market} travel on different routes {sorted(routes)}: "
                         f"they need one connection each")
    streams = "/".join(stream_name(s, kind) for s in symbols for kind in kinds)
    return f"{_ws_prefix(base, market, kinds[0])}/stream?streams={streams}"


def connections_for(market: str, trade_kind: str) -> tuple[list[str], dict[str, list[str]]]:
    """How the followed streams split into connections: the quote streams that ride on the trade
    connection (same route), and the other routes with the quote streams each carries."""
    spec = MARKET_SPECS[market]
    trade_route = spec.ws_route[trade_kind]
    beside: list[str] = []
    others: dict[str, list[str]] = {}
    for kind in spec.quote_streams:
        if spec.ws_route[kind] == trade_route:
            beside.append(kind)
        else:
            others.setdefault(spec.ws_route[kind], []).append(kind)
    return beside, others
