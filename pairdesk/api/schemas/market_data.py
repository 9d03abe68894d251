"""Models of trades, prices and bars (``/api/ticks``, ``/api/prices``, ``/api/ohlc``, ``/api/stats``)."""
from __future__ import annotations

from pydantic import Field

from pairdesk.api.schemas.base import Model


class Tick(Model):
    trade_id: int
    ts_ms: int = Field(description="exchange trade time, UTC ms")
    price: float
    qty: float
    is_buyer_maker: bool


class TicksResponse(Model):
    symbol: str
    count: int
    ticks: list[Tick] = Field(description="oldest first")


class Price(Model):
    symbol: str
    trade_id: int
    ts_ms: int
    price: float


class PricesResponse(Model):
    prices: list[Price] = Field(description="by symbol, then oldest first")


class Bar(Model):
    ts_ms: int = Field(description="bar start, UTC ms")
    open: float
    high: float
    low: float
    close: float
    volume: float
    quote_volume: float
    trades: int
    vwap: float | None


class OhlcResponse(Model):
    symbol: str
    timeframe: str
    count: int
    bars: list[Bar] = Field(description="oldest first; intervals without trades have no bar")


class StatsResponse(Model):
    symbol: str
    timeframe: str
    window: int
    first_ms: int | None = Field(description="start of the first bar summarised")
    last_ms: int | None = Field(description="start of the last bar summarised")
    bars: int
    last: float | None
    mean: float | None = Field(description="mean close")
    std: float | None = Field(description="standard deviation of closes (ddof 1)")
    min: float | None
    max: float | None
    annualised_volatility: float | None = Field(description="std of log returns on the bar grid * sqrt(bars/year)")
    vwap: float | None
    volume: float
    trades: int
