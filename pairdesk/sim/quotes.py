"""Top of book and mark price as the exchange knows them, and the log of the quotes it sent (ground truth)."""
from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Any, NamedTuple

from pairdesk.sim.fixed import format_fixed, parse_fixed, units_at


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


class _SentColumns:
    """One symbol's sent updates, column-wise (48 bytes an update): `u`, time, and the four numbers
    as integer units at the decimals of the symbol's first frame (every frame of a symbol has them)."""

    def __init__(self, event: dict[str, Any]) -> None:
        self.price_decimals = parse_fixed(event["b"])[1]
        self.qty_decimals = parse_fixed(event["B"])[1]
        self.columns = tuple(array("q") for _ in range(6))  # u, ts_ms, b, B, a, A

    def append(self, event: dict[str, Any], ts_ms: int) -> None:
        p, q = self.price_decimals, self.qty_decimals
        values = (event["u"], ts_ms, units_at(event["b"], p), units_at(event["B"], q), units_at(event["a"], p),
                  units_at(event["A"], q))
        for column, value in zip(self.columns, values):
            column.append(value)

    def texts(self) -> list[tuple[int, int, str, str, str, str]]:
        p, q = self.price_decimals, self.qty_decimals
        return [(u, ts, format_fixed(b, p), format_fixed(bq, q), format_fixed(a, p), format_fixed(aq, q))
                for u, ts, b, bq, a, aq in zip(*self.columns)]


class SentQuoteLog:
    """Every bookTicker update that went out on some connection, once per symbol, in send order.

    A frame dropped, silenced, skipped by a gap or never sent (no subscriber) is absent; a frame
    sent again (resend_every) or to a second connection is logged the first time only (its `u`
    is then not above the last logged one), so the log is what an ingestor following the stream
    should have seen, with no duplicates.
    """

    def __init__(self) -> None:
        self._symbols: dict[str, _SentColumns] = {}

    def note(self, event: dict[str, Any], send_ms: int) -> None:
        """Log a bookTicker event just sent (timed by its `T`, or by `send_ms` when it has none)."""
        sent = self._symbols.get(event["s"])
        if sent is None:
            sent = self._symbols[event["s"]] = _SentColumns(event)
        elif event["u"] <= sent.columns[0][-1]:
            return
        sent.append(event, event.get("T", send_ms))

    def count(self, symbol: str) -> int:
        """How many distinct updates of `symbol` were sent."""
        sent = self._symbols.get(symbol)
        return len(sent.columns[0]) if sent else 0

    def last_update_id(self, symbol: str) -> int | None:
        """The `u` of the last update of `symbol` sent, None before the first."""
        sent = self._symbols.get(symbol)
        return sent.columns[0][-1] if sent else None

    def sent(self, symbol: str) -> list[SentQuote]:
        """The updates of `symbol` sent, numbers as floats."""
        return [SentQuote(u, ts, float(b), float(bq), float(a), float(aq)) for u, ts, b, bq, a, aq in
                self._texts(symbol)]

    def records(self, symbol: str) -> list[dict[str, Any]]:
        """The updates of `symbol` sent, for `/sim/quotes`: {u, T, b, B, a, A}, text exactly as sent."""
        return [{"u": u, "T": ts, "b": b, "B": bq, "a": a, "A": aq} for u, ts, b, bq, a, aq in self._texts(symbol)]

    def _texts(self, symbol: str) -> list[tuple[int, int, str, str, str, str]]:
        sent = self._symbols.get(symbol)
        return sent.texts() if sent else []
