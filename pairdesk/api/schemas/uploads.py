"""The model of ``POST /api/upload``'s answer."""
from __future__ import annotations

from pydantic import Field

from pairdesk.api.schemas.base import Model


class UploadResponse(Model):
    file_name: str
    format: str = Field(description="the layout detected, e.g. 'spot trades' or 'klines'")
    kind: str = Field(description="trade, aggTrade or bars")
    symbol: str
    rows: int
    stored: int = Field(description="rows new to the database")
    already_stored: int = Field(description="rows the database already held (left untouched)")
    first_ms: int
    last_ms: int
