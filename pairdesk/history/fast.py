"""The same rules as ``exact``, a block at a time with pandas' C reader and numpy: the common case, fast.

A block is accepted here only when nothing in it could be read differently by the exact rules:
ASCII only, no quotes, every line with exactly the format's number of fields, whole numbers made of
digits alone, every value inside its bounds. Anything else (a blank line, a bad value, ``1_000``,
`` True``) returns None and the block is read by ``exact.parse_block``, which accepts what it
accepts and names the first bad line. Floats are read by pandas exactly as ``float()`` reads them.
fundingRate dumps (a hundred rows a month) always take the exact rules.
"""
from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

from pairdesk.history.chunks import BarChunk, Chunk, QuoteChunk, TradeChunk
from pairdesk.history.exact import EARLIEST_MS, LATEST_MS, MICROSECONDS_ABOVE
from pairdesk.history.formats import AGG_TRADE, BARS, FUNDING, QUOTES, CsvFormat

if TYPE_CHECKING:
    import pandas as pd

_NEWLINE, _COMMA, _CR, _ZERO = 10, 44, 13, 48
_TRUE, _FALSE = np.frombuffer(b"true", np.uint8), np.frombuffer(b"false", np.uint8)


class _Fields:
    """Where each field of each line of a block is (byte offsets), when every line has ``columns`` fields."""

    def __init__(self, data: np.ndarray, starts: np.ndarray, ends: np.ndarray, commas: np.ndarray) -> None:
        self.data, self.starts, self.ends, self.commas = data, starts, ends, commas
        self._not_digits: np.ndarray | None = None

    @classmethod
    def of(cls, block: bytes, columns: int) -> _Fields | None:
        data = np.frombuffer(block, np.uint8)
        ends = np.flatnonzero(data == _NEWLINE)
        commas = np.flatnonzero(data == _COMMA)
        rows = len(ends)
        if rows == 0 or len(commas) != rows * (columns - 1):
            return None
        commas = commas.reshape(rows, columns - 1)
        starts = np.empty(rows, np.int64)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        # As many commas as the lines need in all, and each line's share inside it: each line has its own.
        if not ((commas[:, 0] >= starts).all() and (commas[:, -1] < ends).all()):
            return None
        return cls(data, starts, ends, commas)

    def span(self, column: int) -> tuple[np.ndarray, np.ndarray]:
        """(first byte, byte after the last) of ``column`` on every line (a trailing CR excluded)."""
        left = self.starts if column == 0 else self.commas[:, column - 1] + 1
        if column < self.commas.shape[1]:
            return left, self.commas[:, column]
        return left, self.ends - (self.data[self.ends - 1] == _CR)

    def all_digits(self, column: int) -> bool:
        """Every line's ``column`` is one or more ASCII digits (what ``int()`` reads the same everywhere)."""
        if self._not_digits is None:  # positions of every byte that is not a digit (a few per field)
            self._not_digits = np.flatnonzero((self.data - np.uint8(_ZERO)) >= 10)
        left, right = self.span(column)
        inside = np.searchsorted(self._not_digits, right) - np.searchsorted(self._not_digits, left)
        return bool((inside == 0).all() and (right > left).all())

    def flags(self, column: int) -> np.ndarray | None:
        """Every line's ``column`` as a bool when each is true or false in any case; None otherwise.

        (Read here rather than by pandas, which would also take ``1`` or ``0`` for a bool.)
        """
        left, right = self.span(column)
        length = right - left
        at = np.minimum(left[:, None] + np.arange(5), len(self.data) - 1)  # a short last field ends the block
        letters = self.data[at] | np.uint8(0x20)  # lower case (the 5th byte of "true" is past it: ignored)
        true = (length == 4) & (letters[:, :4] == _TRUE).all(axis=1)
        false = (length == 5) & (letters == _FALSE).all(axis=1)
        return true if (true | false).all() else None

    def texts(self, block: bytes, column: int) -> list[str]:
        left, right = self.span(column)
        return [block[a:b].decode().strip() for a, b in zip(left.tolist(), right.tolist())]


def _read(block: bytes, fmt: CsvFormat, dtypes: dict[int, str]) -> pd.DataFrame | None:
    import pandas as pd  # here: the simulator imports this package and rarely reads a dump (~50 MB)

    try:
        return pd.read_csv(io.BytesIO(block), header=None, names=list(range(fmt.columns)), usecols=sorted(dtypes),
                           dtype=dtypes, na_filter=False, index_col=False, engine="c")
    except (ValueError, OverflowError):  # a value pandas cannot read as asked: the exact rules decide
        return None


def _epoch_ms(raw: np.ndarray) -> np.ndarray | None:
    ms = np.where(raw >= MICROSECONDS_ABOVE, raw // 1000, raw)
    return ms if ((ms >= EARLIEST_MS) & (ms < LATEST_MS)).all() else None


def _finite(values: np.ndarray, positive: bool) -> bool:
    ok = np.isfinite(values) & ((values > 0) if positive else (values >= 0))
    return bool(ok.all())


def parse_block_fast(block: bytes, fmt: CsvFormat, symbol: str, first_line: int,
                     for_replay: bool = False) -> Chunk | None:
    """The block's rows (whole lines, the first being line ``first_line``) when every one is plainly
    valid; None when any needs the exact rules."""
    if fmt.kind == FUNDING or not block or not block.isascii() or b'"' in block:
        return None
    if not block.endswith(b"\n"):
        block += b"\n"
    fields = _Fields.of(block, fmt.columns)
    if fields is None:
        return None
    if fmt.kind == BARS:
        return _bars(block, fields, fmt, symbol, first_line)
    if fmt.kind == QUOTES:
        return _quotes(block, fields, fmt, symbol, first_line)
    return _trades(block, fields, fmt, symbol, first_line, for_replay)


def _trades(block: bytes, fields: _Fields, fmt: CsvFormat, symbol: str, first_line: int,
            for_replay: bool) -> TradeChunk | None:
    col = fmt.fields
    whole = [col["id"], col["time"]]
    ranges = for_replay and fmt.kind == AGG_TRADE
    if ranges:
        whole += [col["first_id"], col["last_id"]]
    if not all(fields.all_digits(c) for c in whole):
        return None
    makers = fields.flags(col["maker"])
    if makers is None:
        return None
    frame = _read(block, fmt, {c: "int64" for c in whole} | {1: "float64", 2: "float64"})
    if frame is None or len(frame) != len(fields.ends):
        return None
    prices, qtys = frame[1].to_numpy(np.float64), frame[2].to_numpy(np.float64)
    times_ms = _epoch_ms(frame[col["time"]].to_numpy(np.int64))
    if times_ms is None or not (_finite(prices, positive=True) and _finite(qtys, positive=False)):
        return None
    return TradeChunk(
        fmt, symbol, first_line, frame[col["id"]].to_numpy(np.int64), times_ms, prices, qtys,
        makers,
        first_ids=frame[col["first_id"]].to_numpy(np.int64) if ranges else None,
        last_ids=frame[col["last_id"]].to_numpy(np.int64) if ranges else None,
        price_texts=fields.texts(block, 1) if for_replay else None,
        qty_texts=fields.texts(block, 2) if for_replay else None)


def _bars(block: bytes, fields: _Fields, fmt: CsvFormat, symbol: str, first_line: int) -> BarChunk | None:
    col = fmt.fields
    counted = "count" in col
    whole = [col["time"], col["count"]] if counted else [col["time"]]
    if not all(fields.all_digits(c) for c in whole):
        return None
    floats = ["open", "high", "low", "close", "volume"] + (["quote_volume"] if counted else [])
    frame = _read(block, fmt, {c: "int64" for c in whole} | {col[name]: "float64" for name in floats})
    if frame is None or len(frame) != len(fields.ends):
        return None
    o, h, l, c, volume = (frame[col[name]].to_numpy(np.float64) for name in floats[:5])
    times_ms = _epoch_ms(frame[col["time"]].to_numpy(np.int64))
    if times_ms is None or not (all(_finite(v, positive=True) for v in (o, h, l, c))
                                and _finite(volume, positive=False)):
        return None
    if ((h < np.maximum(np.maximum(o, c), l)) | (l > np.minimum(o, c))).any():
        return None
    if counted:
        quote_volume = frame[col["quote_volume"]].to_numpy(np.float64)
        if not _finite(quote_volume, positive=False):
            return None
        count = frame[col["count"]].to_numpy(np.int64).astype(np.float64)
    else:  # the simple format has no quote volume: estimated at the close
        quote_volume, count = volume * c, np.zeros(len(c))
    return BarChunk(fmt, symbol, first_line, times_ms - times_ms % 1000,
                    np.column_stack((o, h, l, c, volume, quote_volume, count)))


def _quotes(block: bytes, fields: _Fields, fmt: CsvFormat, symbol: str, first_line: int) -> QuoteChunk | None:
    col = fmt.fields
    whole = [col["id"], col["time"], col["event_time"]]
    if not all(fields.all_digits(c) for c in whole):
        return None
    prices = ["bid", "bid_qty", "ask", "ask_qty"]
    frame = _read(block, fmt, {c: "int64" for c in whole} | {col[name]: "float64" for name in prices})
    if frame is None or len(frame) != len(fields.ends):
        return None
    update_ids = frame[col["id"]].to_numpy(np.int64)
    bid, bid_qty, ask, ask_qty = (frame[col[name]].to_numpy(np.float64) for name in prices)
    times_ms = _epoch_ms(frame[col["time"]].to_numpy(np.int64))
    if times_ms is None or _epoch_ms(frame[col["event_time"]].to_numpy(np.int64)) is None:
        return None
    if not (_finite(bid, positive=True) and _finite(ask, positive=True) and _finite(bid_qty, positive=False)
            and _finite(ask_qty, positive=False)) or (bid > ask).any():
        return None
    return QuoteChunk(fmt, symbol, first_line, update_ids, times_ms, bid, bid_qty, ask, ask_qty)
