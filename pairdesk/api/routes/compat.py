"""The calls of the two systems this desk replaces (a Flask analytics API, a FastAPI + Streamlit
platform), with their methods, paths and parameters, as thin aliases: each translates its
parameters and calls the desk's own endpoint function, so the numbers, the validation and the
errors are the desk's, and so are the response bodies. The README's "Compatibility" table maps
each call to the desk's own. (The other old calls already match the desk's paths.)"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import StreamingResponse

from pairdesk import alerts, analytics, store
from pairdesk.api.bars import bar_window
from pairdesk.api.deps import DatabaseDep, KnownPair, KnownSymbol, KnownSymbolQuery, Pair, Reader, TokenRequired
from pairdesk.api.errors import BAD_BODY, ERRORS, TOKEN_ERRORS, unprocessable
from pairdesk.api.params import (
    DEFAULT_LIMIT,
    MAX_WINDOW,
    SYMBOL_PARAM_PATTERN,
    HedgeParam,
    LimitParam,
    Span,
    TimeframeParam,
    TimeRange,
)
from pairdesk.api.routes import alerts as alerts_routes
from pairdesk.api.routes import analytics as analytics_routes
from pairdesk.api.routes import exports, market_data, summaries, uploads
from pairdesk.api.schemas.compat import ComputedAlertsResponse
from pairdesk.api.schemas.market_data import OhlcResponse, StatsResponse
from pairdesk.api.schemas.summaries import HourlySummariesResponse
from pairdesk.api.schemas.uploads import UploadResponse

TAG = "compatibility"
# Old calls that are the desk's own endpoints already (same method, path and parameters; the old
# DELETE /api/alerts/{alert_id} is the desk's /api/alerts/{rule_id}): tagged here as well.
SAME_PATH_CALLS = frozenset({
    ("GET", "/api/prices"), ("GET", "/api/spread"), ("GET", "/api/correlation"), ("GET", "/api/status"),
    ("GET", "/api/ticks/{symbol}"), ("GET", "/api/ohlc/{symbol}"), ("GET", "/api/symbols"),
    ("GET", "/api/stats/{symbol}"), ("POST", "/api/alerts"), ("GET", "/api/alerts"), ("GET", "/api/alerts/triggered"),
    ("DELETE", "/api/alerts/{rule_id}"),
})


def with_same_path_calls_tagged(build_schema: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """The OpenAPI schema with the desk's endpoints that answer an old call unchanged listed under the
    compatibility tag too."""

    def schema() -> dict[str, Any]:
        document = build_schema()  # cached by FastAPI: tagged once
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                if (method.upper(), path) in SAME_PATH_CALLS and TAG not in operation.get("tags", []):
                    operation["tags"] = [*operation.get("tags", []), TAG]
        return document

    return schema


router = APIRouter(tags=[TAG])

# --------------------------------------------------------------------------- the Flask analytics API


@router.get("/api/stats", response_model=StatsResponse, responses=ERRORS,
            summary="Summary statistics of a symbol (old: ?symbol=)")
def get_stats_by_query(
    symbol: KnownSymbolQuery, conn: Reader, span: Span, timeframe: TimeframeParam = "1s",
    window: Annotated[int, Query(ge=2, le=MAX_WINDOW, description="how many of the most recent bars to "
                                                                   "summarise")] = 300,
) -> dict[str, Any]:
    """`GET /api/stats/{symbol}` with the symbol as a query parameter: the same statistics."""
    return analytics_routes.get_stats(symbol, conn, span, timeframe, window)


@router.get("/api/prices_v2", response_model=OhlcResponse, responses=ERRORS,
            summary="High-resolution prices of a symbol (one-second bars)")
def get_prices_v2(symbol: KnownSymbolQuery, conn: Reader, span: Span,
                  limit: LimitParam = DEFAULT_LIMIT) -> dict[str, Any]:
    """`GET /api/ohlc/{symbol}?timeframe=1s`: the most recent `limit` one-second bars in [start, end)
    (the finest prices the desk stores besides the trades of `GET /api/ticks/{symbol}`)."""
    return market_data.get_ohlc(symbol, conn, span, "1s", limit)


def evaluated_range(conn: sqlite3.Connection, rule: alerts.AlertRule, span: TimeRange) -> tuple[int, int] | None:
    """First and last bar (starts, at the rule's timeframe) in ``span`` where both symbols have bars."""
    windows = [bar_window(conn, symbol, rule.timeframe, span) for symbol in rule.symbols]
    if any(window is None for window in windows):
        return None
    first, end = max(lo for lo, _ in windows), min(hi for _, hi in windows)
    last = end - rule.timeframe_ms
    return (first, last) if last >= first else None


@router.get("/api/alerts_v2", response_model=ComputedAlertsResponse, responses=ERRORS,
            summary="Z-score alerts of a pair, computed on request")
def get_alerts_v2(
    pair: KnownPair, conn: Reader, span: Span,
    threshold: Annotated[float, Query(description="z level, > 0: UP at z >= +threshold, DOWN at z <= -threshold")
                         ] = 2.0,
    timeframe: TimeframeParam = "1s",
    window: Annotated[int, Query(description="bars in the z-score's trailing window")] = analytics.DEFAULT_WINDOW_ROWS,
    hedge: Annotated[str, Query(description=f"hedge ratio: {', '.join(alerts.ALERT_HEDGES)}")] = "rolling",
    lookback: Annotated[int | None, Query(description="bars the hedge is estimated on (default 5 x window)")] = None,
    hysteresis: Annotated[float | None, Query(description="re-arm once |z| is back below threshold - hysteresis "
                                                          "(default 0.5)")] = None,
    side: Annotated[Literal["both", "up", "down"], Query(description="which crossings alert")] = "both",
    cooldown_s: Annotated[float, Query(description="seconds (data time) after an alert without another")] = 60.0,
) -> dict[str, Any]:
    """A `zscore` alert rule built from the query (checked by `alerts.validate_rule`, as `POST
    /api/alerts` checks one) evaluated by `alerts.evaluate` on the stored bars in [start, end) (all
    by default), from a fresh state: the alerts a stored rule with these settings raises on these
    bars, its z-score the `/api/spread` z of the same window, hedge and lookback. Nothing is stored."""
    params = {"threshold": threshold, "side": side, "hysteresis": hysteresis, "lookback": lookback}
    spec = {"kind": "zscore", "symbols": list(pair), "timeframe": timeframe, "window": window, "hedge": hedge,
            "cooldown_s": cooldown_s, "params": {name: value for name, value in params.items() if value is not None}}
    try:
        rule = alerts.validate_rule(spec, pair)
    except alerts.RuleError as exc:
        raise unprocessable(str(exc)) from None
    bounds = evaluated_range(conn, rule, span)
    events: list[alerts.AlertEvent] = []
    if bounds is not None:
        start, end = alerts.bars_needed(rule, *bounds)
        bars = {symbol: store.read_bars_1s(conn, symbol, start, end) for symbol in rule.symbols}
        events, _state = alerts.evaluate(rule, bars, *bounds, alerts.RuleState())
    first, last = bounds or (None, None)
    return {"rule": alerts_routes.rule_out(rule, {}), "first_bar_ms": first, "last_bar_ms": last, "count": len(events),
            "alerts": [event.to_dict() for event in events]}


@router.get("/api/export/price", response_class=StreamingResponse, responses=exports.CSV_RESPONSE,
            summary="Prices of a symbol as CSV (old: export/price)")
def export_price(symbol: KnownSymbolQuery, span: Span, db: DatabaseDep,
                 timeframe: TimeframeParam = "1m") -> StreamingResponse:
    """`GET /api/export/ohlc.csv`: every complete bar of `symbol` at `timeframe` in [start, end), streamed."""
    return exports.export_ohlc(symbol, span, db, timeframe)


@router.get("/api/export/spread", response_class=StreamingResponse, responses=exports.CSV_RESPONSE,
            summary="Pair analytics as CSV (old: export/spread)")
def export_spread(query: Pair, conn: Reader, hedge: HedgeParam = analytics.DEFAULT_HEDGE) -> StreamingResponse:
    """`GET /api/export/spread.csv`: the analytics CLI's file of the pair, byte for byte, streamed."""
    return exports.export_spread(query, conn, hedge)


@router.get("/api/export/correlation", response_class=StreamingResponse, responses=exports.CSV_RESPONSE,
            summary="Rolling correlations of a pair as CSV (old: export/correlation)")
def export_correlation(query: Pair, conn: Reader) -> StreamingResponse:
    """`GET /api/export/correlation.csv`: the pair's rolling correlations in [start, end), streamed."""
    return exports.export_correlation(query, conn)


@router.post("/api/admin/schedule", dependencies=TokenRequired, response_model=HourlySummariesResponse,
             responses={**TOKEN_ERRORS, 404: ERRORS[404]}, summary="Compute hourly summaries (old: admin/schedule)")
def schedule_hourly_summaries(query: Pair, conn: Reader, db: DatabaseDep,
                              hedge: HedgeParam = analytics.DEFAULT_HEDGE) -> dict[str, Any]:
    """`POST /api/admin/hourly`: compute the pair's hourly summaries now and store them (token)."""
    return summaries.compute_hourly_summaries(query, conn, db, hedge)


# --------------------------------------------------------------------------- the FastAPI + Streamlit platform
# (declared after /api/export/price, spread and correlation, which /api/export/{symbol} would match too)


@router.get("/api/export/{symbol}", response_class=StreamingResponse, responses=exports.CSV_RESPONSE,
            summary="Trades of a symbol as CSV (old: export/{symbol})")
def export_symbol(
    symbol: KnownSymbol, span: Span, db: DatabaseDep,
    format: Annotated[Literal["csv"], Query(description="csv, the only format (another one is a 422)")] = "csv",
) -> StreamingResponse:
    """`GET /api/export/ticks.csv?symbol=`: every trade of the symbol in [start, end), streamed."""
    return exports.export_ticks(symbol, span, db)


@router.post("/api/upload/ohlc", response_model=UploadResponse, responses={422: ERRORS[422], **BAD_BODY},
             summary="Import a bar file (old: upload/ohlc)")
def upload_ohlc(
    db: DatabaseDep,
    file: Annotated[UploadFile, File(description="a bar file with the header time,open,high,low,close,volume, "
                                                 "Binance klines, or any other file POST /api/upload takes")],
    symbol: Annotated[str | None, Form(description="the file's symbol; default: from a Binance dump name",
                                       pattern=SYMBOL_PARAM_PATTERN)] = None,
) -> dict[str, Any]:
    """`POST /api/upload`: the whole file checked, then stored; a bad file is a 422 naming its line."""
    return uploads.upload_history(db, file, symbol)
