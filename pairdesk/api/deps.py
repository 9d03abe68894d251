"""The routes' dependencies: the database (a read-only connection per request, a brief write
transaction), the admin token, symbols parsed by ``pairdesk.symbols`` and known to the database,
and a pair's analytics parameters."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import pandas as pd
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from pairdesk import access, analytics, store
from pairdesk.api.errors import not_found, unprocessable
from pairdesk.api.params import (
    HedgeWindowParam,
    MaxStaleParam,
    PairParam,
    Span,
    SpreadKindParam,
    SymbolPath,
    SymbolQuery,
    TimeframeParam,
    TimeRange,
    WindowParam,
)
from pairdesk.symbols import SymbolError, normalise_symbol, parse_symbol_list

TOKEN_ENV = access.TOKEN_ENV
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_KNOWN_SYMBOLS_SHOWN = 20  # in an "unknown symbol" message

# --------------------------------------------------------------------------- the database


@dataclass(frozen=True)
class Database:
    """What the app serves: the database file, the admin token (None: admin endpoints off) and the
    address the server listens on (beyond loopback, every write needs the token: ``pairdesk.access``)."""

    path: Path | str  # a SQLite file, or a PostgreSQL URL
    token: str | None = None
    host: str = access.LOOPBACK_HOST


def database(request: Request) -> Database:
    return request.app.state.database


DatabaseDep = Annotated[Database, Depends(database)]


def reader(db: DatabaseDep) -> Iterator[sqlite3.Connection]:
    """A read-only connection for one request (each query is its own short read transaction)."""
    conn = store.open_reader(db.path)
    try:
        yield conn
    finally:
        conn.close()


Reader = Annotated[sqlite3.Connection, Depends(reader)]


def database_metadata(db: Database) -> dict[str, str]:
    """The database's metadata record; StoreError (503) while it records no market / stream."""
    return store.recorded_metadata(db.path)


def write_transaction(db: Database) -> AbstractContextManager[sqlite3.Connection]:
    """A brief write transaction on the database, opened as its metadata records (``store.write_session``)."""
    return store.write_session(db.path)


# --------------------------------------------------------------------------- the token

bearer = HTTPBearer(auto_error=False, scheme_name="token",
                    description=f"the token given at start-up (--token or ${TOKEN_ENV}), sent as "
                                "'Authorization: Bearer <token>'")


def require_token(db: DatabaseDep,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    """403 when the API has no token, 401 when the request does not carry it."""
    if not db.token:
        raise HTTPException(403, f"this endpoint is off: start the API with --token TOKEN (or set {TOKEN_ENV}) "
                                 "and send 'Authorization: Bearer TOKEN'")
    if credentials is None or not access.token_matches(credentials.credentials, db.token):
        raise HTTPException(401, "missing or wrong token: send 'Authorization: Bearer <the token given at start-up>'",
                            headers={"WWW-Authenticate": "Bearer"})


TokenRequired = [Depends(require_token)]


async def write_access(request: Request) -> None:
    """Every route's guard (an app-wide dependency): on a server listening beyond loopback a write
    (POST, PUT, PATCH, DELETE) needs the token, as ``require_token`` asks for it (403 without one
    configured, 401 when the request does not carry it); reads and a loopback server pass."""
    db: Database = request.app.state.database
    if request.method in WRITE_METHODS and access.listens_beyond_loopback(db.host):
        credentials = await bearer(request)  # read here, not declared: GET routes must not show a lock
        refusal = access.write_refusal(db.host, db.token, credentials.credentials if credentials else None)
        if refusal:
            raise HTTPException(401 if db.token else 403, f"{refusal}: send 'Authorization: Bearer TOKEN'",
                                headers={"WWW-Authenticate": "Bearer"} if db.token else None)

# --------------------------------------------------------------------------- symbols


def require_known(conn: sqlite3.Connection, symbols: Sequence[str]) -> None:
    """404 for the first symbol with no data in the database."""
    known = store.list_symbols(conn)
    for symbol in symbols:
        if symbol not in known:
            shown = ", ".join(known[:MAX_KNOWN_SYMBOLS_SHOWN]) or "nothing yet"
            more = " ..." if len(known) > MAX_KNOWN_SYMBOLS_SHOWN else ""
            raise not_found(f"unknown symbol {symbol!r}: not in this database (it holds: {shown}{more})")


def parse_known_symbol(conn: sqlite3.Connection, text: str) -> str:
    """``text`` as a symbol (``pairdesk.symbols``), known to the database: 422 / 404 otherwise."""
    try:
        symbol = normalise_symbol(text)
    except SymbolError as exc:
        raise unprocessable(str(exc)) from None
    require_known(conn, [symbol])
    return symbol


def known_symbol(symbol: SymbolPath, conn: Reader) -> str:
    """The path's symbol, upper case, known to the database."""
    return parse_known_symbol(conn, symbol)


def known_symbol_query(symbol: SymbolQuery, conn: Reader) -> str:
    """The ``symbol`` query parameter, upper case, known to the database."""
    return parse_known_symbol(conn, symbol)


def known_pair(symbols: PairParam, conn: Reader) -> tuple[str, str]:
    """``A,B`` -> ("A", "B"), upper case, two different symbols known to the database."""
    try:
        pair = parse_symbol_list(symbols)
    except SymbolError as exc:
        raise unprocessable(f"symbols: {exc}") from None
    if len(pair) != 2:
        raise unprocessable(f"symbols needs two different symbols, got {symbols!r}")
    require_known(conn, pair)
    return pair[0], pair[1]


KnownSymbol = Annotated[str, Depends(known_symbol)]
KnownSymbolQuery = Annotated[str, Depends(known_symbol_query)]
KnownPair = Annotated[tuple[str, str], Depends(known_pair)]

# --------------------------------------------------------------------------- a pair's analytics


@dataclass(frozen=True)
class PairQuery:
    """A pair's analytics parameters, shared by spread, correlation, cointegration, exports, summaries."""

    pair: tuple[str, str]
    timeframe: str
    window: int
    max_stale: float
    span: TimeRange
    hedge_window: int = analytics.DEFAULT_HEDGE_WINDOW_ROWS
    spread_kind: str = "price"

    def panel(self, conn: sqlite3.Connection, hedge: str = analytics.DEFAULT_HEDGE) -> pd.DataFrame:
        """``analytics.pair_panel`` on the pair's one-second bars in the range: with no range it reads
        every bar, exactly as ``python analytics_engine.py`` does, so the numbers are the CLI's."""
        lo, hi = self.span.bar_bounds(self.timeframe)
        bars = [store.read_bars_1s(conn, symbol, lo, hi) for symbol in self.pair]
        return analytics.pair_panel(*bars, self.timeframe, self.window, hedge, self.max_stale,
                                    hedge_window=self.hedge_window, spread_kind=self.spread_kind)


def pair_query(pair: KnownPair, span: Span, timeframe: TimeframeParam = "1s",
               window: WindowParam = analytics.DEFAULT_WINDOW_ROWS,
               max_stale: MaxStaleParam = analytics.DEFAULT_MAX_STALE_S,
               hedge_window: HedgeWindowParam = analytics.DEFAULT_HEDGE_WINDOW_ROWS,
               spread: SpreadKindParam = "price") -> PairQuery:
    return PairQuery(pair, timeframe, window, max_stale, span, hedge_window, spread)


Pair = Annotated[PairQuery, Depends(pair_query)]
