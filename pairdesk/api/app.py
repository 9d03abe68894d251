"""The REST API: FastAPI over ``tickstore`` and ``analytics_engine``, served by uvicorn.

    python api.py --db ticks.db                      # http://127.0.0.1:8000, docs at /docs
    python api.py --db ticks.db --port 8001 --token S3CRET   # admin and watchlist endpoints enabled

Endpoints (JSON unless noted; the OpenAPI page at /docs documents each one):

    GET    /api/status                      market, source, schema, feed lights per symbol, gaps, counts
    GET    /api/symbols                     symbols with their bar / trade counts and time extent
    GET    /api/ticks/{symbol}              the most recent trades
    GET    /api/prices                      the latest trade price(s) of every symbol or of one
    GET    /api/ohlc/{symbol}               OHLCV bars at a timeframe
    GET    /api/stats/{symbol}              summary statistics of the last N bars
    GET    /api/spread                      hedge ratio, spread, z-score and correlation of a pair
    GET    /api/correlation                 rolling and whole-sample correlation of a pair
    GET    /api/cointegration               ADF, Engle-Granger, half-life (and Johansen, Hurst)
    GET    /api/alerts                      alert rules
    POST   /api/alerts                      add an alert rule
    DELETE /api/alerts/{rule_id}            delete an alert rule
    GET    /api/alerts/triggered            alert events, newest first
    GET    /api/export/ticks.csv            trades as CSV, streamed page by page
    GET    /api/export/ohlc.csv             bars as CSV, streamed in time chunks
    GET    /api/export/spread.csv           the analytics CLI's CSV, computed once, streamed in pieces
    GET    /api/export/correlation.csv      rolling correlations as CSV, computed once, streamed in pieces
    POST   /api/upload                      import a history CSV (Binance dumps or the simple bar format)
    GET    /api/summary/hourly              stored hourly summaries
    POST   /api/admin/hourly                compute and store hourly summaries (token)
    GET    /api/watchlist                   the symbols the ingestor follows (token)
    PUT    /api/watchlist                   replace them (token)

Reads open the database read-only, one short-lived connection per request. The API writes only
alert rules, uploads, hourly summaries and the watchlist, each in one brief transaction through
``store.open_writer`` with the database's own metadata. Errors are ``{"detail": "..."}``:
422 for a bad parameter, 404 for an unknown symbol or rule, 403 / 401 for the token endpoints,
503 when the database is missing or busy.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import secrets
import signal
import socket
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from pairdesk import alerts
from pairdesk import analytics
from pairdesk.history import importer
from pairdesk import history
from pairdesk.alerts import repository
from pairdesk import store

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- constants

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
TOKEN_ENV = "API_TOKEN"
CONFIG_ERROR_EXIT = 2

DEFAULT_LIMIT = 1_000
MAX_LIMIT = 100_000
MAX_WINDOW = 100_000
MAX_STALE_STEPS = 100_000
MAX_TEST_ROWS = 20_000  # ADF with its AIC lag search stays under a few seconds
LATEST_MS = 4_102_444_800_000  # 2100-01-01: a later start / end is a mistake (µs or ns given as ms)

# Feed lights (issue 6's rule; the dashboard's delayed / disconnected rule is close to it).
GREEN_TRADE_AGE_MS = 5_000
HEARTBEAT_STALE_MS = 10_000
RED_STATES = ("disconnected", "stopped")

# Streaming exports: memory is bounded by these, whatever the size of the database.
EXPORT_TRADE_PAGE_ROWS = 50_000
EXPORT_OHLC_CHUNK_MS = 6 * 3_600_000  # a multiple of every timeframe: <= 21 600 one-second bars a chunk
EXPORT_CSV_PIECE_ROWS = 10_000

SYMBOL_PARAM_PATTERN = r"^[A-Za-z0-9]{2,20}$"
PAIR_PARAM_PATTERN = r"^\s*[A-Za-z0-9]{2,20}\s*,\s*[A-Za-z0-9]{2,20}\s*$"
WATCHLIST_SYMBOL = re.compile(r"^[A-Z0-9]{2,20}$")
MAX_WATCHLIST = 1024

Timeframe = Literal[tuple(analytics.TIMEFRAME_MS)]  # type: ignore[valid-type]  # "1s" ... "1h"
HedgeMethod = Literal[analytics.HEDGE_METHODS]  # type: ignore[valid-type]
Verdict = Literal["green", "amber", "red"]

# --------------------------------------------------------------------------- errors


class ErrorBody(BaseModel):
    """Every error answer: one line saying what is wrong and, where it helps, what to do."""

    detail: str = Field(description="what went wrong", examples=["unknown symbol 'XYZUSDT': not in this database"])


def unprocessable(message: str) -> HTTPException:
    """422: a parameter or an uploaded file the API cannot use."""
    return HTTPException(status_code=422, detail=message)


def not_found(message: str) -> HTTPException:
    return HTTPException(status_code=404, detail=message)


def _describe_validation(errors: Sequence[dict[str, Any]]) -> str:
    """FastAPI's list of validation errors as one line: "query parameter limit: ... (got '0')"."""
    parts = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        where = {"query": "query parameter", "path": "path parameter", "body": "request body",
                 "header": "header"}.get(loc[0] if loc else "", "input")
        if len(loc) > 1:
            where += " " + "".join(f"[{p}]" if p.isdigit() else (f".{p}" if i else p) for i, p in enumerate(loc[1:]))
        message = str(error.get("msg", "invalid"))
        if error.get("type") not in ("missing", "json_invalid") and "input" in error:
            shown = repr(error["input"])
            message += f" (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
        parts.append(f"{where}: {message}")
    return "; ".join(parts) or "invalid request"


def _install_error_handlers(app: FastAPI) -> None:
    """Every error is {"detail": "<one line>"}: validation errors too; a missing or busy database is 503."""

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _describe_validation(exc.errors())}, status_code=422)

    @app.exception_handler(store.StoreError)
    async def store_error(_request: Request, exc: store.StoreError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(sqlite3.Error)
    @app.exception_handler(pd.errors.DatabaseError)  # what pandas' read_sql_query wraps sqlite3 errors in
    async def database_error(_request: Request, exc: Exception) -> JSONResponse:
        if any(word in str(exc) for word in ("locked", "busy")):
            log.warning("database busy: %s", exc)
            return JSONResponse({"detail": f"database busy ({exc}); try again"}, status_code=503)
        log.error("database error: %s", exc)
        return JSONResponse({"detail": f"database error: {exc}"}, status_code=500)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse({"detail": f"internal error ({type(exc).__name__}: {exc}); see the API's log"},
                            status_code=500)


ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "unknown symbol (not in this database) or rule"},
    422: {"model": ErrorBody, "description": "a parameter is missing, malformed or out of range"},
}
BAD_BODY: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "the body cannot be parsed at all (not JSON / not multipart)"}}
TOKEN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing or wrong token"},
    403: {"model": ErrorBody, "description": "the API was started without a token: these endpoints are off"},
    422: ERRORS[422],
}

# --------------------------------------------------------------------------- time parameters


def parse_time_ms(text: str, name: str) -> int:
    """Epoch milliseconds from an integer string or an ISO 8601 date-time (UTC unless it says otherwise)."""
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        ms = int(text)
    else:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise unprocessable(f"{name} {text[:40]!r} is neither epoch milliseconds nor an ISO 8601 date-time "
                                f"(e.g. 1723161600000 or 2024-08-09T00:00:00Z)") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        ms = math.floor(moment.timestamp() * 1000)
    if not 0 <= ms < LATEST_MS:
        raise unprocessable(f"{name} {text[:40]!r} is outside 1970..2100 (give epoch milliseconds, not µs)")
    return ms


@dataclass(frozen=True)
class TimeRange:
    """start_ms <= t < end_ms (either end open when None)."""

    start_ms: int | None = None
    end_ms: int | None = None

    def bar_bounds(self, timeframe: str) -> tuple[int | None, int | None]:
        """One-second bar bounds holding exactly the complete ``timeframe`` bars that start in the range."""
        tf_ms = analytics.timeframe_ms(timeframe)
        return tuple(None if t is None else -(-t // tf_ms) * tf_ms for t in (self.start_ms, self.end_ms))


START_DOC = "only data at or after this time: epoch milliseconds (UTC) or ISO 8601, e.g. 2024-08-09T00:00:00Z"
END_DOC = "only data before this time (exclusive): epoch milliseconds (UTC) or ISO 8601"


def time_range(
    start: Annotated[str | None, Query(description=START_DOC, examples=["1723161300000"])] = None,
    end: Annotated[str | None, Query(description=END_DOC, examples=["2024-08-09T00:05:00Z"])] = None,
) -> TimeRange:
    """The ``start`` / ``end`` query parameters, checked."""
    span = TimeRange(None if start is None else parse_time_ms(start, "start"),
                     None if end is None else parse_time_ms(end, "end"))
    if span.start_ms is not None and span.end_ms is not None and span.start_ms >= span.end_ms:
        raise unprocessable(f"start ({span.start_ms}) must be before end ({span.end_ms})")
    return span


# --------------------------------------------------------------------------- common parameters

SymbolPath = Annotated[str, PathParam(description="symbol as Binance names it, any case (e.g. BTCUSDT)",
                                      pattern=SYMBOL_PARAM_PATTERN, examples=["BTCUSDT"])]
PairParam = Annotated[str, Query(description="two symbols A,B of this database, any case; A is regressed on B "
                                             "(hedge ratio = units of B per unit of A)",
                                 pattern=PAIR_PARAM_PATTERN, examples=["BTCUSDT,ETHUSDT"])]
TimeframeParam = Annotated[Timeframe, Query(description="bar length; bars start at floor(ts_ms / length) * length")]
WindowParam = Annotated[int, Query(ge=2, le=MAX_WINDOW, description="trailing window in bars for z-score, "
                                                                   "correlation and rolling OLS")]
HedgeParam = Annotated[HedgeMethod, Query(description="hedge ratio: ols, huber or theilsen (one static fit over "
                                                      "all rows), rolling (trailing-window OLS) or kalman")]
MaxStaleParam = Annotated[int, Query(ge=0, le=MAX_STALE_STEPS, description="carry a symbol's last close forward "
                                                                          "at most this many bars when aligning")]
LimitParam = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="at most this many rows, the most recent")]
Span = Annotated[TimeRange, Depends(time_range)]


@dataclass(frozen=True)
class Database:
    """What the app serves: the database file and the admin token (None: admin endpoints off)."""

    path: Path
    token: str | None = None


def database(request: Request) -> Database:
    return request.app.state.database


def reader(db: Annotated[Database, Depends(database)]) -> Iterator[sqlite3.Connection]:
    """A read-only connection for one request (each query is its own short read transaction)."""
    conn = store.open_reader(db.path)
    try:
        yield conn
    finally:
        conn.close()


Reader = Annotated[sqlite3.Connection, Depends(reader)]


def require_known(conn: sqlite3.Connection, symbols: Sequence[str]) -> None:
    """404 for the first symbol with no data in the database."""
    known = store.list_symbols(conn)
    for symbol in symbols:
        if symbol not in known:
            raise not_found(f"unknown symbol {symbol!r}: not in this database (it holds: "
                            f"{', '.join(known[:20]) or 'nothing yet'}{' ...' if len(known) > 20 else ''})")


def known_symbol(symbol: SymbolPath, conn: Reader) -> str:
    """The path's symbol, upper case, known to the database."""
    symbol = symbol.upper()
    require_known(conn, [symbol])
    return symbol


def known_pair(symbols: PairParam, conn: Reader) -> tuple[str, str]:
    """``A,B`` -> ("A", "B"), upper case, two different symbols known to the database."""
    a, b = (s.strip().upper() for s in symbols.split(","))
    if a == b:
        raise unprocessable(f"symbols needs two different symbols, got {symbols!r}")
    require_known(conn, [a, b])
    return a, b


KnownSymbol = Annotated[str, Depends(known_symbol)]
KnownPair = Annotated[tuple[str, str], Depends(known_pair)]


@dataclass(frozen=True)
class PairQuery:
    """A pair's analytics parameters, shared by spread, correlation, cointegration, exports, summaries."""

    pair: tuple[str, str]
    timeframe: str
    window: int
    max_stale: int
    span: TimeRange

    def panel(self, conn: sqlite3.Connection, hedge: str = "ols") -> pd.DataFrame:
        """``analytics_engine.pair_panel`` on the pair's one-second bars in the range: with no range it
        reads every bar, exactly as ``python analytics_engine.py`` does, so the numbers are the CLI's."""
        lo, hi = self.span.bar_bounds(self.timeframe)
        bars = [store.read_bars_1s(conn, symbol, lo, hi) for symbol in self.pair]
        return analytics.pair_panel(*bars, self.timeframe, self.window, hedge, self.max_stale)


def pair_query(pair: KnownPair, span: Span, timeframe: TimeframeParam = "1s",
               window: WindowParam = analytics.DEFAULT_WINDOW_ROWS,
               max_stale: MaxStaleParam = analytics.DEFAULT_MAX_STALE_STEPS) -> PairQuery:
    return PairQuery(pair, timeframe, window, max_stale, span)


Pair = Annotated[PairQuery, Depends(pair_query)]

# --------------------------------------------------------------------------- writing


@contextmanager
def write_transaction(db: Database) -> Iterator[sqlite3.Connection]:
    """A brief write transaction on the database, opened with its own market, stream and source."""
    meta = database_metadata(db)
    conn = store.open_writer(db.path, meta["market"], meta["stream"], meta.get("source"))
    try:
        with store.transaction(conn):
            yield conn
    finally:
        conn.close()


def database_metadata(db: Database) -> dict[str, str]:
    with closing(store.open_reader(db.path)) as conn:
        meta = store.read_metadata(conn)
    if "market" not in meta or "stream" not in meta:
        raise store.StoreError(f"{db.path}: the database records no market / stream yet")
    return meta


bearer = HTTPBearer(auto_error=False, scheme_name="token",
                    description=f"the token given at start-up (--token or ${TOKEN_ENV}), sent as "
                                "'Authorization: Bearer <token>'")


def require_token(db: Annotated[Database, Depends(database)],
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    """403 when the API has no token, 401 when the request does not carry it."""
    if not db.token:
        raise HTTPException(403, f"this endpoint is off: start the API with --token TOKEN (or set {TOKEN_ENV}) "
                                 "and send 'Authorization: Bearer TOKEN'")
    if credentials is None or not secrets.compare_digest(credentials.credentials.encode(), db.token.encode()):
        raise HTTPException(401, "missing or wrong token: send 'Authorization: Bearer <the token given at start-up>'",
                            headers={"WWW-Authenticate": "Bearer"})


TokenRequired = [Depends(require_token)]

# --------------------------------------------------------------------------- conversions


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as dicts of plain Python values (NaN stays NaN: the JSON encoder writes null)."""
    return frame.to_dict("records")


def finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def json_safe(value: Any) -> Any:
    """``value`` with NaN / infinity replaced by None, recursively (for JSON stored in the database)."""
    if isinstance(value, float):
        return finite(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def csv_stream(pieces: Iterator[str], file_name: str) -> StreamingResponse:
    return StreamingResponse(pieces, media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{file_name}"'})


def frame_csv_pieces(frame: pd.DataFrame, rows: int = EXPORT_CSV_PIECE_ROWS) -> Iterator[str]:
    """A computed frame as CSV text, ``rows`` rows at a time, formatted exactly as the analytics CLI
    writes it (header, full-precision floats, NaN as an empty cell, "\\n" line ends)."""
    for first in range(0, max(len(frame), 1), rows):
        yield frame.iloc[first:first + rows].to_csv(index=False, header=first == 0, na_rep="", lineterminator="\n")


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV file, streamed"}, **ERRORS}

# --------------------------------------------------------------------------- response models


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeedStatus(Model):
    """One symbol's feed as the ingestor last wrote it, with a traffic light."""

    symbol: str
    verdict: Verdict = Field(description="green: live, last trade < 5 s and heartbeat < 10 s ago; red: heartbeat "
                                         "older than 10 s, feed disconnected / stopped, or no status row; else amber")
    reason: str = Field(description="why the verdict is what it is")
    state: str | None = Field(None, description="live, starting, connecting, silent, polling, disconnected, stopped")
    transport: str | None = None
    last_trade_ms: int | None = None
    last_trade_age_ms: int | None = None
    last_message_ms: int | None = None
    heartbeat_ms: int | None = Field(None, description="when the ingestor last wrote this row")
    heartbeat_age_ms: int | None = None
    messages: int = 0
    trades: int = Field(0, description="trades the ingestor received for this symbol")
    bad_frames: int = 0
    reconnects: int = 0
    open_gaps: int = 0
    message_rate: float | None = None
    detail: str = ""


class SymbolInfo(Model):
    symbol: str
    bars: int = Field(description="one-second bars stored")
    trades: int = Field(description="trades stored")
    first_ms: int = Field(description="start of the first one-second bar, UTC ms")
    last_ms: int = Field(description="start of the last one-second bar, UTC ms")


class StatusResponse(Model):
    database: str
    market: str | None
    stream: str | None
    source: str | None = Field(description="binance, or local (the local exchange: demo data)")
    source_label: str = Field(description="DEMO when the data come from the local exchange, else the source")
    demo: bool
    schema_version: int
    created_ms: int | None
    server_time_ms: int
    verdict: Verdict = Field(description="the worst feed verdict (red when no feed reports)")
    feeds: list[FeedStatus]
    open_gaps: int = Field(description="gaps in trade ids still being filled, all symbols")
    open_gaps_by_symbol: dict[str, int]
    trades: int = Field(description="trades stored, all symbols")
    symbols: list[SymbolInfo]


class SymbolsResponse(Model):
    symbols: list[SymbolInfo]


class Tick(Model):
    trade_id: int
    ts_ms: int = Field(description="exchange trade time, UTC ms")
    price: float
    qty: float
    is_buyer_maker: bool


class TicksResponse(Model):
    symbol: str
    count: int
    ticks: list[Tick] = Field(description="oldest first")


class Price(Model):
    symbol: str
    trade_id: int
    ts_ms: int
    price: float


class PricesResponse(Model):
    prices: list[Price] = Field(description="by symbol, then oldest first")


class Bar(Model):
    ts_ms: int = Field(description="bar start, UTC ms")
    open: float
    high: float
    low: float
    close: float
    volume: float
    quote_volume: float
    trades: int
    vwap: float | None


class OhlcResponse(Model):
    symbol: str
    timeframe: str
    count: int
    bars: list[Bar] = Field(description="oldest first; intervals without trades have no bar")


class StatsResponse(Model):
    symbol: str
    timeframe: str
    window: int
    first_ms: int | None = Field(description="start of the first bar summarised")
    last_ms: int | None = Field(description="start of the last bar summarised")
    bars: int
    last: float | None
    mean: float | None = Field(description="mean close")
    std: float | None = Field(description="standard deviation of closes (ddof 1)")
    min: float | None
    max: float | None
    annualised_volatility: float | None = Field(description="std of log returns on the bar grid * sqrt(bars/year)")
    vwap: float | None
    volume: float
    trades: int


class SpreadRow(Model):
    ts_ms: int = Field(description="bar start, UTC ms")
    price_a: float
    price_b: float
    hedge_ratio: float | None
    spread: float | None = Field(description="price_a - hedge_ratio * price_b")
    zscore: float | None = Field(description="spread's trailing-window z-score (null until the window fills)")
    corr: float | None = Field(description="trailing-window correlation of the prices")
    alpha: float | None = Field(description="intercept paired with the hedge ratio (not part of the spread)")
    return_corr: float | None = Field(description="trailing-window correlation of the log returns")


class PairEcho(Model):
    symbol_a: str
    symbol_b: str
    timeframe: str
    window: int
    max_stale: int
    rows_total: int = Field(description="aligned bars computed (the response holds the last `limit`)")


class SpreadResponse(PairEcho):
    hedge: str
    rows: list[SpreadRow]


class CorrelationRow(Model):
    ts_ms: int
    price_a: float
    price_b: float
    corr: float | None
    return_corr: float | None


class CorrelationResponse(PairEcho):
    price_correlation: float | None = Field(description="Pearson correlation of the aligned closes, all rows")
    return_correlation: float | None = Field(description="Pearson correlation of their log returns, all rows")
    rows: list[CorrelationRow]


class AdfOut(Model):
    statistic: float | None
    pvalue: float | None
    lags_used: int | None
    nobs: int | None
    critical_values: dict[str, float]
    reason: str | None


class EngleGrangerOut(Model):
    statistic: float | None
    pvalue: float | None
    critical_values: dict[str, float]
    nobs: int | None
    reason: str | None


class JohansenOut(Model):
    trace_statistics: list[float]
    critical_values: list[list[float]] = Field(description="per rank: 90%, 95%, 99%")
    eigenvalues: list[float]
    rank_95: int | None
    nobs: int | None
    reason: str | None


class HalfLifeOut(Model):
    half_life_bars: float | None
    half_life_s: float | None
    b: float | None
    a: float | None
    nobs: int | None
    reason: str | None


class HurstOut(Model):
    hurst: float | None
    lags: list[int]
    reason: str | None


class CointegrationResponse(Model):
    symbol_a: str
    symbol_b: str
    timeframe: str
    hedge: str
    hedge_ratio: float | None = Field(description="the hedge ratio of the last row tested")
    rows: int = Field(description="aligned rows the tests ran on (the most recent)")
    adf: AdfOut = Field(description="ADF of the spread: p < 0.05 rejects a unit root (mean-reverting)")
    engle_granger: EngleGrangerOut = Field(description="Engle-Granger of price_a on price_b: p < 0.05 = cointegrated")
    half_life: HalfLifeOut
    johansen: JohansenOut
    hurst: HurstOut


class UploadResponse(Model):
    file_name: str
    format: str = Field(description="the layout detected, e.g. 'spot trades' or 'klines'")
    kind: str = Field(description="trade, aggTrade or bars")
    symbol: str
    rows: int
    stored: int = Field(description="rows new to the database")
    already_stored: int = Field(description="rows the database already held (left untouched)")
    first_ms: int
    last_ms: int


class HourlySummary(Model):
    symbols: str
    timeframe: str
    hour_ms: int = Field(description="hour start, UTC ms")
    computed_ms: int
    stats: dict[str, Any] = Field(description="analytics_engine.hourly_summary's columns, plus window and hedge")


class HourlySummariesResponse(Model):
    count: int
    summaries: list[HourlySummary]


class WatchlistResponse(Model):
    symbols: list[str]
    updated_ms: int | None = Field(description="when the list was last written (null: never)")


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _watch_symbol(symbol: str) -> str:
    if not WATCHLIST_SYMBOL.fullmatch(symbol):
        raise ValueError(f"{symbol[:30]!r} is not a Binance symbol (2 to 20 letters and digits, e.g. BTCUSDT)")
    return symbol


class WatchlistUpdate(Model):
    symbols: list[Annotated[str, BeforeValidator(_upper), AfterValidator(_watch_symbol)]] = Field(
        min_length=1, max_length=MAX_WATCHLIST,
        description=f"1 to {MAX_WATCHLIST} symbols; upper-cased, each ^[A-Z0-9]{{2,20}}$; duplicates dropped",
        examples=[["BTCUSDT", "ETHUSDT"]])


class WatchlistChange(WatchlistResponse):
    added: list[str]
    removed: list[str]


# --------------------------------------------------------------------------- endpoints: status and data

router = APIRouter(responses={503: {"model": ErrorBody, "description": "the database is missing, unreadable or busy"}})


@router.get("/api/status", response_model=StatusResponse, tags=["status"], summary="Database and feed status")
def get_status(conn: Reader, db: Annotated[Database, Depends(database)]) -> dict[str, Any]:
    """What the database holds (market, stream kind, source, schema version), each symbol's feed
    with a green / amber / red verdict, open gaps and trade counts."""
    meta = store.read_metadata(conn)
    now = store.now_ms()
    symbols = symbol_infos(conn)
    status_rows = {row["symbol"]: row for row in records(store.read_feed_status(conn))}
    feeds = [feed_status(symbol, status_rows.get(symbol), now)
             for symbol in sorted({*status_rows, *(s["symbol"] for s in symbols)})]
    gaps = store.read_gaps(conn, open_only=True)
    by_symbol = {str(k): int(v) for k, v in gaps.groupby("symbol").size().items()} if len(gaps) else {}
    verdicts = [f["verdict"] for f in feeds]
    source = meta.get("source")
    return {
        "database": str(db.path), "market": meta.get("market"), "stream": meta.get("stream"), "source": source,
        "source_label": "DEMO" if source == "local" else (source or "unknown"), "demo": source == "local",
        "schema_version": int(meta["schema_version"]),
        "created_ms": int(meta["created_ms"]) if meta.get("created_ms", "").isdigit() else None,
        "server_time_ms": now,
        "verdict": next((v for v in ("red", "amber") if v in verdicts), "green" if verdicts else "red"),
        "feeds": feeds, "open_gaps": len(gaps), "open_gaps_by_symbol": by_symbol,
        "trades": sum(s["trades"] for s in symbols), "symbols": symbols,
    }


def feed_status(symbol: str, row: dict[str, Any] | None, now_ms: int) -> dict[str, Any]:
    """A feed status row with its verdict (see FeedStatus.verdict)."""
    if row is None:
        return {"symbol": symbol, "verdict": "red", "reason": "no status row: no ingestor follows this symbol"}
    clean = {key: (None if isinstance(value, float) and math.isnan(value) else value) for key, value in row.items()}
    last_trade, heartbeat = clean.get("last_trade_ms"), clean.get("updated_ms")
    trade_age = None if last_trade is None else now_ms - int(last_trade)
    heartbeat_age = None if heartbeat is None else now_ms - int(heartbeat)
    state = clean.get("state")
    if heartbeat_age is None or heartbeat_age > HEARTBEAT_STALE_MS:
        verdict, reason = "red", _missing_for("heartbeat", heartbeat_age)
    elif state in RED_STATES:
        verdict, reason = "red", f"feed {state}"
    elif state != "live":
        verdict, reason = "amber", f"feed {state}"
    elif trade_age is None or trade_age >= GREEN_TRADE_AGE_MS:
        verdict, reason = "amber", _missing_for("trade", trade_age)
    else:
        verdict, reason = "green", "streaming"
    counters = {name: int(clean.get(name) or 0) for name in ("messages", "trades", "bad_frames", "reconnects",
                                                             "open_gaps")}
    return {"symbol": symbol, "verdict": verdict, "reason": reason, "state": state,
            "transport": clean.get("transport"), "last_trade_ms": last_trade, "last_trade_age_ms": trade_age,
            "last_message_ms": clean.get("last_message_ms"), "heartbeat_ms": heartbeat,
            "heartbeat_age_ms": heartbeat_age, **counters, "message_rate": finite(clean.get("message_rate")),
            "detail": clean.get("detail") or ""}


def _missing_for(what: str, age_ms: int | None) -> str:
    return f"no {what} yet" if age_ms is None else f"no {what} for {age_ms / 1000:.0f} s"


def symbol_infos(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [{"symbol": symbol, "bars": bars, "trades": trades, "first_ms": first, "last_ms": last}
            for symbol, bars, trades, first, last in store.read_symbol_extents(conn)]


@router.get("/api/symbols", response_model=SymbolsResponse, tags=["status"], summary="Symbols in the database")
def get_symbols(conn: Reader) -> dict[str, Any]:
    """Every symbol with data, with its bar and trade counts and the time of its first and last bar."""
    return {"symbols": symbol_infos(conn)}


@router.get("/api/ticks/{symbol}", response_model=TicksResponse, responses=ERRORS, tags=["market data"],
            summary="Recent trades of a symbol")
def get_ticks(symbol: KnownSymbol, conn: Reader, span: Span, limit: LimitParam = DEFAULT_LIMIT) -> dict[str, Any]:
    """The most recent `limit` trades of the symbol in [start, end), oldest first."""
    trades = store.read_trades(conn, symbol, span.start_ms, span.end_ms, limit=limit)
    return {"symbol": symbol, "count": len(trades), "ticks": records(trades)}


@router.get("/api/prices", response_model=PricesResponse, responses=ERRORS, tags=["market data"],
            summary="Latest prices")
def get_prices(
    conn: Reader,
    symbol: Annotated[str | None, Query(description="one symbol (default: every symbol)",
                                        pattern=SYMBOL_PARAM_PATTERN, examples=["ETHUSDT"])] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="prices per symbol, the most recent "
                                                                "(symbols x limit at most 100 000)")] = 1,
) -> dict[str, Any]:
    """The last trade price of every symbol (or of `symbol`); with `limit`, the last `limit` trade
    prices of each, oldest first."""
    symbols = store.list_symbols(conn) if symbol is None else [symbol.upper()]
    require_known(conn, symbols)
    if len(symbols) * limit > MAX_LIMIT:
        raise unprocessable(f"{len(symbols)} symbols x limit {limit} exceeds {MAX_LIMIT} prices: pass symbol= "
                            "or a smaller limit")
    prices = []
    for name in symbols:
        trades = store.read_trades(conn, name, limit=limit)
        prices += [{"symbol": name, "trade_id": t["trade_id"], "ts_ms": t["ts_ms"], "price": t["price"]}
                   for t in records(trades)]
    return {"prices": prices}


def recent_bars(conn: sqlite3.Connection, symbol: str, timeframe: str, count: int, span: TimeRange) -> pd.DataFrame:
    """The last ``count`` ``timeframe`` bars of ``symbol`` starting in ``span`` (whole bars), oldest first.

    Reads back from the end of the range only as far as needed (a stretch four times wider each
    time), so the last 1000 bars of a month-long database cost about what they cost on an hour.
    """
    tf_ms = analytics.timeframe_ms(timeframe)
    extent = store.bar_time_range(conn, symbol)
    if extent is None:
        return analytics.resample_bars(pd.DataFrame(columns=store.BAR_COLUMNS), timeframe)  # empty, typed
    first, last = extent
    lowest, hi = span.bar_bounds(timeframe)
    lowest = max(lowest or 0, first - first % tf_ms)
    hi = last - last % tf_ms + tf_ms if hi is None else hi
    stretch = count * tf_ms
    while True:
        lo = max(hi - stretch, lowest)
        bars = analytics.resample_bars(store.read_bars_1s(conn, symbol, lo, hi), timeframe)
        if len(bars) >= count or lo <= lowest:
            return bars.tail(count).reset_index(drop=True)
        stretch *= 4


@router.get("/api/ohlc/{symbol}", response_model=OhlcResponse, responses=ERRORS, tags=["market data"],
            summary="OHLCV bars of a symbol")
def get_ohlc(symbol: KnownSymbol, conn: Reader, span: Span, timeframe: TimeframeParam = "1m",
             limit: LimitParam = DEFAULT_LIMIT) -> dict[str, Any]:
    """The most recent `limit` bars at `timeframe` that start in [start, end), oldest first, built from
    the stored one-second bars (vwap = quote_volume / volume). A bar is never cut by start / end; the
    newest one may still be forming."""
    bars = recent_bars(conn, symbol, timeframe, limit, span)
    return {"symbol": symbol, "timeframe": timeframe, "count": len(bars), "bars": records(bars)}


@router.get("/api/stats/{symbol}", response_model=StatsResponse, responses=ERRORS, tags=["analytics"],
            summary="Summary statistics of a symbol")
def get_stats(symbol: KnownSymbol, conn: Reader, span: Span, timeframe: TimeframeParam = "1s",
              window: Annotated[int, Query(ge=2, le=MAX_WINDOW, description="how many of the most recent bars "
                                                                           "to summarise")] = 300) -> dict[str, Any]:
    """Last price, mean / std / min / max, annualised volatility, VWAP, volume and trade count of the
    last `window` bars at `timeframe` (in [start, end) when given)."""
    bars = recent_bars(conn, symbol, timeframe, window, span)
    summary = {key: finite(value) if isinstance(value, float) else value
               for key, value in asdict(analytics.symbol_summary(bars, timeframe)).items()}
    return {"symbol": symbol, "timeframe": timeframe, "window": window,
            "first_ms": int(bars["ts_ms"].iloc[0]) if len(bars) else None,
            "last_ms": int(bars["ts_ms"].iloc[-1]) if len(bars) else None,
            **summary}


# --------------------------------------------------------------------------- endpoints: pair analytics


def pair_echo(query: PairQuery, panel: pd.DataFrame) -> dict[str, Any]:
    return {"symbol_a": query.pair[0], "symbol_b": query.pair[1], "timeframe": query.timeframe,
            "window": query.window, "max_stale": query.max_stale, "rows_total": len(panel)}


@router.get("/api/spread", response_model=SpreadResponse, responses=ERRORS, tags=["analytics"],
            summary="Hedge ratio, spread and z-score of a pair")
def get_spread(query: Pair, conn: Reader, hedge: HedgeParam = "ols",
               limit: LimitParam = DEFAULT_LIMIT) -> dict[str, Any]:
    """`analytics_engine.pair_panel` of the pair: one row per aligned bar with the hedge ratio, spread
    (price_a - hedge_ratio * price_b), its rolling z-score and the rolling correlations. Computed on
    every bar in [start, end) (all bars by default, exactly as `python analytics_engine.py` computes
    them); the response holds the last `limit` rows."""
    panel = query.panel(conn, hedge)
    return {**pair_echo(query, panel), "hedge": hedge, "rows": records(panel.tail(limit))}


CORRELATION_COLUMNS = ["ts_ms", "price_a", "price_b", "corr", "return_corr"]


@router.get("/api/correlation", response_model=CorrelationResponse, responses=ERRORS, tags=["analytics"],
            summary="Correlation of a pair")
def get_correlation(query: Pair, conn: Reader, limit: LimitParam = DEFAULT_LIMIT) -> dict[str, Any]:
    """Rolling `window`-bar correlation of the aligned closes and of their log returns (the last
    `limit` rows), and both correlations over all aligned rows in [start, end)."""
    panel = query.panel(conn)
    returns = panel[["price_a", "price_b"]].apply(analytics.log_returns)
    return {**pair_echo(query, panel),
            "price_correlation": finite(panel["price_a"].corr(panel["price_b"])),
            "return_correlation": finite(returns["price_a"].corr(returns["price_b"])),
            "rows": records(panel[CORRELATION_COLUMNS].tail(limit))}


@router.get("/api/cointegration", response_model=CointegrationResponse, responses=ERRORS, tags=["analytics"],
            summary="Mean-reversion tests of a pair")
def get_cointegration(
    query: Pair, conn: Reader, hedge: HedgeParam = "ols",
    rows: Annotated[int, Query(ge=analytics.MIN_ROWS_FOR_TESTS, le=MAX_TEST_ROWS,
                               description="run the tests on this many of the most recent aligned bars")
                    ] = analytics.HEAVY_TEST_WINDOW_ROWS,
) -> dict[str, Any]:
    """ADF of the spread, Engle-Granger of price_a on price_b, half-life of mean reversion (in bars and
    seconds), Johansen trace and Hurst exponent, on the last `rows` aligned bars of the /api/spread
    panel (its hedge ratio fitted on every bar in [start, end)). A figure is null when its `reason`
    says why it could not be computed."""
    panel = query.panel(conn, hedge)
    report = analytics.mean_reversion_tests(panel, rows)
    tested = panel.dropna(subset=["spread"]).tail(rows)
    half_life = json_safe(asdict(report.half_life))
    bars = half_life["half_life_bars"]
    half_life["half_life_s"] = None if bars is None else bars * analytics.timeframe_ms(query.timeframe) / 1000
    return {"symbol_a": query.pair[0], "symbol_b": query.pair[1], "timeframe": query.timeframe, "hedge": hedge,
            "hedge_ratio": finite(tested["hedge_ratio"].iloc[-1]) if len(tested) else None, "rows": report.rows,
            "adf": json_safe(asdict(report.adf)), "engle_granger": json_safe(asdict(report.engle_granger)),
            "half_life": half_life, "johansen": json_safe(asdict(report.johansen)),
            "hurst": json_safe(asdict(report.hurst))}


# --------------------------------------------------------------------------- endpoints: CSV exports

SymbolQuery = Annotated[str, Query(description="symbol, any case (e.g. BTCUSDT)", pattern=SYMBOL_PARAM_PATTERN,
                                   examples=["BTCUSDT"])]


def known_symbol_query(symbol: SymbolQuery, conn: Reader) -> str:
    """The ``symbol`` query parameter, upper case, known to the database."""
    symbol = symbol.upper()
    require_known(conn, [symbol])
    return symbol


KnownSymbolQuery = Annotated[str, Depends(known_symbol_query)]
TICK_CSV_HEADER = ",".join(store.TRADE_COLUMNS) + "\n"


def tick_csv_pieces(path: Path, symbol: str, span: TimeRange) -> Iterator[str]:
    """Trades as CSV, one keyset page of EXPORT_TRADE_PAGE_ROWS trades (one short query) at a time."""
    yield TICK_CSV_HEADER
    with closing(store.open_reader(path)) as conn:
        bounds = store.trade_id_bounds(conn, symbol, span.start_ms, span.end_ms)
        if bounds is None:
            return
        after_id, last_id = bounds[0] - 1, bounds[1]
        while page := store.read_trade_page(conn, symbol, after_id, last_id, EXPORT_TRADE_PAGE_ROWS,
                                                span.start_ms, span.end_ms):
            yield "".join(f"{trade_id},{ts_ms},{price!r},{qty!r},{'true' if maker else 'false'}\n"
                          for trade_id, ts_ms, price, qty, maker in page)
            after_id = page[-1][0]


def ohlc_csv_pieces(path: Path, symbol: str, timeframe: str, span: TimeRange) -> Iterator[str]:
    """Bars as CSV, built from EXPORT_OHLC_CHUNK_MS of one-second bars at a time (chunk edges fall on
    bar edges, so every bar is whole)."""
    tf_ms = analytics.timeframe_ms(timeframe)
    with closing(store.open_reader(path)) as conn:
        extent = store.bar_time_range(conn, symbol) or (0, -tf_ms)
        lo, hi = span.bar_bounds(timeframe)
        lo = max(lo or 0, extent[0] - extent[0] % tf_ms)
        hi = extent[1] - extent[1] % tf_ms + tf_ms if hi is None else hi
        header = True
        for chunk_start in range(lo, max(hi, lo + 1), EXPORT_OHLC_CHUNK_MS):
            bars = analytics.resample_bars(
                store.read_bars_1s(conn, symbol, chunk_start, min(chunk_start + EXPORT_OHLC_CHUNK_MS, hi)),
                timeframe)
            if header or len(bars):
                yield bars.to_csv(index=False, header=header, na_rep="", lineterminator="\n")
                header = False


@router.get("/api/export/ticks.csv", response_class=StreamingResponse, responses=CSV_RESPONSE, tags=["export"],
            summary="Trades as CSV (streamed)")
def export_ticks(symbol: KnownSymbolQuery, span: Span, db: Annotated[Database, Depends(database)]
                 ) -> StreamingResponse:
    """Every trade of `symbol` in [start, end) by trade id: trade_id, ts_ms, price, qty, is_buyer_maker
    (true/false). Streamed page by page, never held in memory whole."""
    return csv_stream(tick_csv_pieces(db.path, symbol, span), f"{symbol}-ticks.csv")


@router.get("/api/export/ohlc.csv", response_class=StreamingResponse, responses=CSV_RESPONSE, tags=["export"],
            summary="OHLCV bars as CSV (streamed)")
def export_ohlc(symbol: KnownSymbolQuery, span: Span, db: Annotated[Database, Depends(database)],
                timeframe: TimeframeParam = "1m") -> StreamingResponse:
    """Every complete bar of `symbol` at `timeframe` starting in [start, end): ts_ms, open, high, low,
    close, volume, quote_volume, trades, vwap. Streamed in six-hour chunks."""
    return csv_stream(ohlc_csv_pieces(db.path, symbol, timeframe, span), f"{symbol}-ohlc-{timeframe}.csv")


@router.get("/api/export/spread.csv", response_class=StreamingResponse, responses=CSV_RESPONSE, tags=["export"],
            summary="Pair analytics as CSV, as the analytics CLI writes it")
def export_spread(query: Pair, conn: Reader, hedge: HedgeParam = "ols") -> StreamingResponse:
    """The file `python analytics_engine.py --db ... --symbols A,B --timeframe T --window W --hedge H
    --max-stale M --out f.csv` writes, byte for byte: ts_ms, price_a, price_b, hedge_ratio, spread,
    zscore, corr, alpha, return_corr. Computed once (a static hedge ratio needs every row), then
    streamed 10 000 rows at a time."""
    panel = query.panel(conn, hedge)
    a, b = query.pair
    return csv_stream(frame_csv_pieces(panel), f"{a}-{b}-spread-{query.timeframe}.csv")


@router.get("/api/export/correlation.csv", response_class=StreamingResponse, responses=CSV_RESPONSE,
            tags=["export"], summary="Rolling correlations of a pair as CSV")
def export_correlation(query: Pair, conn: Reader) -> StreamingResponse:
    """ts_ms, price_a, price_b, corr (rolling correlation of the closes) and return_corr (of their log
    returns) for every aligned bar in [start, end). Computed once, streamed 10 000 rows at a time."""
    panel = query.panel(conn)
    a, b = query.pair
    return csv_stream(frame_csv_pieces(panel[CORRELATION_COLUMNS]), f"{a}-{b}-correlation-{query.timeframe}.csv")


# --------------------------------------------------------------------------- endpoints: upload


def first_row_line(data: bytes) -> int:
    """The 1-based line of an upload's first non-blank line: where its layout was read from."""
    if data[:4] == b"PK\x03\x04":
        return 1
    body = data.removeprefix(b"\xef\xbb\xbf")
    return body[:len(body) - len(body.lstrip())].count(b"\n") + 1


def check_upload(data: bytes, file_name: str, symbol: str | None, meta: dict[str, str]
                 ) -> history.ParsedHistory:
    """Parse the whole file and check it fits the database; HistoryImportError names the line."""
    parsed = history.parse_history(data, file_name, symbol)
    try:
        history.check_fits_database(parsed, meta["market"], meta["stream"])
    except history.HistoryImportError as exc:
        raise history.HistoryImportError(exc.reason, exc.line or first_row_line(data)) from None
    return parsed


@router.post("/api/upload", response_model=UploadResponse, responses={422: ERRORS[422], **BAD_BODY}, tags=["import"],
             summary="Import a history CSV")
def upload_history(
    db: Annotated[Database, Depends(database)],
    file: Annotated[UploadFile, File(description="a Binance dump (spot / futures trades or aggTrades, klines; "
                                                 ".csv or .zip) or a simple bar file with the header "
                                                 "time,open,high,low,close,volume")],
    symbol: Annotated[str | None, Form(description="the file's symbol; default: from a Binance dump name such "
                                                   "as BTCUSDT-trades-2024-08-08.csv",
                                       pattern=r"^[A-Za-z0-9]{2,30}$")] = None,
) -> dict[str, Any]:
    """Check the whole file (format, every line, that it fits this database's market and trade-id
    kind), then store it. Trades already in the database, live ones included, are never
    overwritten; bars are added only where no bar exists. A bad file is a 422 naming the problem and
    its line, and nothing is stored."""
    file_name = file.filename or "upload.csv"
    data = file.file.read()
    meta = database_metadata(db)
    try:
        parsed = check_upload(data, file_name, symbol, meta)
    except history.HistoryImportError as exc:
        raise unprocessable(f"{file_name}: {exc}. Nothing was stored.") from None
    stored = importer.store_parsed(db.path, parsed, meta["market"], meta["stream"])
    log.info("upload %s: %s, %d rows of %s, %d new", file_name, parsed.format.name, parsed.rows, parsed.symbol,
             stored)
    return {"file_name": file_name, "format": parsed.format.name, "kind": parsed.kind, "symbol": parsed.symbol,
            "rows": parsed.rows, "stored": stored, "already_stored": parsed.rows - stored,
            "first_ms": parsed.first_ms, "last_ms": parsed.last_ms}


# --------------------------------------------------------------------------- endpoints: hourly summaries


def summary_records(rows: list[tuple[str, str, int, str, int]]) -> dict[str, Any]:
    return {"count": len(rows), "summaries": [
        {"symbols": symbols, "timeframe": timeframe, "hour_ms": hour_ms, "stats": json.loads(stats),
         "computed_ms": computed_ms} for symbols, timeframe, hour_ms, stats, computed_ms in rows]}


def pair_key(symbols: str) -> str:
    """'btcusdt, ethusdt' -> 'BTCUSDT,ETHUSDT' (how hourly_summaries stores a pair)."""
    return ",".join(s.strip().upper() for s in symbols.split(","))


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
def compute_hourly_summaries(query: Pair, conn: Reader, db: Annotated[Database, Depends(database)],
                             hedge: HedgeParam = "ols") -> dict[str, Any]:
    """Run `analytics_engine.hourly_summary` on the pair's panel (every bar in [start, end)) and store
    one row per UTC hour in hourly_summaries, replacing earlier rows of the same pair, timeframe and
    hour. Needs the token given at start-up. Returns the stored rows."""
    table = analytics.hourly_summary(query.panel(conn, hedge))
    settings = {"window": query.window, "hedge": hedge, "max_stale": query.max_stale}
    rows = [(int(row.pop("hour_start_ms")), json.dumps(json_safe({**row, **settings}), allow_nan=False))
            for row in records(table)]
    key = ",".join(query.pair)
    if rows:
        with write_transaction(db) as writer:
            store.write_hourly_summaries(writer, key, query.timeframe, rows)
        log.info("hourly summaries of %s %s: %d hours stored", key, query.timeframe, len(rows))
        return summary_records(store.read_hourly_summaries(conn, key, query.timeframe, rows[0][0],
                                                               rows[-1][0] + 1))
    return summary_records([])


# --------------------------------------------------------------------------- endpoints: watchlist


def watchlist_of(rows: list[tuple[str, int]]) -> dict[str, Any]:
    return {"symbols": [symbol for symbol, _ in rows], "updated_ms": max((ms for _, ms in rows), default=None)}


@router.get("/api/watchlist", dependencies=TokenRequired, response_model=WatchlistResponse,
            responses=TOKEN_ERRORS, tags=["admin"], summary="Symbols the ingestor follows")
def get_watchlist(conn: Reader) -> dict[str, Any]:
    """The watchlist stored for the ingestor (empty: it follows the symbols it was started with).
    Needs the token given at start-up."""
    return watchlist_of(store.read_watchlist(conn))


@router.put("/api/watchlist", dependencies=TokenRequired, response_model=WatchlistChange,
            responses={**TOKEN_ERRORS, **BAD_BODY}, tags=["admin"], summary="Replace the symbols the ingestor follows")
def put_watchlist(body: WatchlistUpdate, db: Annotated[Database, Depends(database)]) -> dict[str, Any]:
    """Store the list of symbols the ingestor should follow (1 to 1024 Binance symbols, upper-cased);
    the running ingestor picks the change up. Symbols need not be in the database yet. Needs the
    token given at start-up."""
    with write_transaction(db) as conn:
        before = {symbol for symbol, _ in store.read_watchlist(conn)}
        store.replace_watchlist(conn, body.symbols)
        rows = store.read_watchlist(conn)
    after = [symbol for symbol, _ in rows]
    log.info("watchlist replaced: %d symbols", len(after))
    return {**watchlist_of(rows), "added": [s for s in after if s not in before],
            "removed": sorted(before.difference(after))}


# --------------------------------------------------------------------------- endpoints: alerts

ALERT_KINDS_DOC = "\n".join(
    f"* `{kind}`: {alerts.KIND_DESCRIPTIONS[kind]}; params: "
    + "; ".join(f"`{name}` {meaning}" for name, meaning in alerts.KIND_PARAMS[kind].items())
    for kind in alerts.RULE_KINDS)


AlertKind = Literal[alerts.RULE_KINDS]  # type: ignore[valid-type]


class AlertRuleSpec(Model):
    """A new alert rule; only kind, symbols and params.threshold are required (alerts.validate_rule checks it)."""

    kind: AlertKind = Field(description="what the rule watches (see the endpoint's description)")
    symbols: list[str] | str = Field(description="one symbol, or the pair [A, B] for pair kinds ('A/B' works too); "
                                                 "symbols of this database", examples=[["BTCUSDT", "ETHUSDT"]])
    params: dict[str, Any] = Field(description="threshold (required) and the kind's optional parameters",
                                   examples=[{"threshold": 2.0, "hysteresis": 0.5}])
    name: str | None = Field(None, description="label (default: made from kind, threshold and symbols)")
    timeframe: Timeframe | None = Field(None, description="bar length the rule evaluates (default 1s)")
    window: int | None = Field(None, description="bars; meaning and default per kind")
    hedge: HedgeMethod | None = Field(None, description="hedge ratio of pair kinds (default ols)")
    cooldown_s: float | None = Field(None, description="seconds (data time) after a firing without another "
                                                       "(default 60)")
    webhook_url: str | None = Field(None, description="http(s) URL the ingestor POSTs each alert to")
    enabled: bool | None = Field(None, description="default true")


class AlertRuleOut(Model):
    rule_id: int
    name: str
    kind: str
    symbols: list[str]
    timeframe: str
    window: int
    hedge: str
    params: dict[str, Any] = Field(description="the kind's parameters, defaults filled in")
    cooldown_s: float
    webhook_url: str | None
    enabled: bool


class AlertRulesResponse(Model):
    rules: list[AlertRuleOut]


class AlertDeleted(Model):
    rule_id: int
    deleted: bool


class AlertEventOut(Model):
    event_id: int
    ts_ms: int = Field(description="start of the bar that crossed (data time, UTC ms)")
    rule_id: int
    rule_name: str
    kind: str
    symbols: str = Field(description="'A/B' or 'A'")
    timeframe: str
    value: float | None
    threshold: float | None
    direction: str | None = Field(description="UP, DOWN (or EXTREME)")
    message: str
    detected_ms: int = Field(description="wall-clock time the ingestor stored it")
    acknowledged_ms: int | None
    delivery: str = Field(description="webhook delivery: '', pending, sent, failed: ..., dropped: ...")


class AlertEventsResponse(Model):
    count: int
    events: list[AlertEventOut] = Field(description="newest first")


@router.get("/api/alerts", response_model=AlertRulesResponse, tags=["alerts"], summary="Alert rules")
def get_alert_rules(conn: Reader) -> dict[str, Any]:
    """Every stored alert rule with its parameters (defaults filled in), by rule_id. The ingestor
    evaluates the enabled ones on every completed bar."""
    return {"rules": [rule.to_spec() for rule in repository.list_rules(conn)]}


@router.post("/api/alerts", response_model=AlertRuleOut, status_code=201, responses={422: ERRORS[422], **BAD_BODY},
             tags=["alerts"], summary="Add an alert rule",
             description="Check a rule (`alerts.validate_rule`) and store it; the ingestor starts evaluating it "
                         "from the newest bar on. A rule that does not validate is a 422 saying what to fix "
                         "(an unknown symbol included: it is part of the body). Kinds:\n\n" + ALERT_KINDS_DOC)
def add_alert_rule(spec: AlertRuleSpec, conn: Reader, db: Annotated[Database, Depends(database)]) -> dict[str, Any]:
    try:
        rule = alerts.validate_rule(spec.model_dump(exclude_none=True), store.list_symbols(conn))
    except alerts.RuleError as exc:
        raise unprocessable(str(exc)) from None
    with write_transaction(db) as writer:
        rule_id = repository.insert_rule(writer, rule)
    log.info("alert rule %d added: %s", rule_id, rule.name)
    return {**rule.to_spec(), "rule_id": rule_id}


RuleIdPath = Annotated[int, PathParam(ge=1, le=2**62, description="the rule's id (see GET /api/alerts)")]


@router.delete("/api/alerts/{rule_id}", response_model=AlertDeleted, responses=ERRORS, tags=["alerts"],
               summary="Delete an alert rule")
def delete_alert_rule(rule_id: RuleIdPath, db: Annotated[Database, Depends(database)]) -> dict[str, Any]:
    """Delete the rule (the alerts it raised stay in the history); 404 when there is no such rule."""
    with write_transaction(db) as writer:
        deleted = store.delete_alert_rule(writer, rule_id)
    if not deleted:
        raise not_found(f"no alert rule {rule_id} (GET /api/alerts lists them)")
    log.info("alert rule %d deleted", rule_id)
    return {"rule_id": rule_id, "deleted": True}


@router.get("/api/alerts/triggered", response_model=AlertEventsResponse, responses=ERRORS, tags=["alerts"],
            summary="Alerts raised")
def get_alert_events(
    conn: Reader,
    since: Annotated[str | None, Query(description="only alerts of bars at or after this time: epoch ms or ISO 8601",
                                       examples=["2024-08-09T00:00:00Z"])] = None,
    rule_id: Annotated[int | None, Query(ge=1, le=2**62, description="only this rule's alerts")] = None,
    kind: Annotated[AlertKind | None, Query(description="only alerts of this kind")] = None,
    limit: LimitParam = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """Alerts the ingestor raised, newest first (by the time of the bar that crossed), with the value,
    threshold, direction, message and webhook delivery."""
    since_ms = None if since is None else parse_time_ms(since, "since")
    events = store.read_alert_events(conn, since_ms=since_ms, rule_id=rule_id, kind=kind, limit=limit)
    return {"count": len(events), "events": [json_safe(event) for event in records(events)]}


# --------------------------------------------------------------------------- the application

API_VERSION = "1.0"
DESCRIPTION = """
Read-only access to the tick database the ingestor writes (trades, one-second bars, feed status),
the pair analytics of `analytics_engine` (the same numbers as the dashboard and the analytics CLI),
CSV exports streamed row by row, history uploads, alert rules, hourly summaries and the ingestor's
watchlist.

* Times are integers, UTC epoch milliseconds; `start` / `end` also take ISO 8601 (`2024-08-09T00:00:00Z`).
* Symbols are Binance's (`BTCUSDT`), any case. A symbol the database does not hold is a 404.
* A pair `symbols=A,B` regresses A on B: spread = price_a - hedge_ratio * price_b.
* Errors are `{"detail": "..."}`: 422 for a bad parameter, 404 for an unknown symbol or rule.
* `/api/admin/*` and `/api/watchlist` need the token given at start-up (`--token` or `$API_TOKEN`),
  sent as `Authorization: Bearer <token>`; without one they answer 403.
"""
TAGS = [
    {"name": "status", "description": "what the database holds and how the feeds are doing"},
    {"name": "market data", "description": "trades, prices and bars"},
    {"name": "analytics", "description": "statistics of a symbol and of a pair (analytics_engine)"},
    {"name": "alerts", "description": "alert rules and the alerts they raised"},
    {"name": "export", "description": "CSV files, streamed"},
    {"name": "import", "description": "history uploads"},
    {"name": "summaries", "description": "stored hourly summaries"},
    {"name": "admin", "description": "token-protected: computing summaries, the ingestor's watchlist"},
]


def create_app(db_path: str | Path, token: str | None = None) -> FastAPI:
    """The API over the tick database at ``db_path``; ``token`` enables the admin and watchlist endpoints.

    The database is opened per request, so the app can be created before the ingestor makes the file.
    """
    app = FastAPI(title="Pairs desk REST API", version=API_VERSION, description=DESCRIPTION, openapi_tags=TAGS)
    app.state.database = Database(Path(db_path), token or None)
    _install_error_handlers(app)
    app.include_router(router)
    app.add_api_route("/", lambda: RedirectResponse("/docs"), include_in_schema=False)
    app.openapi = _required_parameters_first(app.openapi)
    return app


def _required_parameters_first(build_schema: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """The OpenAPI page lists path and required parameters (the symbols) before the optional ones;
    FastAPI would list an endpoint's own parameters before those of its dependencies."""

    def schema() -> dict[str, Any]:
        document = build_schema()  # built once and cached by FastAPI: sorting it in place sorts it for good
        for operations in document["paths"].values():
            for operation in operations.values():
                operation.get("parameters", []).sort(key=lambda p: (p["in"] != "path", not p.get("required")))
        return document

    return schema


# --------------------------------------------------------------------------- command line


class _ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(CONFIG_ERROR_EXIT, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> _ArgumentParser:
    parser = _ArgumentParser(prog="api.py", description="Serve the REST API over a tick database "
                                                        "(OpenAPI docs at /docs).")
    parser.add_argument("--db", default="ticks.db", help="tick database written by the ingestor (default: ticks.db)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default: {DEFAULT_HOST}, this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port to listen on, 0 for any free one (default: {DEFAULT_PORT})")
    parser.add_argument("--token", default=None,
                        help=f"token for the admin and watchlist endpoints (default: ${TOKEN_ENV}; without one "
                             "they answer 403)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                        help="log level (default: info)")
    return parser


def listen_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (OSError when the port is taken or the address is not ours)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def _exit_after_shutdown(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    """Check the database and the port, then serve until Ctrl+C / SIGTERM; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be 0..65535, got {args.port}")
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV)
    try:
        with closing(store.open_reader(args.db)):
            pass
    except store.StoreError as exc:
        parser.exit(CONFIG_ERROR_EXIT, f"{parser.prog}: error: {exc}\n")
    try:
        sock = listen_socket(args.host, args.port)
    except OSError as exc:
        parser.exit(CONFIG_ERROR_EXIT, f"{parser.prog}: error: cannot listen on {args.host}:{args.port}: "
                                       f"{exc.strerror or exc} (is another server using it? pass --port)\n")
    import uvicorn

    # uvicorn shuts down gracefully on SIGINT / SIGTERM, then restores the handlers it found and
    # raises the signal again: with these, that ends the process with status 0, not a signal death.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, _exit_after_shutdown)
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(args.db, token), host=args.host, port=port, log_level=args.log_level)
    print(f"REST API for {args.db} on http://{args.host}:{port} (docs: http://{args.host}:{port}/docs); "
          f"admin and watchlist endpoints {'on' if token else 'off (no --token / $' + TOKEN_ENV + ')'}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
