"""The ingestor's watchlist (token): read it, replace it (checked by ``pairdesk.watchlist.check_watchlist``
in ``WatchlistUpdate``); the running ingestor picks a change up."""
from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter

from pairdesk import store
from pairdesk.api.deps import DatabaseDep, Reader, TokenRequired, write_transaction
from pairdesk.api.errors import BAD_BODY, TOKEN_ERRORS
from pairdesk.api.schemas.watchlist import WatchlistChange, WatchlistResponse, WatchlistUpdate
from pairdesk.watchlist import MAX_WATCHLIST

log = logging.getLogger(__name__)

router = APIRouter(tags=["admin"], dependencies=TokenRequired)


def watchlist_of(rows: list[tuple[str, int]]) -> dict[str, Any]:
    """Stored (symbol, updated_ms) rows as a WatchlistResponse."""
    return {"symbols": [symbol for symbol, _ in rows], "updated_ms": max((ms for _, ms in rows), default=None)}


@router.get("/api/watchlist", response_model=WatchlistResponse, responses=TOKEN_ERRORS,
            summary="Symbols the ingestor follows")
def get_watchlist(conn: Reader) -> dict[str, Any]:
    """The watchlist stored for the ingestor (empty: it follows the symbols it was started with).
    Needs the token given at start-up."""
    return watchlist_of(store.read_watchlist(conn))


@router.put("/api/watchlist", response_model=WatchlistChange, responses={**TOKEN_ERRORS, **BAD_BODY},
            summary="Replace the symbols the ingestor follows",
            description=f"Store the list of symbols the ingestor should follow (1 to {MAX_WATCHLIST} Binance "
                        "symbols, upper-cased); the running ingestor picks the change up. Symbols need not be in "
                        "the database yet. Needs the token given at start-up.")
def put_watchlist(body: WatchlistUpdate, db: DatabaseDep) -> dict[str, Any]:
    with write_transaction(db) as conn:
        before = {symbol for symbol, _ in store.read_watchlist(conn)}
        store.replace_watchlist(conn, body.symbols)
        rows = store.read_watchlist(conn)
    after = [symbol for symbol, _ in rows]
    log.info("watchlist replaced: %d symbols", len(after))
    return {**watchlist_of(rows), "added": [s for s in after if s not in before],
            "removed": sorted(before.difference(after))}
