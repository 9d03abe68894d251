"""The pair scanner: ``GET /api/scanner`` reads the latest stored scan (the rows the CLI's CSV holds),
``POST /api/scanner/run`` starts one in its own process and answers 202 with its id at once,
``GET /api/scanner/runs/{scan_id}`` says how it is doing. Beyond loopback the POST needs the token
(the app's write guard)."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from pairdesk import scanner, store
from pairdesk.api.deps import DatabaseDep, Reader
from pairdesk.api.errors import ERRORS, ErrorBody, not_found, unprocessable
from pairdesk.api.params import MAX_ROW_ID, Timeframe
from pairdesk.api.schemas.scanner import ScannerResponse, ScanRecord, ScanStarted
from pairdesk.symbols import SymbolError, parse_symbol_list

router = APIRouter(tags=["analytics"])

MAX_ROWS = 5_000


def scan_record(scan: dict | None) -> dict | None:
    """A ``store.read_scans`` record as a ScanRecord (the process id left out)."""
    return None if scan is None else {k: v for k, v in scan.items() if k != "pid"}


@router.get("/api/scanner", response_model=ScannerResponse, responses=ERRORS, summary="Latest pair scan")
def get_scanner(
    conn: Reader,
    significant: Annotated[bool, Query(description="only the pairs significant after the false-discovery control")
                           ] = False,
    half_life_min: Annotated[float | None, Query(ge=0, description="shortest half-life, bars")] = None,
    half_life_max: Annotated[float | None, Query(ge=0, description="longest half-life, bars")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ROWS, description="at most this many rows, best first")] = 100,
) -> dict[str, Any]:
    """The newest finished scan's pairs, best first: the rows `analytics_engine.py scan` writes
    (p_value, q_value, significant, half_life, return_corr, zscore, costs, rank ...), filtered."""
    read = scanner.read_latest_rows(conn, significant, half_life_min, half_life_max, limit)
    return {"scan": scan_record(read.scan), "newest": scan_record(read.newest), "count": len(read.rows),
            "rows": read.rows}


@router.get("/api/scanner/runs/{scan_id}", response_model=ScanRecord, responses=ERRORS, summary="One scan's state")
def get_scan_run(conn: Reader, scan_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID,
                                                               description="the id POST /api/scanner/run answered")]
                 ) -> dict[str, Any]:
    """A recorded scan: running, done (its rows are what GET /api/scanner serves once it is the newest)
    or failed (with the reason)."""
    scans = store.read_scans(conn, scan_id=scan_id)
    if not scans:
        raise not_found(f"no scan {scan_id}")
    return scan_record(scans[0])


BUSY = {409: {"model": ErrorBody, "description": "another scan of this database is running (one at a time)"}}


@router.post("/api/scanner/run", status_code=202, response_model=ScanStarted, responses={**ERRORS, **BUSY},
             summary="Start a pair scan")
def run_scanner(
    db: DatabaseDep, conn: Reader,
    timeframe: Annotated[Timeframe, Query(description="bar length of the scan")] = "1m",
    lookback: Annotated[str, Query(description="span of bars scanned, ending at the newest bar: 7d, 12h, 90m ...",
                                   max_length=20)] = "7d",
    symbols: Annotated[str | None, Query(description="symbols A,B,C... (default: the watchlist's with bars)",
                                         max_length=2_000)] = None,
    fdr: Annotated[float, Query(gt=0, lt=1, description="false discovery rate level")] = 0.05,
) -> dict[str, Any]:
    """Start a scan in its own low-priority process; answers at once with its id (poll
    GET /api/scanner/runs/{scan_id}). Refused (422) when the scan cannot run: a bad lookback, fewer than
    two symbols with bars, a symbol without bars; 409 while another scan of the database runs."""
    try:
        chosen = None if symbols is None else tuple(parse_symbol_list(symbols))
        settings = scanner.ScanSettings(timeframe=timeframe, lookback_ms=scanner.parse_duration(lookback),
                                        symbols=chosen, fdr_level=fdr)
        scanner.universe.scan_symbols(conn, settings.symbols)
    except (ValueError, SymbolError) as exc:
        raise unprocessable(str(exc)) from None
    try:
        return {"scan_id": scanner.start_scan(db.path, settings), "status": "running"}
    except scanner.ScanBusy as exc:
        raise HTTPException(409, str(exc)) from None
