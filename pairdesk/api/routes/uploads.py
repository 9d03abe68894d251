"""``POST /api/upload``: a history file parsed and checked whole by ``pairdesk.history``, then stored
by ``pairdesk.history.importer.store_parsed`` (the one way the CLI import and the dashboard store it)."""
from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, UploadFile

from pairdesk import history
from pairdesk.api.deps import DatabaseDep, database_metadata
from pairdesk.api.errors import BAD_BODY, ERRORS, unprocessable
from pairdesk.api.params import SYMBOL_PARAM_PATTERN
from pairdesk.api.schemas.uploads import UploadResponse
from pairdesk.history import importer

log = logging.getLogger(__name__)

router = APIRouter(tags=["import"])


def refused(file_name: str, error: history.HistoryImportError) -> HTTPException:
    """The 422 of a file that cannot be imported: its name, the problem and its line."""
    return unprocessable(f"{file_name}: {error}. Nothing was stored.")


@router.post("/api/upload", response_model=UploadResponse, responses={422: ERRORS[422], **BAD_BODY},
             summary="Import a history CSV")
def upload_history(
    db: DatabaseDep,
    file: Annotated[UploadFile, File(description="a Binance dump (spot / futures trades or aggTrades, klines, "
                                                 "USD-M bookTicker or fundingRate; .csv or .zip) or a simple bar "
                                                 "file with the header time,open,high,low,close,volume")],
    symbol: Annotated[str | None, Form(description="the file's symbol; default: from a Binance dump name such "
                                                   "as BTCUSDT-trades-2024-08-08.csv",
                                       pattern=SYMBOL_PARAM_PATTERN)] = None,
) -> dict[str, Any]:
    """Check the whole file (format, every line, that it fits this database's market and trade-id
    kind), then store it. Trades already in the database, live ones included, are never
    overwritten; bars are added only where no bar exists. A bookTicker dump (futures databases
    only) is stored as one-second quote bars, a fundingRate dump as settled funding rates, each
    second or settlement once. A bad file is a 422 naming the problem and its line, and nothing is
    stored."""
    file_name = file.filename or "upload.csv"
    data = file.file.read()
    meta = database_metadata(db)
    try:
        parsed = history.parse_history(data, file_name, symbol)
    except history.HistoryImportError as exc:
        raise refused(file_name, exc) from None
    try:
        history.check_fits_database(parsed, meta["market"], meta["stream"])
    except history.HistoryImportError as exc:
        raise refused(file_name, exc) from None
    stored = importer.store_parsed(db.path, parsed, meta["market"], meta["stream"])
    log.info("upload %s: %s, %d rows of %s, %d new %s", file_name, parsed.format.name, parsed.rows, parsed.symbol,
             stored.new, history.stored_unit(parsed.kind))
    return {"file_name": file_name, "format": parsed.format.name, "kind": parsed.kind, "symbol": parsed.symbol,
            "rows": parsed.rows, "unit": history.stored_unit(parsed.kind), "stored": stored.new,
            "already_stored": stored.already, "stale_updates": stored.stale,
            "first_ms": parsed.first_ms, "last_ms": parsed.last_ms}
