"""Wire format: the exact JSON Binance sends, for WebSocket events and REST records."""
from __future__ import annotations

from typing import Any

import orjson

from pairdesk.markets import BOOK_TICKER, MARK_PRICE, SPOT, TRADE
from pairdesk.sim.fixed import format_fixed, parse_fixed, rescale_units
from pairdesk.sim.funding import MARK_DECIMALS, FundingRow, rate_text
from pairdesk.sim.listings import SPOT_WIRE_DECIMALS, SymbolSpec
from pairdesk.sim.quotes import BookQuote, MarkUpdate
from pairdesk.sim.tape_history import AggTrade, Trade

MarketRecord = Trade | AggTrade | BookQuote | MarkUpdate

SERVER_SHUTDOWN_STREAM = "!serverShutdown"


def _time(us: int, micros: bool) -> int:
    return us if micros else us // 1000


class WireFormat:
    """Builds WebSocket events, combined frames and REST records for one market.

    Key order follows the recordings: spot `@trade` e,E,s,t,p,q,T,m,M (hftbacktest spot 2024);
    futures `@trade` e,E,T,s,t,p,q,X,m (hftbacktest usdm); futures `@aggTrade` e,E,a,s,p,q,f,l,T,m
    (cryptofeed BINANCE_FUTURES); spot `@aggTrade` e,E,s,a,p,q,f,l,T,m,M (Binance's docs); spot
    `@bookTicker` u,s,b,B,a,A (no event name, no time) and futures e,u,s,b,B,a,A,T,E (hftbacktest);
    `@markPrice@1s` e,E,s,p,i,P,r,T and REST fundingRate symbol,fundingRate,fundingTime,markPrice,
    premiumIndex symbol,markPrice,indexPrice,estimatedSettlePrice,lastFundingRate,interestRate,
    nextFundingTime,time (Binance's docs; prices with 8 decimals).
    """

    def __init__(self, market: str, extra_fields: bool = False) -> None:
        self.market = market
        self.extra_fields = extra_fields  # futures only: the newer "nq" / "st" keys

    def event(self, kind: str, record: MarketRecord, micros: bool = False) -> dict[str, Any]:
        """The raw stream event for a trade, an aggregate trade, a book update or a mark price."""
        if kind == TRADE:
            assert isinstance(record, Trade)
            return self._trade_event(record, micros)
        if kind == BOOK_TICKER:
            assert isinstance(record, BookQuote)
            return self._book_ticker_event(record)
        if kind == MARK_PRICE:
            assert isinstance(record, MarkUpdate)
            return mark_price_event(record)
        assert isinstance(record, AggTrade)
        return self._agg_event(record, micros)

    def _book_ticker_event(self, q: BookQuote) -> dict[str, Any]:
        if self.market == SPOT:
            return {"u": q.update_id, "s": q.symbol, "b": q.bid, "B": q.bid_qty, "a": q.ask, "A": q.ask_qty}
        event_us = q.time_us if q.event_us is None else q.event_us
        return {"e": "bookTicker", "u": q.update_id, "s": q.symbol, "b": q.bid, "B": q.bid_qty, "a": q.ask,
                "A": q.ask_qty, "T": q.time_us // 1000, "E": event_us // 1000}

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


def mark_price_event(m: MarkUpdate) -> dict[str, Any]:
    """A USD-M `markPriceUpdate` event."""
    return {"e": "markPriceUpdate", "E": m.event_ms, "s": m.symbol, "p": m.mark, "i": m.index, "P": m.settle,
            "r": m.funding_rate, "T": m.next_funding_ms}


def rest_funding(row: FundingRow) -> dict[str, Any]:
    """One element of `/fapi/v1/fundingRate`."""
    return {"symbol": row.symbol, "fundingRate": rate_text(row.rate_units), "fundingTime": row.funding_time_ms,
            "markPrice": format_fixed(row.mark_units, MARK_DECIMALS)}


INTEREST_RATE = "0.00010000"  # premiumIndex's interestRate, Binance's usual 0.01 % per 8 h


def premium_index(m: MarkUpdate, time_ms: int) -> dict[str, Any]:
    """`/fapi/v1/premiumIndex` of one symbol; `lastFundingRate` is the rate now announced (markPrice `r`)."""
    return {"symbol": m.symbol, "markPrice": m.mark, "indexPrice": m.index, "estimatedSettlePrice": m.settle,
            "lastFundingRate": m.funding_rate, "interestRate": INTEREST_RATE,
            "nextFundingTime": m.next_funding_ms, "time": time_ms}


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

