"""The rules, row by row: every field of a block checked in file order, the first bad one named with its line.

This is the definition of a valid file. ``fast`` gets the same answers for the common case many
times faster and hands every block it is not certain about to ``parse_block`` here.
"""
from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from pairdesk.history.chunks import BarChunk, Chunk, FundingChunk, QuoteChunk, TradeChunk
from pairdesk.history.errors import HistoryImportError, quote
from pairdesk.history.formats import AGG_TRADE, BARS, FUNDING, QUOTES, SIMPLE_BARS, CsvFormat

MICROSECONDS_ABOVE = 10**14  # an epoch in ms reaches 1e14 only in the year 5138
EARLIEST_MS = 1_230_768_000_000  # 2009-01-01: anything earlier is not a crypto trade time
LATEST_MS = 4_102_444_800_000  # 2100-01-01
MAX_ID = 2**63 - 1  # ids are stored as signed 64-bit integers


# --------------------------------------------------------------------------- fields


def finite(text: str, name: str) -> float:
    """A finite number of either sign."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} {quote(text)} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} {quote(text)} is not a finite number")
    return value


def number(text: str, name: str, positive: bool) -> float:
    value = finite(text, name)
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{name} {quote(text)} must be {'positive' if positive else 'zero or more'}")
    return value


def integer(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} {quote(text)} is not a whole number") from None
    if value < 0:
        raise ValueError(f"{name} {quote(text)} must not be negative")
    if value > MAX_ID:
        raise ValueError(f"{name} {quote(text)} is too large")
    return value


def epoch_ms(value: int, text: str, name: str) -> int:
    ms = value // 1000 if value >= MICROSECONDS_ABOVE else value
    if not EARLIEST_MS <= ms < LATEST_MS:
        raise ValueError(f"{name} {quote(text)} is not an epoch time in milliseconds or microseconds")
    return ms


def epoch_time(text: str, name: str) -> int:
    return epoch_ms(integer(text, name), text, name)


def time_or_iso(text: str, name: str) -> int:
    """Epoch ms / µs, or ISO 8601 (UTC unless the text carries an offset)."""
    if text.strip().isdigit():
        return epoch_time(text, name)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{name} {quote(text)} is neither an epoch time nor an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return epoch_ms(round(moment.timestamp() * 1000), text, name)


_BOOLS = {"true": True, "false": False}


def flag(text: str, name: str) -> bool:
    try:
        return _BOOLS[text.strip().lower()]
    except KeyError:
        raise ValueError(f"{name} {quote(text)} is not True or False") from None


# --------------------------------------------------------------------------- rows


def _trade_reader(fmt: CsvFormat, for_replay: bool) -> Callable[[list[str]], tuple]:
    """A function row -> (id, ms, price, qty, maker[, first id, last id][, price text, qty text])."""
    col = fmt.fields
    id_col, time_col, maker_col = col["id"], col["time"], col["maker"]
    id_name = "aggregate id" if fmt.kind == AGG_TRADE else "trade id"
    ranges = for_replay and fmt.kind == AGG_TRADE

    def read(row: list[str]) -> tuple:
        values = (integer(row[id_col], id_name), epoch_time(row[time_col], "time"),
                  number(row[1], "price", positive=True), number(row[2], "quantity", positive=False),
                  flag(row[maker_col], "is_buyer_maker"))
        if ranges:
            values += (integer(row[col["first_id"]], "first trade id"), integer(row[col["last_id"]], "last trade id"))
        if for_replay:
            values += (row[1].strip(), row[2].strip())
        return values

    return read


def _bar_reader(fmt: CsvFormat) -> Callable[[list[str]], tuple]:
    col = fmt.fields
    parse_time = time_or_iso if fmt is SIMPLE_BARS else epoch_time

    def read(row: list[str]) -> tuple:
        ts_ms = parse_time(row[col["time"]], "time")
        o, h, l, c = (number(row[col[name]], name, positive=True) for name in ("open", "high", "low", "close"))
        volume = number(row[col["volume"]], "volume", positive=False)
        if h < max(o, c, l) or l > min(o, c):
            raise ValueError(f"high {row[col['high']]} / low {row[col['low']]} do not enclose open and close")
        if "quote_volume" in col:
            quote_volume = number(row[col["quote_volume"]], "quote volume", positive=False)
            count = float(integer(row[col["count"]], "trade count"))
        else:  # the simple format has no quote volume: estimated at the close
            quote_volume, count = volume * c, 0.0
        return ts_ms - ts_ms % 1000, o, h, l, c, volume, quote_volume, count  # bars are keyed by their start second

    return read


def _quote_reader(fmt: CsvFormat) -> Callable[[list[str]], tuple]:
    """A function row -> (update id, transaction ms, bid, bid qty, ask, ask qty); a crossed book is refused."""
    col = fmt.fields

    def read(row: list[str]) -> tuple:
        update_id = integer(row[col["id"]], "update id")
        ts_ms = epoch_time(row[col["time"]], "transaction time")
        epoch_time(row[col["event_time"]], "event time")
        bid = number(row[col["bid"]], "best bid price", positive=True)
        bid_qty = number(row[col["bid_qty"]], "best bid quantity", positive=False)
        ask = number(row[col["ask"]], "best ask price", positive=True)
        ask_qty = number(row[col["ask_qty"]], "best ask quantity", positive=False)
        if bid > ask:
            raise ValueError(f"crossed book: best bid {quote(row[col['bid']])} is above best ask "
                             f"{quote(row[col['ask']])}")
        return update_id, ts_ms, bid, bid_qty, ask, ask_qty

    return read


def _funding_reader(fmt: CsvFormat) -> Callable[[list[str]], tuple]:
    """A function row -> (settlement ms, funding interval in hours, rate)."""
    col = fmt.fields

    def read(row: list[str]) -> tuple:
        ts_ms = epoch_time(row[col["time"]], "calc time")
        hours = integer(row[col["interval_hours"]], "funding interval hours")
        if hours == 0:
            raise ValueError(f"funding interval hours {quote(row[col['interval_hours']])} must be positive")
        return ts_ms, hours, finite(row[col["rate"]], "funding rate")

    return read


def _row_reader(fmt: CsvFormat, for_replay: bool) -> Callable[[list[str]], tuple]:
    if fmt.kind == BARS:
        return _bar_reader(fmt)
    if fmt.kind == QUOTES:
        return _quote_reader(fmt)
    if fmt.kind == FUNDING:
        return _funding_reader(fmt)
    return _trade_reader(fmt, for_replay)


def decode(block: bytes, offset: int) -> str:
    """A block as text; ``offset`` (bytes before the block) places a bad byte in the file."""
    try:
        return block.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HistoryImportError(f"the file is not UTF-8 text (byte {offset + exc.start}); upload a CSV file") from None


def is_blank(row: list[str]) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())


def parse_block(block: bytes, offset: int, fmt: CsvFormat, symbol: str, first_line: int,
                for_replay: bool = False) -> Chunk | None:
    """Every row of ``block`` (whole lines, the first one being line ``first_line``), checked one by one.

    Returns None when the block holds only blank lines; raises HistoryImportError at the first bad line.
    """
    reader = csv.reader(io.StringIO(decode(block, offset)))
    read_row = _row_reader(fmt, for_replay)
    rows: list[tuple] = []
    first_data_line = None
    try:
        for row in reader:
            if is_blank(row):
                continue
            line = first_line + reader.line_num - 1
            if first_data_line is None:
                first_data_line = line
            if len(row) != fmt.columns:
                raise HistoryImportError(f"expected {fmt.columns} columns ({fmt.name}), found {len(row)}", line)
            try:
                rows.append(read_row(row))
            except ValueError as exc:
                raise HistoryImportError(str(exc), line) from None
    except csv.Error as exc:  # a NUL byte, a lone carriage return, a quote left open
        raise HistoryImportError(f"not a line of CSV ({exc})", first_line + reader.line_num - 1) from None
    if not rows:
        return None
    columns = list(zip(*rows))
    if fmt.kind == BARS:
        return BarChunk(fmt, symbol, first_data_line, np.array(columns[0], np.int64),
                        np.array(columns[1:], np.float64).T.copy())
    if fmt.kind == QUOTES:
        return QuoteChunk(fmt, symbol, first_data_line, np.array(columns[0], np.int64),
                          np.array(columns[1], np.int64), *(np.array(c, np.float64) for c in columns[2:]))
    if fmt.kind == FUNDING:
        return FundingChunk(fmt, symbol, first_data_line, np.array(columns[0], np.int64),
                            np.array(columns[1], np.int64), np.array(columns[2], np.float64))
    return _trade_chunk(fmt, symbol, first_data_line, columns, for_replay)


def _trade_chunk(fmt: CsvFormat, symbol: str, first_line: int, columns: list[tuple], for_replay: bool) -> TradeChunk:
    ids, times, prices, qtys, makers = (np.array(columns[0], np.int64), np.array(columns[1], np.int64),
                                        np.array(columns[2], np.float64), np.array(columns[3], np.float64),
                                        np.array(columns[4], bool))
    extra = columns[5:]
    first_ids = last_ids = price_texts = qty_texts = None
    if for_replay and fmt.kind == AGG_TRADE:
        first_ids, last_ids, extra = np.array(extra[0], np.int64), np.array(extra[1], np.int64), extra[2:]
    if for_replay:
        price_texts, qty_texts = list(extra[0]), list(extra[1])
    return TradeChunk(fmt, symbol, first_line, ids, times, prices, qtys, makers, first_ids, last_ids,
                      price_texts, qty_texts)
