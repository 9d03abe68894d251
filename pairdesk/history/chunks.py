"""What the parser hands out: typed columns of a run of consecutive rows (numpy arrays, 8 bytes a field).

A chunk is validated whole: every value in it passed the file's rules. Callers that store trades
take ``trade_tuples()``; the simulator's replay reads the columns directly.
"""
from __future__ import annotations

from dataclasses import dataclass
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
        def cut(column):
            return None if column is None else column[start:stop]
        return TradeChunk(self.format, self.symbol, self.first_line + start, self.ids[start:stop],
                          self.times_ms[start:stop], self.prices[start:stop], self.qtys[start:stop],
                          self.makers[start:stop], cut(self.first_ids), cut(self.last_ids), cut(self.price_texts),
                          cut(self.qty_texts))


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
        return BarChunk(self.format, self.symbol, self.first_line + start, self.times_ms[start:stop],
                        self.values[start:stop])


Chunk = TradeChunk | BarChunk
