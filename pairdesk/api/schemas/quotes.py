"""Models of executable prices: ``/api/quotes/{symbol}``, ``/api/funding/{symbol}``, ``/api/costs``."""
from __future__ import annotations

from pydantic import Field

from pairdesk.api.schemas.analytics import PairEcho
from pairdesk.api.schemas.base import Model


class QuoteBarOut(Model):
    ts_ms: int = Field(description="bar start, UTC ms")
    bid: float | None = Field(description="best bid standing at the bar's close (null: inside a quote gap)")
    ask: float | None = Field(description="best ask standing at the bar's close")
    bid_qty: float | None = Field(description="size at the best bid, base units")
    ask_qty: float | None = Field(description="size at the best ask, base units")
    mean_spread: float | None = Field(description="mean quoted spread ask - bid over the bar's seconds with a "
                                                  "quote known, price units")
    max_spread: float | None = Field(description="largest quoted spread within the bar, price units")
    updates: int = Field(description="book updates in the bar")
    spread_bps: float | None = Field(description="(ask - bid) / mid * 10 000 at the close")
    mean_spread_bps: float | None = Field(description="mean of each second's spread in bps of that second's mid")


class QuoteGapOut(Model):
    from_ms: int = Field(description="start of the period without quotes, UTC ms")
    to_ms: int = Field(description="its end (exclusive)")
    reason: str = Field(description="why, e.g. 'disconnect' or 'no quotes before start-up'")


class QuotesResponse(Model):
    symbol: str
    timeframe: str
    count: int
    quotes: list[QuoteBarOut] = Field(description="oldest first; at 1s the stored seconds (a second without a "
                                                  "row saw no update), bars wholly inside a quote gap left out")
    gaps: list[QuoteGapOut] = Field(description="quote gaps overlapping the bars returned: never bridged")


class FundingRow(Model):
    funding_time_ms: int = Field(description="settlement time, UTC ms")
    rate: float = Field(description="funding rate of the settlement (fraction; > 0: longs pay shorts)")
    mark_price: float | None = Field(description="mark price at the settlement (null where the source had none)")


class FundingResponse(Model):
    symbol: str
    count: int
    settled: list[FundingRow] = Field(description="settlements in [start, end), oldest first")
    current_rate: float | None = Field(description="the rate of the coming settlement, from the newest mark-price "
                                                   "second (null: no mark price stored)")
    next_funding_ms: int | None = Field(description="time of the coming settlement, UTC ms")
    mark: float | None = Field(description="the newest mark price")
    mark_ts_ms: int | None = Field(description="start of the newest mark-price second, UTC ms")
    interval_ms: int = Field(description="interval between the last two stored settlements (8 h with fewer "
                                         "than two)")


class CostRow(Model):
    ts_ms: int = Field(description="bar start, UTC ms; the book is the one standing at the bar's close")
    hedge_ratio: float | None = Field(description="the causal beta of the panel row")
    spread_bps_a: float | None = Field(description="leg A's quoted spread, bps of its mid")
    spread_bps_b: float | None = Field(description="leg B's quoted spread, bps of its mid")
    qty_a: float | None = Field(description="units of A for the notional (long the spread)")
    qty_b: float | None = Field(description="units of B: -hedge_ratio * qty_a")
    gross_notional: float | None = Field(description="|qty_a| mid_a + |qty_b| mid_b, quote currency")
    long_cost: float | None = Field(description="entering long the spread at the touch against the mids, quote "
                                                "currency (buy A at the ask, sell B at the bid)")
    long_cost_bps: float | None = Field(description="long_cost in bps of gross_notional")
    short_cost: float | None = Field(description="entering short the spread at the touch, quote currency")
    short_cost_bps: float | None = Field(description="short_cost in bps of gross_notional")
    round_trip_fees: float | None = Field(description="fees on the four fills of a round trip, quote currency")
    round_trip_cost: float | None = Field(description="long_cost + short_cost + round_trip_fees")
    round_trip_bps: float | None = Field(description="round_trip_cost in bps of gross_notional")
    long_exceeds_touch: bool | None = Field(description="some leg of the long entry needs more than the size at "
                                                        "the touch (null: no book)")
    short_exceeds_touch: bool | None = Field(description="the same for the short entry")


class CostsResponse(PairEcho):
    hedge: str
    notional: float = Field(description="quote currency on leg A")
    fee_bps: float = Field(description="fee per leg per fill, bps")
    latest: CostRow | None = Field(description="the pair's costs now: the newest panel row with both legs' books "
                                                "(null: no row has them)")
    rows: list[CostRow] = Field(description="the last `limit` rows when series=true, else empty")
