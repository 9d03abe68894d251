"""Binance's wire format, one module per concern:

- ``markets``  each market as one data record (hosts, routed stream paths, REST endpoints, weights)
- ``frames``   the pure frame parsers (WebSocket events and REST rows -> typed ``Trade``,
               ``Quote``, ``MarkPrice``, ``FundingRate``)
- ``rest``     the paced REST client that fills gaps
- ``listing``  which symbols exchangeInfo lists as trading (and a quick unpaced check of it)
"""
from __future__ import annotations

from pairdesk.binance.frames import (
                                     IGNORED_EVENTS,
                                     BadFrame,
                                     Control,
                                     FundingRate,
                                     MarkPrice,
                                     Quote,
                                     Trade,
                                     parse_agg_trade_event,
                                     parse_book_ticker_event,
                                     parse_mark_price_event,
                                     parse_message,
                                     parse_rest_agg_trade,
                                     parse_rest_funding,
                                     parse_rest_trade,
                                     parse_trade_event,
)
from pairdesk.binance.listing import LISTING_TIMEOUT_S, listed_or_none, trading_symbols_in
from pairdesk.binance.markets import (
                                     DEFAULT_REST_URL,
                                     DEFAULT_WS_URL,
                                     MARKET_SPECS,
                                     MAX_STREAMS_PER_CONNECTION,
                                     REST_PAGE_LIMIT,
                                     WEIGHT_SHARE,
                                     Endpoint,
                                     MarketSpec,
                                     combined_stream_url,
                                     connections_for,
                                     raw_stream_url,
                                     route_of,
                                     stream_name,
                                     streams_url,
)
from pairdesk.binance.rest import BinanceRest, RestError, WeightPacer
from pairdesk.markets import DEFAULT_STREAM

__all__ = ["IGNORED_EVENTS", "BadFrame", "Control", "FundingRate", "MarkPrice", "Quote", "Trade",
           "parse_book_ticker_event", "parse_mark_price_event", "parse_rest_funding", "parse_agg_trade_event", "parse_message",
           "parse_rest_agg_trade", "parse_rest_trade", "parse_trade_event", "DEFAULT_REST_URL", "DEFAULT_WS_URL",
           "MARKET_SPECS", "MAX_STREAMS_PER_CONNECTION", "REST_PAGE_LIMIT", "WEIGHT_SHARE", "Endpoint", "MarketSpec", "combined_stream_url", "connections_for", "route_of", "streams_url",
           "raw_stream_url", "stream_name", "LISTING_TIMEOUT_S", "listed_or_none", "trading_symbols_in", "BinanceRest", "RestError", "WeightPacer", "DEFAULT_STREAM"]
