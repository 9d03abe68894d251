"""CSV exports, streamed: trades page by page, bars and quote bars in time chunks, settled funding,
a pair's panel (computed once, as the analytics CLI writes it) in pieces. Memory is bounded by the constants below, whatever the
size of the database."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pandas as pd
from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from pairdesk import analytics, quote_data, store
from pairdesk.api.bars import bar_window, empty_bars
from pairdesk.api.deps import DatabaseDep, KnownSymbolQuery, Pair, Reader
from pairdesk.api.errors import ERRORS, ResponsesDoc
from pairdesk.api.params import HedgeParam, Span, TimeframeParam, TimeRange
from pairdesk.api.routes.quotes import FUNDING_ERRORS, require_futures
from pairdesk.api.schemas.analytics import CORRELATION_COLUMNS

EXPORT_TRADE_PAGE_ROWS = 50_000
EXPORT_OHLC_CHUNK_MS = 6 * 3_600_000  # a multiple of every timeframe: <= 21 600 one-second bars a chunk
EXPORT_CSV_PIECE_ROWS = 10_000

CSV_RESPONSE: ResponsesDoc = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV file, streamed"}, **ERRORS}
TICK_CSV_HEADER = ",".join(store.TRADE_COLUMNS) + "\n"

router = APIRouter(tags=["export"], responses=CSV_RESPONSE)


def csv_stream(pieces: Iterator[str], file_name: str) -> StreamingResponse:
    """A CSV download streamed piece by piece."""
    return StreamingResponse(pieces, media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{file_name}"'})


def frame_csv_pieces(frame: pd.DataFrame, rows: int | None = None) -> Iterator[str]:
    """A computed frame as CSV text, ``rows`` (default EXPORT_CSV_PIECE_ROWS) rows at a time, formatted
    exactly as the analytics CLI writes it (header, full-precision floats, NaN as an empty cell, "\\n")."""
    rows = rows or EXPORT_CSV_PIECE_ROWS
    for first in range(0, max(len(frame), 1), rows):
        yield frame.iloc[first:first + rows].to_csv(index=False, header=first == 0, na_rep="", lineterminator="\n")


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
    with closing(store.open_reader(path)) as conn:
        window = bar_window(conn, symbol, timeframe, span)
        if window is None:
            yield empty_bars(timeframe).to_csv(index=False, lineterminator="\n")
            return
        lo, hi = window
        header = True
        for chunk_start in range(lo, max(hi, lo + 1), EXPORT_OHLC_CHUNK_MS):
            chunk_end = min(chunk_start + EXPORT_OHLC_CHUNK_MS, hi)
            bars = analytics.resample_bars(store.read_bars_1s(conn, symbol, chunk_start, chunk_end), timeframe)
            if header or len(bars):
                yield bars.to_csv(index=False, header=header, na_rep="", lineterminator="\n")
                header = False


def quote_csv_pieces(path: Path, symbol: str, timeframe: str, span: TimeRange) -> Iterator[str]:
    """Quote bars as CSV (the rows of ``/api/quotes``), built from EXPORT_OHLC_CHUNK_MS of quote seconds
    at a time, each chunk read with the second before it (``quote_data.read_leg_quotes``), so a bar at
    a chunk's start has the book it has inside a longer span."""
    columns = analytics.QUOTE_BAR_COLUMNS
    yield ",".join(columns) + "\n"
    with closing(store.open_reader(path)) as conn:
        extent = store.quote_time_range(conn, symbol)
        if extent is None:
            return
        tf_ms = analytics.timeframe_ms(timeframe)
        first, last = extent
        lo, hi = span.bar_bounds(timeframe)
        lo = max(first - first % tf_ms, lo or 0)
        hi = min(last - last % tf_ms + tf_ms, last + tf_ms if hi is None else hi)
        for chunk_start in range(lo, max(hi, lo), EXPORT_OHLC_CHUNK_MS):
            chunk_end = min(chunk_start + EXPORT_OHLC_CHUNK_MS, hi)
            leg = quote_data.read_leg_quotes(conn, symbol, chunk_start, chunk_end)
            bars = quote_data.known_bars(quote_data.leg_quote_bars(leg, timeframe, chunk_start, chunk_end), timeframe)
            if len(bars):
                yield bars[columns].to_csv(index=False, header=False, na_rep="", lineterminator="\n")


@router.get("/api/export/ticks.csv", response_class=StreamingResponse, summary="Trades as CSV (streamed)")
def export_ticks(symbol: KnownSymbolQuery, span: Span, db: DatabaseDep) -> StreamingResponse:
    """Every trade of `symbol` in [start, end) by trade id: trade_id, ts_ms, price, qty, is_buyer_maker
    (true/false). Streamed page by page, never held in memory whole."""
    return csv_stream(tick_csv_pieces(db.path, symbol, span), f"{symbol}-ticks.csv")


@router.get("/api/export/ohlc.csv", response_class=StreamingResponse, summary="OHLCV bars as CSV (streamed)")
def export_ohlc(symbol: KnownSymbolQuery, span: Span, db: DatabaseDep,
                timeframe: TimeframeParam = "1m") -> StreamingResponse:
    """Every complete bar of `symbol` at `timeframe` starting in [start, end): ts_ms, open, high, low,
    close, volume, quote_volume, trades, vwap. Streamed in six-hour chunks."""
    return csv_stream(ohlc_csv_pieces(db.path, symbol, timeframe, span), f"{symbol}-ohlc-{timeframe}.csv")


@router.get("/api/export/spread.csv", response_class=StreamingResponse,
            summary="Pair analytics as CSV, as the analytics CLI writes it")
def export_spread(query: Pair, conn: Reader, hedge: HedgeParam = analytics.DEFAULT_HEDGE) -> StreamingResponse:
    """The file `python analytics_engine.py --db ... --symbols A,B --timeframe T --window W --hedge H
    --max-stale M --out f.csv` writes, byte for byte: ts_ms, price_a, price_b, hedge_ratio, spread,
    zscore, corr, alpha, return_corr. Computed once (a static hedge ratio needs every row), then
    streamed 10 000 rows at a time."""
    a, b = query.pair
    return csv_stream(frame_csv_pieces(query.panel(conn, hedge)[analytics.CLI_COLUMNS]),
                      f"{a}-{b}-spread-{query.timeframe}.csv")


@router.get("/api/export/correlation.csv", response_class=StreamingResponse,
            summary="Rolling correlations of a pair as CSV")
def export_correlation(query: Pair, conn: Reader) -> StreamingResponse:
    """ts_ms, price_a, price_b, corr (rolling correlation of the closes) and return_corr (of their log
    returns) for every aligned bar in [start, end). Computed once, streamed 10 000 rows at a time."""
    a, b = query.pair
    panel = query.panel(conn)[CORRELATION_COLUMNS]
    return csv_stream(frame_csv_pieces(panel), f"{a}-{b}-correlation-{query.timeframe}.csv")


@router.get("/api/export/quotes.csv", response_class=StreamingResponse, summary="Quote bars as CSV (streamed)")
def export_quotes(symbol: KnownSymbolQuery, span: Span, db: DatabaseDep,
                  timeframe: TimeframeParam = "1s") -> StreamingResponse:
    """Every quote bar of `symbol` at `timeframe` starting in [start, end), the rows of
    `/api/quotes/{symbol}`: ts_ms, bid, ask, bid_qty, ask_qty, mean_spread, max_spread, updates,
    spread_bps, mean_spread_bps (an empty cell where no book stood). At 1s the stored seconds; bars
    wholly inside a quote gap left out. Streamed in six-hour chunks."""
    return csv_stream(quote_csv_pieces(db.path, symbol, timeframe, span), f"{symbol}-quotes-{timeframe}.csv")


@router.get("/api/export/funding.csv", response_class=StreamingResponse, responses=FUNDING_ERRORS,
            summary="Settled funding of a USD-M perpetual as CSV")
def export_funding(symbol: KnownSymbolQuery, span: Span, conn: Reader) -> StreamingResponse:
    """Every settlement of `symbol` in [start, end): funding_time_ms, rate, mark_price (an empty cell
    where the source had none). 404 on a spot database."""
    require_futures(conn)
    settled = quote_data.read_funding_state(conn, symbol, span.start_ms, span.end_ms).settled
    return csv_stream(frame_csv_pieces(settled[list(store.FUNDING_COLUMNS)]), f"{symbol}-funding.csv")
