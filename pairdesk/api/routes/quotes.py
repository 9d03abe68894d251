"""Executable prices: ``/api/quotes/{symbol}`` (quote bars and quote gaps), ``/api/funding/{symbol}``
(settled funding, the rate known now, the next settlement) and ``/api/costs`` (what the pair costs to
trade at the touch), computed by ``pairdesk.quote_data`` as the dashboard computes them."""
from __future__ import annotations

import sqlite3
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Query

from pairdesk import analytics, quote_data, store
from pairdesk.api.convert import records
from pairdesk.api.deps import KnownSymbol, Pair, Reader
from pairdesk.api.errors import ERRORS, ErrorBody, ResponsesDoc, not_found
from pairdesk.api.params import DEFAULT_LIMIT, HedgeParam, LimitParam, Span, TimeframeParam
from pairdesk.api.routes.analytics import pair_echo
from pairdesk.api.schemas.quotes import CostsResponse, FundingResponse, QuotesResponse
from pairdesk.markets import FUTURES

DEFAULT_NOTIONAL = 10_000.0
MAX_NOTIONAL = 1e12
FUNDING_ERRORS: ResponsesDoc = {
    404: {"model": ErrorBody, "description": "unknown symbol, or a spot database (funding exists on USD-M "
                                             "perpetuals only)"}}

router = APIRouter(tags=["market data"], responses=ERRORS)


def futures_symbol(symbol: KnownSymbol, conn: Reader) -> str:
    """The path's symbol, known to a USD-M futures database: 404 on a spot database."""
    require_futures(conn)
    return symbol


def require_futures(conn: sqlite3.Connection) -> None:
    """404 unless the database holds USD-M futures (a spot market settles no funding)."""
    market = store.read_metadata(conn).get("market")
    if market != FUTURES:
        raise not_found(f"no funding: this database holds {market or 'no'} market data; funding is settled on "
                        f"USD-M perpetuals only (an ingestor started with --market futures)")


FuturesSymbol = Annotated[str, Depends(futures_symbol)]


def plain_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with every missing value (NaN, NA) as None: nullable flags included."""
    return records(frame.astype(object).where(frame.notna(), None))


@router.get("/api/quotes/{symbol}", response_model=QuotesResponse, summary="Quote bars (top of book) of a symbol")
def get_quotes(symbol: KnownSymbol, conn: Reader, span: Span, timeframe: TimeframeParam = "1s",
               limit: LimitParam = DEFAULT_LIMIT) -> dict[str, Any]:
    """The most recent `limit` quote bars at `timeframe` starting in [start, end), oldest first, and the
    quote gaps overlapping them. At 1s these are the stored one-second bars (`bookTicker`: the book
    after the second's last update, the time-weighted mean and the largest quoted spread within it);
    coarser bars hold the book standing at the bar's close and the spread over the bar
    (`analytics.quote_bars_at`). A second without a row saw no update (the book stood still); a bar
    wholly inside a quote gap is left out. Spreads are ask - bid in price units, `spread_bps` in bps
    of the mid. Futures quotes are timed by the exchange, spot quotes by the local receive time."""
    lo, hi = span.bar_bounds(timeframe)
    bars, gaps = quote_data.recent_quote_bars(conn, symbol, timeframe, limit, lo, hi)
    return {"symbol": symbol, "timeframe": timeframe, "count": len(bars), "quotes": records(bars),
            "gaps": records(gaps[["from_ms", "to_ms", "reason"]])}


@router.get("/api/funding/{symbol}", response_model=FundingResponse, responses=FUNDING_ERRORS,
            summary="Funding of a USD-M perpetual: settled rates, the current rate, the next settlement")
def get_funding(symbol: FuturesSymbol, conn: Reader, span: Span) -> dict[str, Any]:
    """Every settlement of the symbol in [start, end) (`GET /fapi/v1/fundingRate` as stored: rate and
    the settlement's mark price), and from the newest `@markPrice@1s` second the rate of the coming
    settlement, its time and the mark price; `interval_ms` is the interval between the last two
    stored settlements. A position of q units receives -rate * q * mark at a settlement (longs pay a
    positive rate). 404 on a spot database."""
    state = quote_data.read_funding_state(conn, symbol, span.start_ms, span.end_ms)
    return {"symbol": symbol, "count": len(state.settled), "settled": plain_records(state.settled),
            "current_rate": state.rate, "next_funding_ms": state.next_funding_ms, "mark": state.mark_value("mark"),
            "mark_ts_ms": state.mark_ms, "interval_ms": state.interval_ms}


@router.get("/api/costs", response_model=CostsResponse, summary="What a pair costs to trade at the touch")
def get_costs(
    query: Pair, conn: Reader, hedge: HedgeParam = analytics.DEFAULT_HEDGE,
    notional: Annotated[float, Query(gt=0, le=MAX_NOTIONAL, description="quote currency on leg A (e.g. USDT)")
                        ] = DEFAULT_NOTIONAL,
    fee_bps: Annotated[float, Query(ge=0, lt=10_000, description="fee, bps of the filled notional per leg per "
                                                                 "fill")] = analytics.BACKTEST_FEE_BPS,
    series: Annotated[bool, Query(description="also return the last `limit` rows, not only the latest")] = False,
    limit: LimitParam = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """`analytics.pair_costs` on the `/api/spread` panel of the pair (every bar in [start, end), causal
    hedge) with both legs' quote bars at the panel's timeframe: per row each leg's quoted spread in
    bps, the executable spread of entering long (buy A at the ask, sell beta B at the bid) and short,
    and the round trip with fees on all four fills, in quote currency and in bps of the gross
    notional; the flags say an entry needs more than the size at the touch. `latest` is the pair's
    costs now: the newest row with both legs' books (`quote_data.latest_costs`, as the page shows it),
    null when no row has them."""
    panel = query.panel(conn, hedge)
    legs = quote_data.read_pair_quotes(conn, query.pair, panel, query.timeframe)
    costs = quote_data.pair_cost_rows(panel, legs, query.timeframe, notional, fee_bps)
    shown = plain_records(costs.tail(limit)) if series else []
    latest = plain_records(quote_data.latest_cost_row(costs))
    return {**pair_echo(query, panel), "hedge": hedge, "notional": notional, "fee_bps": fee_bps,
            "latest": latest[0] if latest else None, "rows": shown}
