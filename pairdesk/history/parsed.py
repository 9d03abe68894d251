"""A whole (upload-sized) file in memory: the streaming reader's chunks joined into one ParsedHistory."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from pairdesk.history.chunks import BAR_VALUES, BarChunk, Chunk, TradeChunk
from pairdesk.history.errors import HistoryImportError
from pairdesk.history.formats import BARS, CsvFormat, describe_kind
from pairdesk.history.reader import open_history


def _empty(dtype) -> np.ndarray:
    return np.empty(0, dtype)


@dataclass
class ParsedHistory:
    """The validated content of one file, held as compact columns (numpy, 8 bytes a field).

    Trades files fill ``ids``, ``times_ms``, ``prices``, ``qtys`` and ``makers``; bars files fill
    ``times_ms`` and ``bar_values`` (open, high, low, close, volume, quote_volume, trades per row,
    flattened). For files of any size, stream them with ``open_history`` instead.
    """

    format: CsvFormat
    symbol: str
    rows: int = 0
    header: bool = False
    format_line: int | None = None  # the line the format was read from (what a refusal is about)
    times_ms: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    ids: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    prices: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    qtys: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    makers: np.ndarray = field(default_factory=lambda: _empty(bool))
    bar_values: np.ndarray = field(default_factory=lambda: _empty(np.float64))

    @property
    def kind(self) -> str:
        return self.format.kind

    @property
    def first_ms(self) -> int | None:
        return int(self.times_ms.min()) if self.rows else None

    @property
    def last_ms(self) -> int | None:
        return int(self.times_ms.max()) if self.rows else None

    def chunks(self, size: int) -> Iterator[Chunk]:
        """The rows as TradeChunk / BarChunk views of ``size`` rows (the last one shorter)."""
        whole: Chunk
        if self.kind == BARS:
            whole = BarChunk(self.format, self.symbol, 1, self.times_ms, self.bar_values.reshape(-1, len(BAR_VALUES)))
        else:
            whole = TradeChunk(self.format, self.symbol, 1, self.ids, self.times_ms, self.prices, self.qtys,
                               self.makers)
        for start in range(0, self.rows, size):
            yield whole.sliced(start, start + size)

    def trade_chunks(self, size: int) -> Iterator[list[tuple]]:
        """Trades as ``(symbol, trade_id, ts_ms, price, qty, is_buyer_maker)`` tuples, ``size`` at a time."""
        for chunk in self.chunks(size):
            yield chunk.trade_tuples()

    def bar_rows(self) -> list[tuple]:
        """Bars as ``(ts_ms, open, high, low, close, volume, quote_volume, trades)`` tuples."""
        return [row for chunk in self.chunks(max(self.rows, 1)) for row in chunk.bar_rows()]


def _joined(chunks: list, name: str, dtype) -> np.ndarray:
    return np.concatenate([getattr(c, name) for c in chunks]) if chunks else _empty(dtype)


def parse_history(data: bytes | str, file_name: str = "", symbol: str | None = None,
                  on_progress: Callable[[float], None] | None = None) -> ParsedHistory:
    """Parse and validate a whole file held in memory; raise ``HistoryImportError`` at the first bad line.

    ``symbol`` defaults to the one in a Binance dump file name (``BTCUSDT-trades-2024-01-01.csv``).
    ``on_progress`` is called with the fraction of the file read so far (0..1). Blank lines are
    skipped. The same parser as ``open_history``, which streams files of any size.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open_history(data, file_name, symbol, on_progress=on_progress) as reader:
        chunks = list(reader)
    parsed = ParsedHistory(format=reader.format, symbol=reader.symbol, rows=reader.rows, header=reader.header,
                           format_line=reader.format_line,
                           times_ms=_joined(chunks, "times_ms", np.int64))
    if parsed.kind == BARS:
        parsed.bar_values = np.concatenate([c.values for c in chunks]).ravel()
    else:
        parsed.ids = _joined(chunks, "ids", np.int64)
        parsed.prices = _joined(chunks, "prices", np.float64)
        parsed.qtys = _joined(chunks, "qtys", np.float64)
        parsed.makers = _joined(chunks, "makers", bool)
    return parsed


class HasFormat(Protocol):
    format: CsvFormat  # and optionally ``format_line``, the line the format was read from


def check_fits_database(parsed: HasFormat, market: str, stream: str) -> None:
    """Refuse trades whose ids are of another kind or market than the database's.

    ``parsed`` is anything with the file's ``format`` (a ParsedHistory, a HistoryReader, a chunk,
    a HistorySummary). A database keyed on trade ids must not receive aggregate ids (the numbers
    would collide and mean different things), and a spot database must not receive futures
    trades. Bars fit any database. Raises HistoryImportError with what to do instead.
    """
    fmt, line = parsed.format, getattr(parsed, "format_line", None)
    if fmt.kind == BARS:
        return
    if fmt.kind != stream:
        ids = "aggregate trade ids" if fmt.kind == "aggTrade" else "individual trade ids"
        raise HistoryImportError(
            f"this is a {fmt.name} file ({ids}) but the database stores {market} {stream} data; "
            f"upload {market} {describe_kind(stream)} files here, or import this file into another database", line)
    if fmt.market != market:
        raise HistoryImportError(
            f"this is a {fmt.name} file but the database stores {market} {stream} data; "
            f"upload {market} files here", line)
