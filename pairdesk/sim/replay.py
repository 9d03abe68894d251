"""Replay: replay sources made into a tape of fills and quotes, and the feed that releases them on the replay clock."""
from __future__ import annotations

import dataclasses
import heapq
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pairdesk.history import replay_source
from pairdesk.markets import AGG_TRADE, TRADE
from pairdesk.sim.config import SimConfigError
from pairdesk.sim.fixed import parse_fixed, units_at
from pairdesk.sim.listings import SymbolSpec, make_spec
from pairdesk.sim.quotes import BookQuote
from pairdesk.sim.replay_quotes import recorded_quotes
from pairdesk.sim.replay_sources import iter_replay_events, recorded_market
from pairdesk.sim.tape_history import Fill

logger = logging.getLogger(__name__)

REPLAY_CHUNK_ITEMS = 2000  # at --speed 0, publish this many trades and quotes, then let the loop breathe

TapeItem = Fill | BookQuote


@dataclass
class RecordedTape:
    """Trades (and the recordings' quotes) ready to replay: per-symbol specs, time-ordered fills and quotes."""

    market: str
    specs: dict[str, SymbolSpec]
    fills: list[Fill]
    stream: str = TRADE  # what the files hold natively: aggTrade when some symbol has only aggregates
    quotes: list[BookQuote] = dataclasses.field(default_factory=list)  # see `replay_quotes`

    def items(self) -> list[TapeItem]:
        """Fills and quotes in one time order (a fill first when both share a time)."""
        return list(heapq.merge(self.fills, self.quotes, key=lambda item: item.time_us))


def load_tape(paths: Sequence[Path], market: str) -> RecordedTape:
    """Read recordings into a replayable tape, checking market and id contiguity.

    A symbol with `@trade` frames replays them as recorded (ids, prices, times, E); its aggregates
    are derived. The recordings' `@bookTicker` frames come along (`replay_quotes`) for the symbols
    that trade. A symbol with only `@aggTrade` frames gets one synthetic trade per covered trade
    id (the aggregate's quantity split evenly), so the derived aggregates equal the recorded ones.
    """
    trades: dict[str, dict[int, dict[str, Any]]] = {}
    aggs: dict[str, dict[int, dict[str, Any]]] = {}
    for path in paths:
        count = 0
        for event in iter_replay_events(replay_source.source_path(path)):
            if recorded_market(event) != market:
                raise SimConfigError(
                    f"{path} holds {recorded_market(event)} frames; run with --market {recorded_market(event)}")
            target = trades if event["e"] == TRADE else aggs
            target.setdefault(event["s"], {})[event["t"] if event["e"] == TRADE else event["a"]] = event
            count += 1
        if count == 0:
            raise SimConfigError(f"{path} holds no @trade or @aggTrade frames")
        logger.info("replay: read %s events from %s", count, path)
    specs: dict[str, SymbolSpec] = {}
    per_symbol: list[list[Fill]] = []
    for symbol in sorted(set(trades) | set(aggs)):
        if symbol in trades:
            spec, fills = _fills_from_trades(market, symbol, trades[symbol])
        else:
            spec, fills = _fills_from_aggs(market, symbol, aggs[symbol])
        specs[symbol] = spec
        per_symbol.append(fills)
    merged = list(heapq.merge(*per_symbol, key=lambda fill: fill.time_us))
    quotes = [q for q in recorded_quotes(paths, market) if q.symbol in specs]
    return RecordedTape(market, specs, merged, AGG_TRADE if set(aggs) - set(trades) else TRADE, quotes)


def _check_contiguous(symbol: str, ids: list[int], what: str) -> None:
    for previous, current in zip(ids, ids[1:]):
        if current != previous + 1:
            raise SimConfigError(
                f"{symbol} {what} ids jump from {previous} to {current} in the replay files; "
                "replay one continuous window at a time")


def _recorded_spec(market: str, symbol: str, price: str, qty: str, first_trade_id: int,
                   first_agg_id: int | None) -> SymbolSpec:
    """The symbol's spec with the recording's decimals and first ids."""
    spec = make_spec(market, symbol)
    price_units, price_decimals = parse_fixed(price)
    _, qty_decimals = parse_fixed(qty)
    if (price_decimals, qty_decimals) != (spec.price_decimals, spec.qty_decimals):
        spec = dataclasses.replace(spec, price_decimals=price_decimals, tick_units=1, qty_decimals=qty_decimals,
                                   step_units=1)
    return dataclasses.replace(
        spec, first_trade_id=first_trade_id, first_agg_id=spec.first_agg_id if first_agg_id is None else first_agg_id,
        start_price=price_units / 10**price_decimals)


def _fills_from_trades(market: str, symbol: str, by_id: dict[int, dict[str, Any]]) -> tuple[SymbolSpec, list[Fill]]:
    ids = sorted(by_id)
    _check_contiguous(symbol, ids, "trade")
    first = by_id[ids[0]]
    spec = _recorded_spec(market, symbol, first["p"], first["q"], ids[0], None)
    fills = []
    for trade_id in ids:
        event = by_id[trade_id]
        fills.append(Fill(symbol, units_at(event["p"], spec.price_decimals), units_at(event["q"], spec.qty_decimals),
                          event["T"] * 1000, event["E"] * 1000, event["m"]))
    return spec, fills


def _fills_from_aggs(market: str, symbol: str, by_id: dict[int, dict[str, Any]]) -> tuple[SymbolSpec, list[Fill]]:
    ids = sorted(by_id)
    _check_contiguous(symbol, ids, "aggregate")
    events = [by_id[a] for a in ids]
    for previous, current in zip(events, events[1:]):
        if current["f"] != previous["l"] + 1:
            raise SimConfigError(f"{symbol} aggregate {current['a']} starts at trade {current['f']}, not "
                                 f"{previous['l'] + 1}; replay one continuous window at a time")
    spec = _recorded_spec(market, symbol, events[0]["p"], events[0]["q"], events[0]["f"], ids[0])
    fills = []
    for event in events:
        count = event["l"] - event["f"] + 1
        share, remainder = divmod(units_at(event["q"], spec.qty_decimals), count)
        for n in range(count):
            fills.append(Fill(symbol, units_at(event["p"], spec.price_decimals), share + (1 if n < remainder else 0),
                              event["T"] * 1000, event["E"] * 1000, event["m"], starts_aggregate=n == 0))
    return spec, fills


class ReplayFeed:
    """Releases recorded fills and quotes when the replay clock reaches their time.

    The replay clock runs at `speed` times the wall clock from the first recorded item; at speed
    0 it jumps to each next item (as fast as possible, in chunks so the server stays responsive).
    """

    def __init__(self, items: Sequence[TapeItem], speed: float) -> None:
        self._items = items
        self._speed = speed
        self._position = 0
        self.clock_us = items[0].time_us if items else 0
        self._clock_anchor_us = self.clock_us
        self._wall_anchor_us: int | None = None

    @property
    def exhausted(self) -> bool:
        """True once every recorded item has been released."""
        return self._position >= len(self._items)

    def restart(self, wall_us: int) -> None:
        """Start, or continue after a pause, from the current replay clock."""
        self._wall_anchor_us = wall_us
        self._clock_anchor_us = self.clock_us

    def take(self, wall_us: int) -> list[TapeItem]:
        """Fills and quotes whose recorded time the replay clock has reached."""
        if self._wall_anchor_us is None:
            self.restart(wall_us)
        start = self._position
        if self._speed == 0:
            stop = min(start + REPLAY_CHUNK_ITEMS, len(self._items))
            if stop > start:
                self.clock_us = max(self.clock_us, self._items[stop - 1].time_us)
        else:
            elapsed_us = (wall_us - self._wall_anchor_us) * self._speed
            self.clock_us = max(self.clock_us, int(self._clock_anchor_us + elapsed_us))
            stop = start
            while stop < len(self._items) and self._items[stop].time_us <= self.clock_us:
                stop += 1
        self._position = stop
        return list(self._items[start:stop])

