"""What the parser hands out: typed columns of a run of consecutive rows (numpy arrays, 8 bytes a field).

A chunk is validated whole: every value in it passed the file's rules. Callers that store trades
take ``trade_tuples()``; the simulator's replay reads the columns directly. ``joined`` puts the
chunks of one file back together (an upload held in memory whole).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from itertools import repeat

import numpy as np

from pairdesk.history.formats import CsvFormat

BAR_VALUES = ("open", "high", "low", "close", "volume", "quote_volume", "trades")


@dataclass(frozen=True)
class TradeChunk:
    """Trades of one symbol, in file order.

    ``times_ms`` is the trade time in epoch ms (µs in the file become ms). ``first_ids`` /
    ``last_ids`` (the trade ids an aggregate covers) and ``price_texts`` / ``qty_texts`` (the
    numbers as written) are filled only when asked for (``for_replay``), otherwise None.
    """

    format: CsvFormat
    symbol: str
    first_line: int  # 1-based line of the first row in the file
    ids: np.ndarray  # int64: trade ids, or aggregate ids for an aggTrades file
    times_ms: np.ndarray  # int64
    prices: np.ndarray  # float64
    qtys: np.ndarray  # float64
    makers: np.ndarray  # bool: the buyer was the maker
    first_ids: np.ndarray | None = None
    last_ids: np.ndarray | None = None
    price_texts: list[str] | None = None
    qty_texts: list[str] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def kind(self) -> str:
        return self.format.kind

    def trade_tuples(self) -> list[tuple]:
        """``(symbol, trade_id, ts_ms, price, qty, is_buyer_maker)`` per trade, as the store takes them."""
        return list(zip(repeat(self.symbol), self.ids.tolist(), self.times_ms.tolist(), self.prices.tolist(),
                        self.qtys.tolist(), self.makers.tolist()))

    def sliced(self, start: int, stop: int) -> TradeChunk:
        """Rows start..stop-1 (views, no copy)."""
        return _sliced(self, start, stop)


@dataclass(frozen=True)
class BarChunk:
    """Start-labelled bars of one symbol: ``times_ms`` (bar start, epoch ms, whole seconds) and
    ``values``, one row of BAR_VALUES per bar (float64; ``trades`` is 0 where the file has no count)."""

    format: CsvFormat
    symbol: str
    first_line: int
    times_ms: np.ndarray  # int64
    values: np.ndarray  # float64, shape (rows, 7)

    def __len__(self) -> int:
        return len(self.times_ms)

    @property
    def kind(self) -> str:
        return self.format.kind

    def bar_rows(self) -> list[tuple]:
        """``(ts_ms, open, high, low, close, volume, quote_volume, trades)`` per bar, as the store takes them."""
        return [(t, *values[:6], int(values[6])) for t, values in zip(self.times_ms.tolist(), self.values.tolist())]

    def sliced(self, start: int, stop: int) -> BarChunk:
        return _sliced(self, start, stop)


@dataclass(frozen=True)
class QuoteChunk:
    """Top-of-book updates of one symbol (a bookTicker dump), in file order: not necessarily in the
    order of ``update_ids``. ``times_ms`` is the transaction time (epoch ms); ``bids <= asks``."""

    format: CsvFormat
    symbol: str
    first_line: int
    update_ids: np.ndarray  # int64: the book's update id ``u``
    times_ms: np.ndarray  # int64
    bids: np.ndarray  # float64
    bid_qtys: np.ndarray  # float64
    asks: np.ndarray  # float64
    ask_qtys: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.update_ids)

    @property
    def kind(self) -> str:
        return self.format.kind

    def sliced(self, start: int, stop: int) -> QuoteChunk:
        return _sliced(self, start, stop)


@dataclass(frozen=True)
class FundingChunk:
    """Settled funding rates of one symbol (a fundingRate dump): ``times_ms`` the settlement
    (``calc_time``, epoch ms), ``interval_hours`` the funding interval, ``rates`` the rate (a fraction,
    may be negative). The dumps carry no mark price."""

    format: CsvFormat
    symbol: str
    first_line: int
    times_ms: np.ndarray  # int64
    interval_hours: np.ndarray  # int64
    rates: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.times_ms)

    @property
    def kind(self) -> str:
        return self.format.kind

    def funding_rows(self) -> list[tuple]:
        """``(symbol, funding_time_ms, rate, mark_price=None)`` per settlement, as the store takes them."""
        return list(zip(repeat(self.symbol), self.times_ms.tolist(), self.rates.tolist(), repeat(None)))

    def sliced(self, start: int, stop: int) -> FundingChunk:
        return _sliced(self, start, stop)


Chunk = TradeChunk | BarChunk | QuoteChunk | FundingChunk
_HEAD = ("format", "symbol", "first_line")  # the fields of a chunk that are not columns


def _sliced(chunk, start: int, stop: int):
    """Rows start..stop-1 of a chunk whose other fields are all columns or None (views, no copy)."""
    columns = {f.name: None if (column := getattr(chunk, f.name)) is None else column[start:stop]
               for f in fields(chunk) if f.name not in _HEAD}
    return replace(chunk, first_line=chunk.first_line + start, **columns)


def joined(chunks: Sequence[Chunk]) -> Chunk:
    """The chunks of one file (at least one, all of one type) as one chunk, in file order."""
    first = chunks[0]
    if len(chunks) == 1:
        return first
    columns = {}
    for f in fields(first):
        if f.name in _HEAD:
            continue
        parts = [getattr(chunk, f.name) for chunk in chunks]
        if parts[0] is None:
            columns[f.name] = None
        elif isinstance(parts[0], list):
            columns[f.name] = [value for part in parts for value in part]
        else:
            columns[f.name] = np.concatenate(parts)
    return replace(first, **columns)
