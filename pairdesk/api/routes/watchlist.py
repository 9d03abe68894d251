"""The ingestor's watchlist (token): read it, replace it (checked by ``pairdesk.watchlist.check_watchlist``
in ``WatchlistUpdate``, then against the exchange's listing); the running ingestor picks a change up.

Each symbol's state comes from ``pairdesk.watchlist.symbol_states``, the rule the dashboard's sidebar
applies: the listing is asked for at the REST base URL the ingestor recorded (a short timeout; an
exchange that cannot be asked leaves new symbols "pending"), "followed" means the ingestor writes the
symbol's feed status, and the ingestor's own refusals are recorded in the store.
"""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Collection
from contextlib import closing
from typing import Any

from fastapi import APIRouter

from pairdesk import binance, store, watchlist
from pairdesk.api.deps import DatabaseDep, Reader, TokenRequired, database_metadata, write_transaction
from pairdesk.api.errors import BAD_BODY, TOKEN_ERRORS, unprocessable
from pairdesk.api.schemas.watchlist import WatchlistChange, WatchlistResponse, WatchlistUpdate
from pairdesk.watchlist import MAX_WATCHLIST

log = logging.getLogger(__name__)

router = APIRouter(tags=["admin"], dependencies=TokenRequired)


def watchlist_of(conn: sqlite3.Connection, market: str, listed: Collection[str] | None = None,
                 asked: Collection[str] = ()) -> dict[str, Any]:
    """The stored list as a WatchlistResponse, with the state of every stored, ``asked`` or refused symbol."""
    rows = store.read_watchlist(conn)
    refusals = store.read_refusals(conn)
    shown = dict.fromkeys([*(symbol for symbol, _ in rows), *asked, *refusals])
    return {"symbols": [symbol for symbol, _ in rows], "updated_ms": max((ms for _, ms in rows), default=None),
            "states": watchlist.symbol_states(shown, market, store.followed_symbols(conn), listed, refusals)}


@router.get("/api/watchlist", response_model=WatchlistResponse, responses=TOKEN_ERRORS,
            summary="Symbols the ingestor follows")
def get_watchlist(conn: Reader, db: DatabaseDep) -> dict[str, Any]:
    """The watchlist stored for the ingestor (empty: it follows the symbols it was started with), and
    each symbol's state (followed / pending / refused, without asking the exchange). Needs the token
    given at start-up."""
    return watchlist_of(conn, database_metadata(db)["market"])


@router.put("/api/watchlist", response_model=WatchlistChange, responses={**TOKEN_ERRORS, **BAD_BODY},
            summary="Replace the symbols the ingestor follows",
            description=f"Check the list (1 to {MAX_WATCHLIST} Binance symbols, upper-cased) against the exchange's "
                        "listing (exchangeInfo of the database's market, where the ingestor gets it), store the "
                        "symbols it lists as trading, and say per symbol what becomes of it: followed, pending "
                        "(the running ingestor picks it up within seconds; also when the exchange cannot be "
                        "reached) or refused: not trading on <market> (not stored). A list with nothing left is a "
                        "422 and changes nothing. Symbols need not be in the database yet. Needs the token given "
                        "at start-up.")
def put_watchlist(body: WatchlistUpdate, db: DatabaseDep) -> dict[str, Any]:
    market = database_metadata(db)["market"]
    with closing(store.open_reader(db.path)) as conn:  # the exchange is asked outside the write transaction
        listed = binance.listed_or_none(store.read_rest_url(conn), market)
        states = watchlist.symbol_states(body.symbols, market, store.followed_symbols(conn), listed,
                                         store.read_refusals(conn))
    keep = watchlist.accepted(states)
    refused = [symbol for symbol in body.symbols if symbol not in keep]
    if not keep:
        raise unprocessable(f"{', '.join(refused)}: {watchlist.refused_state(market)}; the watchlist is unchanged")
    with write_transaction(db) as conn:
        before = {symbol for symbol, _ in store.read_watchlist(conn)}
        store.replace_watchlist(conn, keep)
        store.record_refusals(conn, {symbol: states[symbol] for symbol in refused}, keep)
        answer = watchlist_of(conn, market, listed, body.symbols)
    log.info("watchlist replaced: %d symbols%s", len(keep), f" ({', '.join(refused)} refused)" if refused else "")
    return {**answer, "added": [s for s in answer["symbols"] if s not in before],
            "removed": sorted(before.difference(keep)),
            "refused": refused}
