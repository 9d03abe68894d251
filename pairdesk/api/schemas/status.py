"""Models of ``/api/status`` and ``/api/symbols``."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from pairdesk import health
from pairdesk.api.schemas.base import Model

Verdict = health.Colour  # green / amber / red / grey
Label = Literal[tuple(health.LABELS.values())]  # type: ignore[valid-type]  # live / delayed / disconnected / paused

_HEARTBEAT_S = health.HEARTBEAT_STALE_MS // 1000
_TRADE_S = health.TRADE_STALE_MS // 1000
VERDICT_DOC = (f"pairdesk.health's light. green (live): state live, heartbeat at most {_HEARTBEAT_S} s old, a trade "
               f"in the last {_TRADE_S} s, no open gap; red (disconnected): heartbeat older than {_HEARTBEAT_S} s, "
               "feed disconnected / stopped, or no status row; grey (paused): collection paused (POST /api/stop); "
               "else amber (delayed)")


class FeedStatus(Model):
    """One symbol's feed as the ingestor last wrote it, with a traffic light."""

    symbol: str
    verdict: Verdict = Field(description=VERDICT_DOC)
    label: Label = Field(description="the verdict in words: live (green), delayed (amber), disconnected (red), "
                                   "paused (grey)")
    reason: str = Field(description="why the verdict is what it is")
    state: str | None = Field(None, description="live, starting, connecting, silent, polling, disconnected, stopped, "
                                               "paused")
    transport: str | None = None
    last_trade_ms: int | None = None
    last_trade_age_ms: int | None = None
    last_message_ms: int | None = None
    heartbeat_ms: int | None = Field(None, description="when the ingestor last wrote this row")
    heartbeat_age_ms: int | None = None
    messages: int = 0
    trades: int = Field(0, description="trades the ingestor received for this symbol")
    bad_frames: int = 0
    reconnects: int = 0
    open_gaps: int = 0
    message_rate: float | None = None
    detail: str = ""


class SymbolInfo(Model):
    symbol: str
    bars: int = Field(description="one-second bars stored")
    trades: int = Field(description="trades stored")
    first_ms: int = Field(description="start of the first one-second bar, UTC ms")
    last_ms: int = Field(description="start of the last one-second bar, UTC ms")


class StatusResponse(Model):
    database: str
    market: str | None
    stream: str | None
    source: str | None = Field(description="binance, or local (the local exchange: demo data)")
    source_label: str = Field(description="DEMO when the data come from the local exchange, else the source")
    demo: bool
    schema_version: int
    created_ms: int | None
    server_time_ms: int
    verdict: Verdict = Field(description="the worst feed verdict (red when no feed reports; grey when all are "
                                         "paused)")
    feeds: list[FeedStatus]
    open_gaps: int = Field(description="gaps in trade ids still being filled, all symbols")
    open_gaps_by_symbol: dict[str, int]
    trades: int = Field(description="trades stored, all symbols")
    symbols: list[SymbolInfo]


class SymbolsResponse(Model):
    symbols: list[SymbolInfo]
