"""Every Binance dump layout as one data record, and how a file's first row tells which it is."""
from __future__ import annotations

import re
from dataclasses import dataclass

from pairdesk.history.errors import HistoryImportError, quote
from pairdesk.markets import AGG_TRADE, FUTURES, SPOT, STREAM_KINDS, TRADE
from pairdesk.symbols import SYMBOL_PATTERN

TRADE_KINDS = STREAM_KINDS  # ("trade", "aggTrade"): what the ids of a trades file are
BARS = "bars"


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


def _trades_format(name: str, kind: str, market: str, header: str, time_col: int, maker_col: int) -> CsvFormat:
    fields = {"id": 0, "price": 1, "qty": 2, "time": time_col, "maker": maker_col}
    if kind == AGG_TRADE:  # the range of trade ids an aggregate covers (read for replays only)
        fields.update(first_id=3, last_id=4)
    return CsvFormat(name, kind, market, tuple(header.split(",")), fields)


SPOT_TRADES = _trades_format("spot trades", TRADE, SPOT, "id,price,qty,quoteQty,time,isBuyerMaker,isBestMatch", 4, 5)
SPOT_AGG_TRADES = _trades_format("spot aggTrades", AGG_TRADE, SPOT,
                                 "aggId,price,qty,firstId,lastId,time,isBuyerMaker,isBestMatch", 5, 6)
FUTURES_TRADES = _trades_format("futures trades", TRADE, FUTURES, "id,price,qty,quote_qty,time,is_buyer_maker", 4, 5)
FUTURES_AGG_TRADES = _trades_format(
    "futures aggTrades", AGG_TRADE, FUTURES,
    "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker", 5, 6)
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
_FILE_NAME = re.compile(rf"^(?P<symbol>{SYMBOL_PATTERN})-(?P<kind>trades|aggTrades|\d+(?:mo|[smhdwM]))"
                        r"-\d{4}-\d{2}(-\d{2})?(\s*\(\d+\))?\.(csv|zip)$")
_FILE_NAME_KIND = {"trades": TRADE, "aggTrades": AGG_TRADE}
_BOOLS = ("true", "false")


def symbol_from_file_name(file_name: str) -> str | None:
    """``BTCUSDT`` from ``BTCUSDT-aggTrades-2026-01-01.csv`` (Binance dump names); None otherwise."""
    match = _FILE_NAME.match(file_name.rsplit("/", 1)[-1])
    return match["symbol"].upper() if match else None


def kind_from_file_name(file_name: str) -> str | None:
    """"trade", "aggTrade" or "bars" as a Binance dump name says; None for other names."""
    match = _FILE_NAME.match(file_name.rsplit("/", 1)[-1])
    if not match:
        return None
    return _FILE_NAME_KIND.get(match["kind"], BARS)


def describe_kind(kind: str) -> str:
    return {TRADE: "trades", AGG_TRADE: "aggTrades", BARS: "klines"}[kind]


def _is_flag(text: str) -> bool:
    return text.strip().lower() in _BOOLS


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


def detect_format(first_row: list[str], line: int, file_name: str) -> tuple[CsvFormat, bool]:
    """(format, whether ``first_row`` is a header) from the first non-blank row of a file.

    A header is a first field that is neither a number nor an ISO date; without one the layout is
    told by the column count and where the True/False columns are. The kind a Binance file name
    states must agree with the columns.
    """
    first = first_row[0].strip()
    has_header = not (first.isdigit() or (len(first) >= 10 and first[:4].isdigit() and first[4] == "-"))
    if has_header:
        fmt = _format_by_header(first_row)
        if fmt is None:
            same_width = [f for f in FORMATS if f.columns == len(first_row)] or list(FORMATS)
            raise HistoryImportError(
                f"header {quote(','.join(first_row))} matches no known format; expected "
                + " or ".join(f"{','.join(f.header)} ({f.name})" for f in same_width), line)
    else:
        fmt = _format_by_shape(first_row)
        if fmt is None:
            raise _unknown_format(line, len(first_row))
        if fmt.header_required:
            raise HistoryImportError(f"a {fmt.name} file starts with the header {','.join(fmt.header)}", line)
    named_kind = kind_from_file_name(file_name)
    if named_kind is not None and named_kind != fmt.kind:
        raise HistoryImportError(f"the file name says {describe_kind(named_kind)} but the columns are those of "
                                 f"{fmt.name}", line)
    return fmt, has_header
