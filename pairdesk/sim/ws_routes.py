"""WebSocket URLs and stream names: which paths exist and which events each connection carries."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from pairdesk.markets import AGG_TRADE, BOOK_TICKER, FUTURES, MARK_PRICE, SPOT, STREAM_KINDS, TRADE

SIM_STREAM_KINDS = (*STREAM_KINDS, BOOK_TICKER, MARK_PRICE)  # what this sim can fill
SPOT_STREAM_KINDS = frozenset({TRADE, AGG_TRADE, BOOK_TICKER})  # spot has no mark price


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
    """"btcusdt@trade" -> ("BTCUSDT", "trade"), "btcusdt@markPrice@1s" -> ("BTCUSDT", "markPrice@1s");
    None for streams this sim never produces.

    Binance stream names are lower case; an upper-case name is accepted and stays silent.
    """
    symbol, _, kind = name.partition("@")
    if kind not in SIM_STREAM_KINDS or not symbol or symbol != symbol.lower():
        return None
    return symbol.upper(), kind


# USD-M futures since 2026-04-23: aggTrade and markPrice on /market, trade (newest ccxt routing) and
# bookTicker on /public; the retired root paths and the wrong prefix complete the handshake,
# acknowledge SUBSCRIBE, send nothing.
FUTURES_ROUTING = frozenset({("market", AGG_TRADE), ("public", TRADE), ("public", BOOK_TICKER),
                             ("market", MARK_PRICE)})


def route_carries(market: str, prefix: str, kind: str) -> bool:
    """Whether a connection on `prefix` receives `kind` events (futures split them by path; spot
    carries everything but the mark price, which it does not have)."""
    return kind in SPOT_STREAM_KINDS if market == SPOT else (prefix, kind) in FUTURES_ROUTING

