"""Models of the stored hourly summaries."""
from __future__ import annotations

from typing import Any

from pydantic import Field

from pairdesk.api.schemas.base import Model


class HourlySummary(Model):
    symbols: str
    timeframe: str
    hour_ms: int = Field(description="hour start, UTC ms")
    computed_ms: int
    stats: dict[str, Any] = Field(description="analytics_engine.hourly_summary's columns, plus window and hedge")


class HourlySummariesResponse(Model):
    count: int
    summaries: list[HourlySummary]
