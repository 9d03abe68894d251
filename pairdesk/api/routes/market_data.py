"""Trades, prices and bars of one symbol: ``/api/ticks``, ``/api/prices``, ``/api/ohlc``."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from pairdesk import store
from pairdesk.api.bars import recent_bars
from pairdesk.api.convert import records
from pairdesk.api.deps import KnownSymbol, Reader, parse_known_symbol
from pairdesk.api.errors import ERRORS, unprocessable
from pairdesk.api.params import DEFAULT_LIMIT, MAX_LIMIT, SYMBOL_PARAM_PATTERN, LimitParam, Span, TimeframeParam
from pairdesk.api.schemas.market_data import OhlcResponse, PricesResponse, TicksResponse

router = APIRouter(tags=["market data"], responses=ERRORS)


@router.get("/api/ticks/{symbol}", response_model=TicksResponse, summary="Recent trades of a symbol")
def get_ticks(symbol: KnownSymbol, conn: Reader, span: Span, limit: LimitParam = DEFAULT_LIMIT) -> dict[str, Any]:
    """The most recent `limit` trades of the symbol in [start, end), oldest first."""
    trades = store.read_trades(conn, symbol, span.start_ms, span.end_ms, limit=limit)
    return {"symbol": symbol, "count": len(trades), "ticks": records(trades)}


@router.get("/api/prices", response_model=PricesResponse, summary="Latest prices")
def get_prices(
    conn: Reader,
    symbol: Annotated[str | None, Query(description="one symbol (default: every symbol)",
                                        pattern=SYMBOL_PARAM_PATTERN, examples=["ETHUSDT"])] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="prices per symbol, the most recent "
                                                                "(symbols x limit at most 100 000)")] = 1,
) -> dict[str, Any]:
    """The last trade price of every symbol (or of `symbol`); with `limit`, the last `limit` trade
    prices of each, oldest first."""
    symbols = store.list_symbols(conn) if symbol is None else [parse_known_symbol(conn, symbol)]
    if len(symbols) * limit > MAX_LIMIT:
        raise unprocessable(f"{len(symbols)} symbols x limit {limit} exceeds {MAX_LIMIT} prices: pass symbol= "
                            "or a smaller limit")
    prices = []
    for name in symbols:
        trades = store.read_trades(conn, name, limit=limit)
        prices += [{"symbol": name, "trade_id": t["trade_id"], "ts_ms": t["ts_ms"], "price": t["price"]}
                   for t in records(trades)]
    return {"prices": prices}


@router.get("/api/ohlc/{symbol}", response_model=OhlcResponse, summary="OHLCV bars of a symbol")
def get_ohlc(symbol: KnownSymbol, conn: Reader, span: Span, timeframe: TimeframeParam = "1m",
             limit: LimitParam = DEFAULT_LIMIT) -> dict[str, Any]:
    """The most recent `limit` bars at `timeframe` that start in [start, end), oldest first, built from
    the stored one-second bars (vwap = quote_volume / volume). A bar is never cut by start / end; the
    newest one may still be forming."""
    bars = recent_bars(conn, symbol, timeframe, limit, span)
    return {"symbol": symbol, "timeframe": timeframe, "count": len(bars), "bars": records(bars)}
