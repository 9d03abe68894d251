"""Blast mode: a pre-built history sent as fast as possible to the first subscriber (throughput benchmarks)."""
from __future__ import annotations

import heapq
import logging
import time
from collections import Counter
from collections.abc import Collection, Mapping
from typing import Any

from websockets.exceptions import ConnectionClosed

from pairdesk.markets import AGG_TRADE, BOOK_TICKER, TRADE
from pairdesk.sim.listings import SymbolSpec
from pairdesk.sim.model import MarketModel
from pairdesk.sim.quotes import BookQuote
from pairdesk.sim.sessions import ClientSession
from pairdesk.sim.tape_history import AggTrade, Fill, SymbolHistory, Trade
from pairdesk.sim.wire import WireFormat

logger = logging.getLogger(__name__)

BLAST_EVENT_SPACING_US = 1000  # E - T of pre-generated trades


def pregenerate_fills(model: MarketModel, symbols: Collection[str], per_symbol: int, now_us: int) -> list[Fill]:
    """`per_symbol` model fills of each symbol, shifted in time so that the last one happened just now."""
    counts: Counter[str] = Counter()
    fills: list[Fill] = []
    horizon_us = now_us
    while min(counts[s] for s in symbols) < per_symbol:
        horizon_us += 1_000_000
        for fill in model.take(horizon_us):
            if counts[fill.symbol] < per_symbol:
                counts[fill.symbol] += 1
                fills.append(fill)
    shift_us = now_us - max(f.time_us for f in fills) - BLAST_EVENT_SPACING_US
    return [f._replace(time_us=f.time_us + shift_us, event_us=f.time_us + shift_us + BLAST_EVENT_SPACING_US)
            for f in fills]


def pregenerate_quotes(fills: list[Fill], specs: Mapping[str, SymbolSpec], per_symbol: int) -> dict[str, list[BookQuote]]:
    """`per_symbol` bookTicker updates of each symbol, evenly spread over the time of its fills: a
    one-tick book at the last trade price, its sizes cycling through a few lot multiples, update ids
    strictly increasing (a blast's quote load, not a model of the book)."""
    quotes: dict[str, list[BookQuote]] = {}
    for symbol, spec in specs.items():
        own = [f for f in fills if f.symbol == symbol]
        if not own or per_symbol <= 0:
            continue
        first, last = own[0].time_us, own[-1].time_us
        step = max(1, (last - first) // per_symbol)
        out, k = [], 0
        for i in range(per_symbol):
            time_us = first + i * step
            while k + 1 < len(own) and own[k + 1].time_us <= time_us:
                k += 1
            bid = own[k].price_units - own[k].price_units % spec.tick_units
            size = spec.qty_text(spec.step_units * (1 + i % 7))
            out.append(BookQuote(symbol, spec.first_trade_id + i, spec.price_text(bid), size,
                                 spec.price_text(bid + spec.tick_units), size, time_us, time_us + BLAST_EVENT_SPACING_US))
        quotes[symbol] = out
    return quotes


def serialize_history(wire: WireFormat, histories: Mapping[str, SymbolHistory], session: ClientSession,
                      quotes: Mapping[str, list[BookQuote]] | None = None) -> list[bytes]:
    """Every recorded trade or aggregate of the session's streams, and the blast's bookTicker
    updates (``quotes``) where the session wants them, in time order, as frames (no mark prices)."""
    streams = []
    for (symbol, kind), stream in session.wanted.items():
        history = histories[symbol]
        records: list[Trade | AggTrade | BookQuote] = []
        if kind == TRADE:
            records.extend(history.trades(0, len(history)))
        elif kind == AGG_TRADE:
            records.extend(history.aggregates(0, history.agg_count))
        elif kind == BOOK_TICKER and quotes:
            records.extend(quotes.get(symbol, ()))
        streams.append([(r.event_us, kind, stream, r) for r in records])
    micros, combined = session.route.micros, session.combined
    return [WireFormat.frame(wire.event(kind, record, micros), stream, combined)
            for _, kind, stream, record in heapq.merge(*streams, key=lambda item: item[0])]


async def blast(wire: WireFormat, histories: Mapping[str, SymbolHistory], session: ClientSession,
                quotes: Mapping[str, list[BookQuote]] | None = None) -> dict[str, Any]:
    """Send the whole history of the session's streams as fast as possible; returns the timings."""
    started = time.perf_counter()
    frames = serialize_history(wire, histories, session, quotes)
    serialized = time.perf_counter()
    try:
        for frame in frames:
            await session.ws.send(frame, text=True)
    except ConnectionClosed:
        logger.warning("blast: client left early")
    finished = time.perf_counter()
    rate = len(frames) / (finished - serialized) if finished > serialized else 0.0
    logger.info("blast: %s frames in %.3f s = %.0f frames/s (serialized beforehand in %.3f s)",
                len(frames), finished - serialized, rate, serialized - started)
    return {"frames": len(frames), "serialize_s": round(serialized - started, 3),
            "send_s": round(finished - serialized, 3), "frames_per_s": round(rate)}
