"""Top of book and mark price as the exchange knows them, and the log of the quotes it sent (ground truth)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple


@dataclass(frozen=True, slots=True)
class BookQuote:
    """One best bid / best ask update, prices and sizes as wire text; times in microseconds.

    `update_id` is the book's `u` (strictly increasing per symbol). `time_us` is the exchange's
    transaction time (futures `T`; spot frames carry no time, there it only paces a replay);
    `event_us` is futures `E` (None: stamped with the publishing time, as fills are).
    """

    symbol: str
    update_id: int
    bid: str
    bid_qty: str
    ask: str
    ask_qty: str
    time_us: int
    event_us: int | None = None


@dataclass(frozen=True, slots=True)
class MarkUpdate:
    """One USD-M `markPriceUpdate`: mark, index and estimated settle price (8-decimal text), the
    funding rate announced for the next settlement (8-decimal text) and that settlement's time."""

    symbol: str
    event_ms: int
    mark: str
    index: str
    settle: str
    funding_rate: str
    next_funding_ms: int


class SentQuote(NamedTuple):
    """A bookTicker update as a client received it, in the argument order of
    `pairdesk.quote_bars.QuoteBarBuilder.update`: `ts_ms` is `T` on futures and the local send
    time (wall clock, ms) on spot, where frames carry no time."""

    update_id: int
    ts_ms: int
    bid: float
    bid_qty: float
    ask: float
    ask_qty: float


class SentQuoteLog:
    """Every bookTicker update that went out on some connection, once per symbol, in send order.

    A frame dropped, silenced, skipped by a gap or never sent (no subscriber) is absent; a frame
    sent again (resend_every) or to a second connection is logged the first time only (its `u`
    is then not above the last logged one), so the log is what an ingestor following the stream
    should have seen, with no duplicates.
    """

    def __init__(self) -> None:
        self._rows: dict[str, list[tuple[int, int, str, str, str, str]]] = {}

    def note(self, event: dict[str, Any], send_ms: int) -> None:
        """Log a bookTicker event just sent (timed by its `T`, or by `send_ms` when it has none)."""
        rows = self._rows.setdefault(event["s"], [])
        if rows and event["u"] <= rows[-1][0]:
            return
        rows.append((event["u"], event.get("T", send_ms), event["b"], event["B"], event["a"], event["A"]))

    def count(self, symbol: str) -> int:
        """How many distinct updates of `symbol` were sent."""
        return len(self._rows.get(symbol, ()))

    def last_update_id(self, symbol: str) -> int | None:
        """The `u` of the last update of `symbol` sent, None before the first."""
        rows = self._rows.get(symbol)
        return rows[-1][0] if rows else None

    def sent(self, symbol: str) -> list[SentQuote]:
        """The updates of `symbol` sent, numbers as floats."""
        return [SentQuote(u, ts, float(b), float(bq), float(a), float(aq)) for u, ts, b, bq, a, aq in
                self._rows.get(symbol, ())]

    def records(self, symbol: str) -> list[dict[str, Any]]:
        """The updates of `symbol` sent, for `/sim/quotes`: {u, T, b, B, a, A}, text exactly as sent."""
        return [{"u": u, "T": ts, "b": b, "B": bq, "a": a, "A": aq} for u, ts, b, bq, a, aq in
                self._rows.get(symbol, ())]
