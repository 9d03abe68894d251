"""Historical CSV files in, validated typed rows out: the parsing half of every history import.

Pure: bytes (or text) in, a ``ParsedHistory`` or a ``HistoryImportError`` naming the problem and
the line out; no database, no Streamlit. The dashboard's upload and the command-line import use it.

Accepted formats (the layout is detected from the data: column count, a header row if the first
field is not a number, True/False columns; times in ms or µs by magnitude):

=====================  ====  ======================================================================
format                 cols  columns
=====================  ====  ======================================================================
spot trades            7     id,price,qty,quoteQty,time,isBuyerMaker,isBestMatch (no header)
spot aggTrades         8     aggId,price,qty,firstId,lastId,time,isBuyerMaker,isBestMatch
futures trades         6     id,price,qty,quote_qty,time,is_buyer_maker (header, true/false)
futures aggTrades      7     agg_trade_id,price,quantity,first_trade_id,last_trade_id,
                             transact_time,is_buyer_maker
klines                 12    open_time,open,high,low,close,volume,close_time,quote_volume,count,
                             taker_buy_volume,taker_buy_quote_volume,ignore (any interval)
simple bars            6     time,open,high,low,close,volume (header required; time is epoch ms,
                             epoch µs, or ISO 8601 such as 2024-08-09T00:00:00Z, UTC unless an
                             offset is given; each row is a bar starting at ``time``)
=====================  ====  ======================================================================

A ``.zip`` holding one CSV (as data.binance.vision serves them) is read transparently.
Trades files become trades (their ids are trade ids or aggregate ids: ``kind``); klines and
simple bars become bars, stored only where no bar exists.
"""
from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

MICROSECONDS_ABOVE = 10**14  # an epoch in ms reaches 1e14 only in the year 5138
EARLIEST_MS = 1_230_768_000_000  # 2009-01-01: anything earlier is not a crypto trade time
LATEST_MS = 4_102_444_800_000  # 2100-01-01
PROGRESS_EVERY_ROWS = 50_000
MAX_ERROR_TEXT = 40  # characters of a bad field quoted back in an error message

TRADE_KINDS = ("trade", "aggTrade")
BARS = "bars"


class HistoryImportError(ValueError):
    """A file that cannot be imported; ``line`` is the 1-based line of the problem (None: whole file)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line
        self.reason = message


@dataclass(frozen=True)
class CsvFormat:
    """One accepted file layout: what its rows hold and where each field is."""

    name: str
    kind: str  # "trade" (trade ids), "aggTrade" (aggregate ids) or "bars"
    market: str | None  # "spot" / "futures" for trades files; None for bars (they fit any database)
    header: tuple[str, ...]  # column names as Binance writes them (matched case-insensitively)
    fields: dict[str, int]  # field name -> column index
    header_required: bool = False

    @property
    def columns(self) -> int:
        return len(self.header)


def _trades_format(name: str, kind: str, market: str, header: str, id_col: int, time_col: int,
                   maker_col: int) -> CsvFormat:
    return CsvFormat(name, kind, market, tuple(header.split(",")),
                     {"id": id_col, "price": 1, "qty": 2, "time": time_col, "maker": maker_col})


SPOT_TRADES = _trades_format("spot trades", "trade", "spot",
                             "id,price,qty,quoteQty,time,isBuyerMaker,isBestMatch", 0, 4, 5)
SPOT_AGG_TRADES = _trades_format("spot aggTrades", "aggTrade", "spot",
                                 "aggId,price,qty,firstId,lastId,time,isBuyerMaker,isBestMatch", 0, 5, 6)
FUTURES_TRADES = _trades_format("futures trades", "trade", "futures",
                                "id,price,qty,quote_qty,time,is_buyer_maker", 0, 4, 5)
FUTURES_AGG_TRADES = _trades_format(
    "futures aggTrades", "aggTrade", "futures",
    "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker", 0, 5, 6)
KLINES = CsvFormat(
    "klines", BARS, None,
    tuple("open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
          "taker_buy_quote_volume,ignore".split(",")),
    {"time": 0, "open": 1, "high": 2, "low": 3, "close": 4, "volume": 5, "quote_volume": 7, "count": 8})
SIMPLE_BARS = CsvFormat("simple bars", BARS, None, ("time", "open", "high", "low", "close", "volume"),
                        {"time": 0, "open": 1, "high": 2, "low": 3, "close": 4, "volume": 5},
                        header_required=True)
FORMATS = (SPOT_TRADES, SPOT_AGG_TRADES, FUTURES_TRADES, FUTURES_AGG_TRADES, KLINES, SIMPLE_BARS)

# data.binance.vision names: BTCUSDT-trades-2024-01-01.csv, BTCUSDT-aggTrades-2024-01.zip,
# BTCUSDT-1m-2024-01-01.csv (klines).
_FILE_NAME = re.compile(r"^(?P<symbol>[A-Za-z0-9]{2,30})-(?P<kind>trades|aggTrades|\d+(?:mo|[smhdwM]))"
                        r"-\d{4}-\d{2}(-\d{2})?(\s*\(\d+\))?\.(csv|zip)$")
_FILE_NAME_KIND = {"trades": "trade", "aggTrades": "aggTrade"}


def symbol_from_file_name(file_name: str) -> str | None:
    """``BTCUSDT`` from ``BTCUSDT-aggTrades-2026-01-01.csv`` (Binance dump names); None otherwise."""
    match = _FILE_NAME.match(file_name.rsplit("/", 1)[-1])
    return match["symbol"].upper() if match else None


def _kind_from_file_name(file_name: str) -> str | None:
    match = _FILE_NAME.match(file_name.rsplit("/", 1)[-1])
    if not match:
        return None
    return _FILE_NAME_KIND.get(match["kind"], BARS)


@dataclass
class ParsedHistory:
    """The validated content of one file, held as compact columns (8 bytes a field).

    Trades files fill ``ids``, ``times_ms``, ``prices``, ``qtys`` and ``makers``; bars files fill
    ``times_ms`` and ``bar_values`` (open, high, low, close, volume, quote_volume, trades per row,
    flattened).
    """

    format: CsvFormat
    symbol: str
    rows: int = 0
    header: bool = False
    times_ms: array = field(default_factory=lambda: array("q"))
    ids: array = field(default_factory=lambda: array("q"))
    prices: array = field(default_factory=lambda: array("d"))
    qtys: array = field(default_factory=lambda: array("d"))
    makers: array = field(default_factory=lambda: array("b"))
    bar_values: array = field(default_factory=lambda: array("d"))

    @property
    def kind(self) -> str:
        return self.format.kind

    @property
    def first_ms(self) -> int | None:
        return min(self.times_ms) if self.rows else None

    @property
    def last_ms(self) -> int | None:
        return max(self.times_ms) if self.rows else None

    def trade_chunks(self, size: int) -> Iterator[list[tuple]]:
        """Trades as ``(symbol, trade_id, ts_ms, price, qty, is_buyer_maker)`` tuples, ``size`` at a time."""
        for start in range(0, len(self.ids), size):
            stop = start + size
            yield [(self.symbol, i, t, p, q, bool(m)) for i, t, p, q, m in
                   zip(self.ids[start:stop], self.times_ms[start:stop], self.prices[start:stop],
                       self.qtys[start:stop], self.makers[start:stop])]

    def bar_rows(self) -> list[tuple]:
        """Bars as ``(ts_ms, open, high, low, close, volume, quote_volume, trades)`` tuples."""
        values = self.bar_values
        return [(t, *values[7 * n:7 * n + 6], int(values[7 * n + 6])) for n, t in enumerate(self.times_ms)]


# --------------------------------------------------------------------------- field parsers


def _quote(text: str) -> str:
    return repr(text if len(text) <= MAX_ERROR_TEXT else text[:MAX_ERROR_TEXT] + "...")


def _number(text: str, name: str, positive: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} {_quote(text)} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} {_quote(text)} is not a finite number")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{name} {_quote(text)} must be {'positive' if positive else 'zero or more'}")
    return value


def _integer(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} {_quote(text)} is not a whole number") from None
    if value < 0:
        raise ValueError(f"{name} {_quote(text)} must not be negative")
    return value


def _epoch_ms(value: int, text: str, name: str) -> int:
    ms = value // 1000 if value >= MICROSECONDS_ABOVE else value
    if not EARLIEST_MS <= ms < LATEST_MS:
        raise ValueError(f"{name} {_quote(text)} is not an epoch time in milliseconds or microseconds")
    return ms


def _time(text: str, name: str) -> int:
    return _epoch_ms(_integer(text, name), text, name)


def _time_or_iso(text: str, name: str) -> int:
    """Epoch ms / µs, or ISO 8601 (UTC unless the text carries an offset)."""
    if text.strip().isdigit():
        return _time(text, name)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{name} {_quote(text)} is neither an epoch time nor an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    ms = round(moment.timestamp() * 1000)
    return _epoch_ms(ms, text, name)


_BOOLS = {"true": 1, "false": 0}


def _flag(text: str, name: str) -> int:
    try:
        return _BOOLS[text.strip().lower()]
    except KeyError:
        raise ValueError(f"{name} {_quote(text)} is not True or False") from None


def _is_flag(text: str) -> bool:
    return text.strip().lower() in _BOOLS


def _is_integer(text: str) -> bool:
    return text.strip().isdigit()


# --------------------------------------------------------------------------- row readers


def _trade_reader(fmt: CsvFormat) -> Callable[[list[str], ParsedHistory], None]:
    id_col, time_col, maker_col = fmt.fields["id"], fmt.fields["time"], fmt.fields["maker"]
    id_name = "aggregate id" if fmt.kind == "aggTrade" else "trade id"

    def read(row: list[str], out: ParsedHistory) -> None:
        trade_id = _integer(row[id_col], id_name)
        price = _number(row[1], "price", positive=True)
        qty = _number(row[2], "quantity", positive=False)
        ts_ms = _time(row[time_col], "time")
        maker = _flag(row[maker_col], "is_buyer_maker")
        out.ids.append(trade_id)
        out.prices.append(price)
        out.qtys.append(qty)
        out.times_ms.append(ts_ms)
        out.makers.append(maker)

    return read


def _bar_reader(fmt: CsvFormat) -> Callable[[list[str], ParsedHistory], None]:
    col = fmt.fields
    parse_time = _time_or_iso if fmt is SIMPLE_BARS else _time

    def read(row: list[str], out: ParsedHistory) -> None:
        ts_ms = parse_time(row[col["time"]], "time")
        o, h, l, c = (_number(row[col[name]], name, positive=True) for name in ("open", "high", "low", "close"))
        volume = _number(row[col["volume"]], "volume", positive=False)
        if h < max(o, c, l) or l > min(o, c):
            raise ValueError(f"high {row[col['high']]} / low {row[col['low']]} do not enclose open and close")
        if "quote_volume" in col:
            quote_volume = _number(row[col["quote_volume"]], "quote volume", positive=False)
            count = float(_integer(row[col["count"]], "trade count"))
        else:  # the simple format has no quote volume: estimated at the close
            quote_volume, count = volume * c, 0.0
        out.times_ms.append(ts_ms - ts_ms % 1000)  # bars are keyed by their starting second
        out.bar_values.extend((o, h, l, c, volume, quote_volume, count))

    return read


def _row_reader(fmt: CsvFormat) -> Callable[[list[str], ParsedHistory], None]:
    return _bar_reader(fmt) if fmt.kind == BARS else _trade_reader(fmt)


# --------------------------------------------------------------------------- detection


def _format_by_header(names: list[str]) -> CsvFormat | None:
    wanted = tuple(name.strip().lower() for name in names)
    return next((fmt for fmt in FORMATS if tuple(n.lower() for n in fmt.header) == wanted), None)


def _format_by_shape(row: list[str]) -> CsvFormat | None:
    """The format whose column count and True/False columns fit a data row."""
    n = len(row)
    if n == 12:
        return KLINES
    if n == 8 and _is_flag(row[6]):
        return SPOT_AGG_TRADES
    if n == 7:
        if _is_flag(row[5]):
            return SPOT_TRADES
        if _is_flag(row[6]):
            return FUTURES_AGG_TRADES
    if n == 6:
        return FUTURES_TRADES if _is_flag(row[5]) else SIMPLE_BARS
    return None


def _unknown_format(line: int, columns: int) -> HistoryImportError:
    known = "; ".join(f"{fmt.name} ({fmt.columns} columns)" for fmt in FORMATS)
    return HistoryImportError(f"unrecognised CSV layout with {columns} column{'s' * (columns != 1)}; "
                              f"expected one of: {known}", line)


def _decode(data: bytes | str, file_name: str) -> str:
    if isinstance(data, str):
        return data
    if data[:4] == b"PK\x03\x04":
        data = _unzip(data, file_name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HistoryImportError(f"the file is not UTF-8 text (byte {exc.start}); upload a CSV file") from None


def _unzip(data: bytes, file_name: str) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) != 1:
                raise HistoryImportError(f"{file_name}: a zip file must hold exactly one CSV file, "
                                         f"this one holds {len(members)}")
            return archive.read(members[0])
    except zipfile.BadZipFile:
        raise HistoryImportError(f"{file_name}: damaged zip file") from None


# --------------------------------------------------------------------------- the parser


def parse_history(data: bytes | str, file_name: str = "", symbol: str | None = None,
                  on_progress: Callable[[float], None] | None = None) -> ParsedHistory:
    """Parse and validate a whole file; raise ``HistoryImportError`` at the first bad line.

    ``symbol`` defaults to the one in a Binance dump file name (``BTCUSDT-trades-2024-01-01.csv``).
    ``on_progress`` is called with the fraction of the file read so far (0..1), every
    ``PROGRESS_EVERY_ROWS`` rows. Blank lines are skipped.
    """
    symbol = (symbol or symbol_from_file_name(file_name) or "").strip().upper()
    if not symbol:
        raise HistoryImportError("no symbol: name the file like BTCUSDT-trades-2024-01-01.csv or choose the symbol")
    if not re.fullmatch(r"[A-Z0-9]{2,30}", symbol):
        raise HistoryImportError(f"symbol {symbol!r} is not a Binance symbol (letters and digits, e.g. BTCUSDT)")
    text = _decode(data, file_name)
    total_chars = max(len(text), 1)
    reader = csv.reader(io.StringIO(text))
    parsed: ParsedHistory | None = None
    read_row: Callable[[list[str], ParsedHistory], None] | None = None
    chars_per_row = 0.0
    for row in reader:
        line = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if parsed is None:
            parsed = _start(row, line, symbol, file_name)
            read_row = _row_reader(parsed.format)
            if parsed.header:
                continue
            chars_per_row = (len(",".join(row)) + 1)
        if len(row) != parsed.format.columns:
            raise HistoryImportError(f"expected {parsed.format.columns} columns ({parsed.format.name}), "
                                     f"found {len(row)}", line)
        try:
            read_row(row, parsed)
        except ValueError as exc:
            raise HistoryImportError(str(exc), line) from None
        parsed.rows += 1
        if on_progress is not None and parsed.rows % PROGRESS_EVERY_ROWS == 0:
            on_progress(min(parsed.rows * chars_per_row / total_chars, 0.99))
    if parsed is None or parsed.rows == 0:
        raise HistoryImportError("the file holds no data rows")
    if on_progress is not None:
        on_progress(1.0)
    return parsed


def _start(first_row: list[str], line: int, symbol: str, file_name: str) -> ParsedHistory:
    """Detect the format from the first non-blank row (a header, or the first data row)."""
    first = first_row[0].strip()
    has_header = not (_is_integer(first) or (len(first) >= 10 and first[:4].isdigit() and first[4] == "-"))
    if has_header:
        fmt = _format_by_header(first_row)
        if fmt is None:
            same_width = [f for f in FORMATS if f.columns == len(first_row)] or list(FORMATS)
            raise HistoryImportError(
                f"header {_quote(','.join(first_row))} matches no known format; expected "
                + " or ".join(f"{','.join(f.header)} ({f.name})" for f in same_width), line)
    else:
        fmt = _format_by_shape(first_row)
        if fmt is None:
            raise _unknown_format(line, len(first_row))
        if fmt.header_required:
            raise HistoryImportError(f"a {fmt.name} file starts with the header {','.join(fmt.header)}", line)
    named_kind = _kind_from_file_name(file_name)
    if named_kind is not None and named_kind != fmt.kind:
        raise HistoryImportError(f"the file name says {_describe_kind(named_kind)} but the columns are those of "
                                 f"{fmt.name}", line)
    return ParsedHistory(format=fmt, symbol=symbol, header=has_header)


def _describe_kind(kind: str) -> str:
    return {"trade": "trades", "aggTrade": "aggTrades", BARS: "klines"}[kind]


def check_fits_database(parsed: ParsedHistory, market: str, stream: str) -> None:
    """Refuse trades whose ids are of another kind or market than the database's.

    A database keyed on trade ids must not receive aggregate ids (the numbers would collide and
    mean different things), and a spot database must not receive futures trades. Bars fit any
    database. Raises HistoryImportError with what to do instead.
    """
    fmt = parsed.format
    if fmt.kind == BARS:
        return
    if fmt.kind != stream:
        ids = "aggregate trade ids" if fmt.kind == "aggTrade" else "individual trade ids"
        raise HistoryImportError(
            f"this is a {fmt.name} file ({ids}) but the database stores {market} {stream} data; "
            f"upload {market} {_describe_kind(stream)} files here, or import this file into another database")
    if fmt.market != market:
        raise HistoryImportError(
            f"this is a {fmt.name} file but the database stores {market} {stream} data; "
            f"upload {market} files here")
