"""The names callers of the former one-file API still import; the code lives in the modules named.

Tunables such as ``EXPORT_TRADE_PAGE_ROWS`` are read where they are defined
(``pairdesk.api.routes.exports``): change them there, not here.
"""
from __future__ import annotations

from pairdesk.api.cli import main
from pairdesk.api.deps import Database
from pairdesk.api.main import create_app
from pairdesk.api.routes.exports import EXPORT_CSV_PIECE_ROWS, EXPORT_OHLC_CHUNK_MS, EXPORT_TRADE_PAGE_ROWS
from pairdesk.api.routes.status import feed_status
from pairdesk.api.schemas.analytics import CORRELATION_COLUMNS

__all__ = [
           "CORRELATION_COLUMNS",
           "EXPORT_CSV_PIECE_ROWS",
           "EXPORT_OHLC_CHUNK_MS",
           "EXPORT_TRADE_PAGE_ROWS",
           "Database",
           "create_app",
           "feed_status",
           "main",
]
