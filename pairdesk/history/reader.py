"""A dump file read as a stream: its layout from the first row, then typed chunks of ~BLOCK_BYTES each.

Memory stays bounded by the block size whatever the file's size. The source is a path, the bytes of
a file, or a seekable binary file object; a ``.zip`` holding one CSV (as data.binance.vision serves
them) is read through without unpacking it to disk.
"""
from __future__ import annotations

import csv
import io
import itertools
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Self

from pairdesk.history import exact
from pairdesk.history.chunks import Chunk
from pairdesk.history.errors import HistoryImportError
from pairdesk.history.fast import parse_block_fast
from pairdesk.history.formats import CsvFormat, detect_format, symbol_from_file_name
from pairdesk.symbols import SymbolError, normalise_symbol

BLOCK_BYTES = 1 << 20  # bytes of CSV read at a time: about 15,000 spot trades (a chunk, a transaction)
MAX_LINE_BYTES = 1 << 20  # a longer line is no CSV of trades or bars
_BOM = b"\xef\xbb\xbf"
_ZIP_MAGIC = b"PK\x03\x04"

Source = str | os.PathLike | bytes | bytearray | memoryview | BinaryIO


def resolve_symbol(symbol: str | None, file_name: str) -> str:
    """The chosen symbol, else the one a Binance dump name carries; HistoryImportError when neither works."""
    text = (symbol or symbol_from_file_name(file_name) or "").strip()
    if not text:
        raise HistoryImportError("no symbol: name the file like BTCUSDT-trades-2024-01-01.csv or choose the symbol")
    try:
        return normalise_symbol(text)
    except SymbolError as exc:
        raise HistoryImportError(f"not a Binance symbol: {exc}") from None


class _Input:
    """The CSV bytes of a source (unzipped on the fly), how many there are, and how many were read."""

    def __init__(self, source: Source, file_name: str) -> None:
        self.file_name = file_name
        self._closers: list = []
        if isinstance(source, (bytes, bytearray, memoryview)):
            raw: BinaryIO = io.BytesIO(source)
        elif isinstance(source, (str, os.PathLike)):
            try:
                raw = open(source, "rb")  # noqa: SIM115 (closed by close())
            except OSError as exc:
                raise HistoryImportError(f"cannot read it ({exc.strerror})") from None
            self._closers.append(raw)
        else:
            raw = source
        head = raw.read(4)
        raw.seek(0)
        self.stream, self.total = (self._unzip(raw) if head == _ZIP_MAGIC else (raw, self._size(raw)))
        self.read_bytes = 0

    def _unzip(self, raw: BinaryIO) -> tuple[BinaryIO, int]:
        try:
            archive = zipfile.ZipFile(raw)
            self._closers.append(archive)
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) != 1:
                raise HistoryImportError(f"{self.file_name}: a zip file must hold exactly one CSV file, "
                                         f"this one holds {len(members)}")
            member = archive.open(members[0])
        except (zipfile.BadZipFile, zlib.error, EOFError):
            raise HistoryImportError(f"{self.file_name}: damaged zip file") from None
        self._closers.append(member)
        return member, members[0].file_size

    @staticmethod
    def _size(raw: BinaryIO) -> int | None:
        try:
            end = raw.seek(0, io.SEEK_END)
            raw.seek(0)
            return end
        except (OSError, ValueError):
            return None

    def read(self, size: int) -> bytes:
        try:
            data = self.stream.read(size)
        except (zipfile.BadZipFile, zlib.error, EOFError):
            raise HistoryImportError(f"{self.file_name}: damaged zip file") from None
        self.read_bytes += len(data)
        return data

    def fraction(self) -> float | None:
        return min(self.read_bytes / self.total, 0.99) if self.total else None

    def close(self) -> None:
        for closer in reversed(self._closers):
            closer.close()
        self._closers.clear()


@dataclass
class _Block:
    data: bytes  # whole lines (the last block may lack its final newline)
    offset: int  # bytes of the file before it
    first_line: int  # 1-based line of its first byte


def _blocks(source: _Input, size: int) -> Iterator[_Block]:
    pending, offset, line = b"", 0, 1
    while data := source.read(size):
        data = pending + data if pending else data
        if offset == 0 and data.startswith(_BOM):
            data, offset = data[len(_BOM):], len(_BOM)
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            if len(data) > MAX_LINE_BYTES:
                raise HistoryImportError(f"a line longer than {MAX_LINE_BYTES:,} bytes: this is not a CSV of "
                                         f"trades or bars", line)
            pending = data
            continue
        pending = data[cut:]
        yield _Block(data[:cut], offset, line)
        offset += cut
        line += data.count(b"\n", 0, cut)
    if pending:
        yield _Block(pending, offset, line)


def _first_row(blocks: Iterator[_Block], file_name: str) -> tuple[CsvFormat, bool, int, _Block | None]:
    """The format told by the first non-blank row, whether that row is a header, the row's line,
    and the block of data rows from there on (None when the first block ends with the header)."""
    for block in blocks:
        data, pos, line = block.data, 0, block.first_line
        while pos < len(data):
            end = data.find(b"\n", pos) + 1 or len(data)
            text = exact.decode(data[pos:end], block.offset + pos)
            try:
                row = next(csv.reader([text]), [])
            except csv.Error as exc:
                raise HistoryImportError(f"not a line of CSV ({exc})", line) from None
            if not exact.is_blank(row):
                fmt, header = detect_format(row, line, file_name)
                format_line = line
                if header:
                    pos, line = end, line + 1
                rest = _Block(data[pos:], block.offset + pos, line) if pos < len(data) else None
                return fmt, header, format_line, rest
            pos, line = end, line + 1
    raise HistoryImportError("the file holds no data rows")


class HistoryReader:
    """An open dump: ``format``, ``symbol`` and ``header`` known from its first row; iterate it for
    its chunks (TradeChunk or BarChunk) in file order, each validated whole; iterate once.

    Raises HistoryImportError (naming the line) on opening for a bad first row, while iterating at
    the first bad line, and at the end when the file holds no data rows. ``on_progress`` gets the
    fraction of the file read (0..1) after each chunk. ``for_replay`` also keeps what a replay
    needs (see TradeChunk).
    """

    def __init__(self, source: Source, file_name: str = "", symbol: str | None = None, *,
                 on_progress: Callable[[float], None] | None = None, for_replay: bool = False,
                 block_bytes: int = BLOCK_BYTES) -> None:
        if not file_name and isinstance(source, (str, os.PathLike)):
            file_name = Path(source).name
        self.symbol = resolve_symbol(symbol, file_name)
        self.file_name = file_name
        self.on_progress = on_progress
        self.for_replay = for_replay
        self.rows = 0  # data rows read so far
        self._input = _Input(source, file_name)
        try:
            self._blocks = _blocks(self._input, block_bytes)
            self.format, self.header, self.format_line, self._rest = _first_row(self._blocks, file_name)
        except BaseException:
            self._input.close()
            raise

    @property
    def kind(self) -> str:
        return self.format.kind

    def __iter__(self) -> Iterator[Chunk]:
        blocks = self._blocks if self._rest is None else itertools.chain((self._rest,), self._blocks)
        self._rest = None
        for block in blocks:
            chunk = parse_block_fast(block.data, self.format, self.symbol, block.first_line, self.for_replay)
            if chunk is None:
                chunk = exact.parse_block(block.data, block.offset, self.format, self.symbol, block.first_line,
                                          self.for_replay)
            if self.on_progress is not None and (fraction := self._input.fraction()) is not None:
                self.on_progress(fraction)
            if chunk is not None:
                self.rows += len(chunk)
                yield chunk
        if self.rows == 0:
            raise HistoryImportError("the file holds no data rows")
        if self.on_progress is not None:
            self.on_progress(1.0)

    def close(self) -> None:
        self._input.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def open_history(source: Source, file_name: str = "", symbol: str | None = None, *,
                 on_progress: Callable[[float], None] | None = None, for_replay: bool = False) -> HistoryReader:
    """Open a dump for streaming (use it in a ``with``); see HistoryReader."""
    return HistoryReader(source, file_name, symbol, on_progress=on_progress, for_replay=for_replay)


def iter_history(source: Source, file_name: str = "", symbol: str | None = None, *,
                 on_progress: Callable[[float], None] | None = None, for_replay: bool = False) -> Iterator[Chunk]:
    """The chunks of a dump, in file order, closed at the end; each chunk carries its ``format``."""
    with open_history(source, file_name, symbol, on_progress=on_progress, for_replay=for_replay) as reader:
        yield from reader


@dataclass(frozen=True)
class HistorySummary:
    """What a whole file holds, read through once without keeping it."""

    format: CsvFormat
    symbol: str
    header: bool
    rows: int
    first_ms: int
    last_ms: int

    @property
    def kind(self) -> str:
        return self.format.kind


def scan_history(source: Source, file_name: str = "", symbol: str | None = None, *,
                 on_progress: Callable[[float], None] | None = None) -> HistorySummary:
    """Validate a whole file in bounded memory; HistoryImportError at its first bad line."""
    first_ms, last_ms = None, None
    with open_history(source, file_name, symbol, on_progress=on_progress) as reader:
        for chunk in reader:
            low, high = int(chunk.times_ms.min()), int(chunk.times_ms.max())
            first_ms = low if first_ms is None else min(first_ms, low)
            last_ms = high if last_ms is None else max(last_ms, high)
        return HistorySummary(reader.format, reader.symbol, reader.header, reader.rows, first_ms, last_ms)
