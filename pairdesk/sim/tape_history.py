"""Ground truth: every trade and aggregate trade the sim ever made, per symbol, in id order.

(Not to be confused with `pairdesk.history`, the product's parser of Binance history files.)
"""
from __future__ import annotations

import bisect
from array import array
from dataclasses import dataclass
from typing import Any, NamedTuple

from pairdesk.markets import AGG_TRADE, TRADE
from pairdesk.sim.listings import SymbolSpec


@dataclass(frozen=True, slots=True)
class Trade:
    """One trade as the exchange knows it; times in microseconds."""

    symbol: str
    trade_id: int
    price: str
    qty: str
    time_us: int
    event_us: int
    is_buyer_maker: bool


@dataclass(frozen=True, slots=True)
class AggTrade:
    """Consecutive trades with the same price, taker side and millisecond, merged."""

    symbol: str
    agg_id: int
    price: str
    qty: str
    first_trade_id: int
    last_trade_id: int
    time_us: int
    event_us: int
    is_buyer_maker: bool


class Fill(NamedTuple):
    """A trade about to happen (from the model or a recording); prices in the spec's units."""

    symbol: str
    price_units: int
    qty_units: int
    time_us: int
    event_us: int | None  # None: stamped with the publishing time
    is_buyer_maker: bool
    starts_aggregate: bool = False  # replayed aggregates keep their recorded boundaries


class SymbolHistory:
    """Every trade and closed aggregate trade of one symbol, in id order: the sim's ground truth.

    Stored column-wise in arrays (~50 bytes a trade) so a day of trades fits comfortably. Trade ids
    are contiguous from `first_trade_id`, aggregate ids from `first_agg_id`. An aggregate is
    closed when a trade arrives that does not join it or when the clock has left its millisecond;
    only closed aggregates are visible (REST answers only what has already happened).
    """

    def __init__(self, spec: SymbolSpec) -> None:
        self.spec = spec
        self.first_trade_id = spec.first_trade_id
        self.first_agg_id = spec.first_agg_id
        self._price = array("q")
        self._qty = array("q")
        self._time_us = array("q")
        self._event_us = array("q")
        self._maker = array("b")
        self._agg_start = array("q")  # index of the aggregate's first trade
        self._agg_end = array("q")  # index of its last trade
        self._agg_qty = array("q")
        self._open_start: int | None = None  # first trade index of the aggregate still open
        self._open_qty = 0

    def __len__(self) -> int:
        return len(self._price)

    @property
    def agg_count(self) -> int:
        """Number of closed aggregate trades."""
        return len(self._agg_start)

    @property
    def last_price_units(self) -> int | None:
        """Price of the latest trade, None before the first."""
        return self._price[-1] if self._price else None

    def append(self, fill: Fill, event_us: int) -> list[int]:
        """Record one trade; returns the indexes of aggregates this trade closed (0 or 1)."""
        closed: list[int] = []
        index = len(self._price)
        if self._open_start is not None:
            first = self._open_start
            joins = (
                not fill.starts_aggregate
                and self._price[first] == fill.price_units
                and self._maker[first] == fill.is_buyer_maker
                and self._time_us[first] // 1000 == fill.time_us // 1000
            )
            if not joins:
                closed.append(self._close_open())
        self._price.append(fill.price_units)
        self._qty.append(fill.qty_units)
        self._time_us.append(fill.time_us)
        self._event_us.append(event_us)
        self._maker.append(fill.is_buyer_maker)
        if self._open_start is None:
            self._open_start = index
            self._open_qty = 0
        self._open_qty += fill.qty_units
        return closed

    def close_aggregate(self, before_ms: int | None = None) -> int | None:
        """Close the open aggregate if its millisecond is before `before_ms` (None: always)."""
        if self._open_start is None:
            return None
        if before_ms is not None and self._time_us[self._open_start] // 1000 >= before_ms:
            return None
        return self._close_open()

    def _close_open(self) -> int:
        assert self._open_start is not None
        self._agg_start.append(self._open_start)
        self._agg_end.append(len(self._price) - 1)
        self._agg_qty.append(self._open_qty)
        self._open_start = None
        return len(self._agg_start) - 1

    def trade(self, index: int) -> Trade:
        """The trade at `index` (0 = first; negative counts from the end)."""
        if index < 0:
            index += len(self._price)
        return Trade(
            symbol=self.spec.symbol,
            trade_id=self.first_trade_id + index,
            price=self.spec.price_text(self._price[index]),
            qty=self.spec.qty_text(self._qty[index]),
            time_us=self._time_us[index],
            event_us=self._event_us[index],
            is_buyer_maker=bool(self._maker[index]),
        )

    def aggregate(self, index: int) -> AggTrade:
        """The closed aggregate at `index`."""
        if index < 0:
            index += len(self._agg_start)
        start, end = self._agg_start[index], self._agg_end[index]
        return AggTrade(
            symbol=self.spec.symbol,
            agg_id=self.first_agg_id + index,
            price=self.spec.price_text(self._price[start]),
            qty=self.spec.qty_text(self._agg_qty[index]),
            first_trade_id=self.first_trade_id + start,
            last_trade_id=self.first_trade_id + end,
            time_us=self._time_us[start],
            event_us=self._event_us[end],
            is_buyer_maker=bool(self._maker[start]),
        )

    def trades(self, start: int, stop: int) -> list[Trade]:
        """Trades with indexes in [start, stop), clamped to what exists."""
        start, stop = max(start, 0), min(stop, len(self._price))
        return [self.trade(i) for i in range(start, stop)]

    def aggregates(self, start: int, stop: int) -> list[AggTrade]:
        """Closed aggregates with indexes in [start, stop), clamped."""
        start, stop = max(start, 0), min(stop, len(self._agg_start))
        return [self.aggregate(i) for i in range(start, stop)]

    def trade_index(self, trade_id: int) -> int:
        """Index of `trade_id` (may fall outside the stored range)."""
        return trade_id - self.first_trade_id

    def agg_index(self, agg_id: int) -> int:
        """Index of `agg_id` (may fall outside the stored range)."""
        return agg_id - self.first_agg_id

    def agg_index_at(self, time_us: int) -> int:
        """Index of the first closed aggregate with trade time >= `time_us`."""
        return bisect.bisect_left(
            range(len(self._agg_start)), time_us, key=lambda i: self._time_us[self._agg_start[i]]
        )



def history_record(kind: str, record: Trade | AggTrade) -> dict[str, Any]:
    """Ground-truth record for `/sim/history`: stream keys, strings exactly as sent, times in ms."""
    if isinstance(record, Trade):
        return {"t": record.trade_id, "p": record.price, "q": record.qty, "T": record.time_us // 1000,
                "E": record.event_us // 1000, "m": record.is_buyer_maker}
    return {"a": record.agg_id, "p": record.price, "q": record.qty, "f": record.first_trade_id,
            "l": record.last_trade_id, "T": record.time_us // 1000, "E": record.event_us // 1000,
            "m": record.is_buyer_maker}



def history_records(history: SymbolHistory, kind: str, from_id: int | None = None,
                    limit: int | None = None) -> list[dict[str, Any]]:
    """`history_record`s of trades (`kind="trade"`) or closed aggregates from `from_id`, at most `limit`."""
    if kind == TRADE:
        start = 0 if from_id is None else max(history.trade_index(from_id), 0)
        stop = len(history) if limit is None else start + limit
        return [history_record(kind, t) for t in history.trades(start, stop)]
    if kind == AGG_TRADE:
        start = 0 if from_id is None else max(history.agg_index(from_id), 0)
        stop = history.agg_count if limit is None else start + limit
        return [history_record(kind, a) for a in history.aggregates(start, stop)]
    raise ValueError(f"kind must be {TRADE!r} or {AGG_TRADE!r}, got {kind!r}")
