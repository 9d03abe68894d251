"""Collection control (token): pause and resume the running ingestor's streams, all followed symbols
or some, through the database (``store.set_collection``, the rule the dashboard's sidebar applies)."""
from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query

from pairdesk import store
from pairdesk.api.deps import DatabaseDep, TokenRequired, write_transaction
from pairdesk.api.errors import TOKEN_ERRORS, unprocessable
from pairdesk.api.schemas.collection import CollectionChange
from pairdesk.watchlist import MAX_WATCHLIST

log = logging.getLogger(__name__)

router = APIRouter(tags=["admin"], dependencies=TokenRequired)

SymbolsParam = Annotated[str | None, Query(
    max_length=MAX_WATCHLIST * 32, examples=["BTCUSDT,ETHUSDT"],
    description="followed symbols A,B,... (any case); omitted: every symbol the ingestor follows")]
BackfillParam = Annotated[bool, Query(
    description="fetch the trades missed while paused (false: they stay a gap recorded as paused)")]


def change_collection(db: DatabaseDep, symbols: str | None, paused: bool, backfill: bool = False) -> dict[str, Any]:
    """Pause or resume through ``store.set_collection``; a symbol not followed is a 422."""
    try:
        with write_transaction(db) as conn:
            changed = store.set_collection(conn, symbols.split(",") if symbols else None, paused, backfill)
            now_paused = store.paused_symbols(conn)
    except store.CollectionError as exc:
        raise unprocessable(str(exc)) from None
    log.info("collection %s: %s", "paused" if paused else "resumed", ",".join(changed) or "nothing changed")
    return {"changed": changed, "paused": now_paused, "backfill": backfill and not paused}


@router.post("/api/stop", response_model=CollectionChange, responses=TOKEN_ERRORS,
             summary="Pause collection of followed symbols")
def stop_collection(db: DatabaseDep, symbols: SymbolsParam = None) -> dict[str, Any]:
    """The running ingestor unsubscribes the symbols (all it follows by default); their feeds show
    "paused" (grey) and the trades they miss are recorded as a paused gap. Needs the token."""
    return change_collection(db, symbols, paused=True)


@router.post("/api/start", response_model=CollectionChange, responses=TOKEN_ERRORS,
             summary="Resume collection of paused symbols")
def start_collection(db: DatabaseDep, symbols: SymbolsParam = None, backfill: BackfillParam = False) -> dict[str, Any]:
    """The running ingestor subscribes the symbols again (all it follows by default); with
    ``backfill=true`` it fetches every trade they missed while paused. Needs the token."""
    return change_collection(db, symbols, paused=False, backfill=backfill)
