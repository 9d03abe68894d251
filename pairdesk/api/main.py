"""The FastAPI application: its description and tags, the error handlers, and the routers."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi_offline import FastAPIOffline

from pairdesk import access, store
from pairdesk.api.deps import Database, write_access
from pairdesk.api.errors import UNAVAILABLE, install_error_handlers
from pairdesk.api.routes import (
    alerts,
    analytics,
    collection,
    compat,
    exports,
    market_data,
    quotes,
    status,
    summaries,
    uploads,
    watchlist,
)
from pairdesk.api.routes import backtest as backtest_routes
from pairdesk.api.routes import scanner as scanner_routes

API_VERSION = "1.0"
DESCRIPTION = """
Read-only access to the tick database the ingestor writes (trades, one-second bars, feed status,
top-of-book quote bars, mark prices and funding),
the pair analytics of `analytics_engine` (the same numbers as the dashboard and the analytics CLI),
CSV exports streamed row by row, history uploads, alert rules, hourly summaries, the pair scanner's
stored results and the ingestor's watchlist.

* Times are integers, UTC epoch milliseconds; `start` / `end` also take ISO 8601 (`2024-08-09T00:00:00Z`).
* Symbols are Binance's (`BTCUSDT`), any case. A symbol the database does not hold is a 404.
* A pair `symbols=A,B` regresses A on B: spread = price_a - hedge_ratio * price_b.
* Errors are `{"detail": "..."}`: 422 for a bad parameter, 404 for an unknown symbol or rule.
* `/api/admin/*`, `/api/watchlist`, `/api/stop` and `/api/start` need the token given at start-up
  (`--token` or `$PAIRDESK_TOKEN`), sent as `Authorization: Bearer <token>`; without one they answer 403.
* When the API listens beyond loopback (`--host` other than 127.0.0.1), **every** write (POST, PUT,
  PATCH, DELETE: alert rules, acknowledgements, uploads, the watchlist, collection control) needs the
  token too: 401 without it, 403 when no token was given at start-up.
"""
TAGS = [
    {"name": "status", "description": "what the database holds and how the feeds are doing"},
    {"name": "market data", "description": "trades, prices and bars; quote bars, funding and what a pair costs "
                                         "to trade"},
    {"name": "analytics", "description": "statistics of a symbol and of a pair (analytics_engine)"},
    {"name": "alerts", "description": "alert rules and the alerts they raised"},
    {"name": "export", "description": "CSV files, streamed"},
    {"name": "import", "description": "history uploads"},
    {"name": "summaries", "description": "stored hourly summaries"},
    {"name": "admin", "description": "token-protected: computing summaries, the ingestor's watchlist"},
    {"name": "compatibility", "description": "the calls of the systems this desk replaces, each a thin alias of "
                                             "the desk's own endpoint (README: REST API, Compatibility)"},
]
DOCS_PAGES = ("/docs", "/redoc")
# The docs pages may load only what this server serves: ReDoc's bundle still shows Redocly's logo from
# its CDN, and this policy makes the browser drop that request instead of sending it off the machine.
DOCS_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'")
ROUTES = (status, market_data, quotes, analytics, scanner_routes, exports, uploads, summaries, watchlist, alerts)  # the OpenAPI page's order


def create_app(db_path: str | Path, token: str | None = None, host: str = access.LOOPBACK_HOST) -> FastAPI:
    """The API over the tick database at ``db_path``; ``token`` enables the admin and watchlist endpoints;
    ``host`` is the address it listens on (beyond loopback every write needs the token).

    The database is opened per request, so the app can be created before the ingestor makes the file.
    /docs and /redoc load Swagger UI and ReDoc from the package ``fastapi_offline`` (served under
    /static-offline-docs), not from a CDN: they work with no internet.
    """
    app = FastAPIOffline(title="Pairs desk REST API", version=API_VERSION, description=DESCRIPTION,
                         openapi_tags=TAGS, dependencies=[Depends(write_access)])
    app.state.database = Database(db_path if store.is_url(db_path) else Path(db_path), token or None, host)

    @app.middleware("http")
    async def docs_stay_local(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        if request.url.path in DOCS_PAGES:
            response.headers["Content-Security-Policy"] = DOCS_POLICY
        return response

    install_error_handlers(app)
    for feature in ROUTES:
        app.include_router(feature.router, responses=UNAVAILABLE)
    app.include_router(backtest_routes.router, responses=UNAVAILABLE)
    app.include_router(collection.router, responses=UNAVAILABLE)
    app.include_router(compat.router, responses=UNAVAILABLE)  # after the desk's own: /api/export/{symbol}
    app.add_api_route("/", lambda: RedirectResponse("/docs"), include_in_schema=False)
    app.openapi = compat.with_same_path_calls_tagged(_required_parameters_first(app.openapi))
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
