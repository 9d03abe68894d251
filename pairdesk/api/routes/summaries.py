"""Hourly summaries of a pair: listed by ``GET /api/summary/hourly``, computed and stored by
``POST /api/admin/hourly`` (token)."""
from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query

from pairdesk import analytics, store
from pairdesk.api.convert import json_safe, records
from pairdesk.api.deps import DatabaseDep, Pair, Reader, TokenRequired, write_transaction
from pairdesk.api.errors import ERRORS, TOKEN_ERRORS
from pairdesk.api.params import DEFAULT_LIMIT, MAX_LIMIT, PAIR_PARAM_PATTERN, HedgeParam, Span, Timeframe
from pairdesk.api.schemas.summaries import HourlySummariesResponse
from pairdesk.symbols import normalise_symbol

log = logging.getLogger(__name__)

router = APIRouter()


def summary_records(rows: list[tuple[str, str, int, str, int]]) -> dict[str, Any]:
    """Stored summary rows as a HourlySummariesResponse."""
    return {"count": len(rows), "summaries": [
        {"symbols": symbols, "timeframe": timeframe, "hour_ms": hour_ms, "stats": json.loads(stats),
         "computed_ms": computed_ms} for symbols, timeframe, hour_ms, stats, computed_ms in rows]}


def pair_key(symbols: str) -> str:
    """'btcusdt, ethusdt' -> 'BTCUSDT,ETHUSDT' (how hourly_summaries stores a pair)."""
    return ",".join(normalise_symbol(s) for s in symbols.split(","))


@router.get("/api/summary/hourly", response_model=HourlySummariesResponse, responses=ERRORS, tags=["summaries"],
            summary="Stored hourly summaries")
def get_hourly_summaries(
    conn: Reader, span: Span,
    symbols: Annotated[str | None, Query(description="only this pair A,B (default: every pair)",
                                         pattern=PAIR_PARAM_PATTERN, examples=["BTCUSDT,ETHUSDT"])] = None,
    timeframe: Annotated[Timeframe | None, Query(description="only this timeframe (default: every one)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="at most this many hours, the most recent")
                     ] = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """Hourly summaries computed by POST /api/admin/hourly, by hour (hour_ms in [start, end)): rows,
    first / last / min / max / mean / std of both prices, spread mean and std, z-score mean and max,
    correlation mean / min / max, and the window and hedge they were computed with."""
    key = None if symbols is None else pair_key(symbols)
    return summary_records(store.read_hourly_summaries(conn, key, timeframe, span.start_ms, span.end_ms, limit))


@router.post("/api/admin/hourly", dependencies=TokenRequired, response_model=HourlySummariesResponse,
             responses={**TOKEN_ERRORS, 404: ERRORS[404]}, tags=["admin"], summary="Compute hourly summaries")
def compute_hourly_summaries(query: Pair, conn: Reader, db: DatabaseDep, hedge: HedgeParam = analytics.DEFAULT_HEDGE) -> dict[str, Any]:
    """Run `analytics_engine.hourly_summary` on the pair's panel (every bar in [start, end)) and store
    one row per UTC hour in hourly_summaries, replacing earlier rows of the same pair, timeframe and
    hour. Needs the token given at start-up. Returns the stored rows."""
    table = analytics.hourly_summary(query.panel(conn, hedge))
    settings = {"window": query.window, "hedge": hedge, "hedge_window": query.hedge_window,
                "spread": query.spread_kind, "max_stale": query.max_stale}
    rows = [(int(row.pop("hour_start_ms")), json.dumps(json_safe({**row, **settings}), allow_nan=False))
            for row in records(table)]
    if not rows:
        return summary_records([])
    key = ",".join(query.pair)
    with write_transaction(db) as writer:
        store.write_hourly_summaries(writer, key, query.timeframe, rows)
    log.info("hourly summaries of %s %s: %d hours stored", key, query.timeframe, len(rows))
    return summary_records(store.read_hourly_summaries(conn, key, query.timeframe, rows[0][0], rows[-1][0] + 1))
