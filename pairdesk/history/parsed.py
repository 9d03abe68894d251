"""A whole (upload-sized) file in memory: the streaming reader's chunks joined into one ParsedHistory."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from pairdesk.history.chunks import Chunk, joined
from pairdesk.history.errors import HistoryImportError
from pairdesk.history.formats import BARS, FUNDING, QUOTES, CsvFormat, describe_kind
from pairdesk.history.reader import open_history


@dataclass
class ParsedHistory:
    """The validated content of one file, held as compact columns (numpy, 8 bytes a field): ``whole``,
    one chunk of the file's kind (TradeChunk, BarChunk, QuoteChunk or FundingChunk) holding every row.

    ``times_ms``, and for trades ``ids``, ``prices``, ``qtys`` and ``makers``, are its columns. For
    files of any size, stream them with ``open_history`` instead.
    """

    format: CsvFormat
    symbol: str
    whole: Chunk
    rows: int = 0
    header: bool = False
    format_line: int | None = None  # the line the format was read from (what a refusal is about)

    @property
    def kind(self) -> str:
        return self.format.kind

    @property
    def times_ms(self) -> np.ndarray:
        return self.whole.times_ms

    @property
    def ids(self) -> np.ndarray:
        return self.whole.ids

    @property
    def prices(self) -> np.ndarray:
        return self.whole.prices

    @property
    def qtys(self) -> np.ndarray:
        return self.whole.qtys

    @property
    def makers(self) -> np.ndarray:
        return self.whole.makers

    @property
    def first_ms(self) -> int | None:
        return int(self.times_ms.min()) if self.rows else None

    @property
    def last_ms(self) -> int | None:
        return int(self.times_ms.max()) if self.rows else None

    def chunks(self, size: int) -> Iterator[Chunk]:
        """The rows as chunk views of ``size`` rows (the last one shorter), in file order."""
        for start in range(0, self.rows, size):
            yield self.whole.sliced(start, start + size)

    def trade_chunks(self, size: int) -> Iterator[list[tuple]]:
        """Trades as ``(symbol, trade_id, ts_ms, price, qty, is_buyer_maker)`` tuples, ``size`` at a time."""
        for chunk in self.chunks(size):
            yield chunk.trade_tuples()

    def bar_rows(self) -> list[tuple]:
        """Bars as ``(ts_ms, open, high, low, close, volume, quote_volume, trades)`` tuples."""
        return self.whole.bar_rows()


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
    return ParsedHistory(format=reader.format, symbol=reader.symbol, whole=joined(chunks), rows=reader.rows,
                         header=reader.header, format_line=reader.format_line)


class HasFormat(Protocol):
    format: CsvFormat  # and optionally ``format_line``, the line the format was read from


def check_fits_database(parsed: HasFormat, market: str, stream: str) -> None:
    """Refuse trades whose ids are of another kind or market than the database's.

    ``parsed`` is anything with the file's ``format`` (a ParsedHistory, a HistoryReader, a chunk,
    a HistorySummary). A database keyed on trade ids must not receive aggregate ids (the numbers
    would collide and mean different things), and a spot database must not receive futures
    trades. Bars fit any database; bookTicker and fundingRate dumps (USD-M only) fit any futures
    database. Raises HistoryImportError with what to do instead.
    """
    fmt, line = parsed.format, getattr(parsed, "format_line", None)
    if fmt.kind == BARS:
        return
    if fmt.kind in (QUOTES, FUNDING):
        if fmt.market != market:
            raise HistoryImportError(
                f"this is a {fmt.name} file but the database stores {market} data; {describe_kind(fmt.kind)} "
                f"dumps are USD-M futures only: import them into a futures database", line)
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
