"""The model of ``POST /api/upload``'s answer."""
from __future__ import annotations

from pydantic import Field

from pairdesk.api.schemas.base import Model


class UploadResponse(Model):
    file_name: str
    format: str = Field(description="the layout detected, e.g. 'spot trades' or 'klines'")
    kind: str = Field(description="trade, aggTrade, bars, bookTicker or fundingRate")
    symbol: str
    rows: int = Field(description="data rows in the file")
    unit: str = Field(description="what the file is stored as: trades, bars, quote seconds (one-second quote "
                                  "bars built from a bookTicker dump's updates) or funding rates")
    stored: int = Field(description="stored rows (in ``unit``) new to the database")
    already_stored: int = Field(description="stored rows (in ``unit``) the database already held (left untouched)")
    stale_updates: int = Field(description="bookTicker updates dropped as too far out of order (0 otherwise)")
    first_ms: int
    last_ms: int
