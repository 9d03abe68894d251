"""Models of collection control (``POST /api/stop`` / ``POST /api/start``)."""
from __future__ import annotations

from pydantic import Field

from pairdesk.api.schemas.base import Model


class CollectionChange(Model):
    changed: list[str] = Field(description="symbols this call paused (stop) or resumed (start); empty: nothing to do")
    paused: list[str] = Field(description="followed symbols paused now, after this call")
    backfill: bool = Field(description="resumed symbols fetch the trades they missed while paused")
