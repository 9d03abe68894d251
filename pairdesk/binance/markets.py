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

from pairdesk.markets import AGG_TRADE, FUTURES, SPOT, TRADE

REST_PAGE_LIMIT = 1000
HTTP_TIMEOUT_S = 10.0
# The share of the request-weight limit a backfill may use (the rest is left for anything else
# sharing this IP).
WEIGHT_SHARE = 0.5


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


MARKET_SPECS: Mapping[str, MarketSpec] = {
    SPOT: MarketSpec(
        name=SPOT, ws_url="wss://stream.binance.com:9443", rest_url="https://api.binance.com",
        ws_route={TRADE: "", AGG_TRADE: ""},
        fetch={TRADE: Endpoint("/api/v3/historicalTrades", 25), AGG_TRADE: Endpoint("/api/v3/aggTrades", 4)},
        recent={TRADE: Endpoint("/api/v3/trades", 25), AGG_TRADE: Endpoint("/api/v3/aggTrades", 4)},
        exchange_info=Endpoint("/api/v3/exchangeInfo", 20), ping=Endpoint("/api/v3/ping", 1),
        weight_limit_per_min=6000),
    FUTURES: MarketSpec(
        name=FUTURES, ws_url="wss://fstream.binance.com", rest_url="https://fapi.binance.com",
        ws_route={AGG_TRADE: "/market", TRADE: "/public"},
        fetch={TRADE: Endpoint("/fapi/v1/historicalTrades", 20), AGG_TRADE: Endpoint("/fapi/v1/aggTrades", 20)},
        recent={TRADE: Endpoint("/fapi/v1/trades", 5), AGG_TRADE: Endpoint("/fapi/v1/aggTrades", 20)},
        exchange_info=Endpoint("/fapi/v1/exchangeInfo", 1), ping=Endpoint("/fapi/v1/ping", 1),
        weight_limit_per_min=2400),
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
    streams = "/".join(stream_name(s, kind) for s in symbols)
    return f"{_ws_prefix(base, market, kind)}/stream?streams={streams}"
