"""Every Binance dump layout as one data record, and how a file's first row tells which it is."""
from __future__ import annotations

import re
from dataclasses import dataclass

from pairdesk.history.errors import HistoryImportError, quote
from pairdesk.markets import AGG_TRADE, BOOK_TICKER, FUTURES, SPOT, STREAM_KINDS, TRADE
from pairdesk.symbols import SYMBOL_PATTERN

TRADE_KINDS = STREAM_KINDS  # ("trade", "aggTrade"): what the ids of a trades file are
BARS = "bars"
QUOTES = BOOK_TICKER  # top-of-book updates, folded into one-second quote bars
FUNDING = "fundingRate"  # settled funding rates


@dataclass(frozen=True)
class CsvFormat:
    """One accepted file layout: what its rows hold and where each field is."""

    name: str
    kind: str  # "trade" (trade ids), "aggTrade" (aggregate ids), "bars", "bookTicker" or "fundingRate"
    market: str | None  # the market a file belongs to (trades, quotes, funding); None for bars (they fit any database)
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
# USD-M daily top-of-book dumps; rows may be out of update-id order. Times are the transaction time.
FUTURES_BOOK_TICKER = CsvFormat(
    "futures bookTicker", QUOTES, FUTURES,
    ("update_id", "best_bid_price", "best_bid_qty", "best_ask_price", "best_ask_qty", "transaction_time",
     "event_time"),
    {"id": 0, "bid": 1, "bid_qty": 2, "ask": 3, "ask_qty": 4, "time": 5, "event_time": 6})
# USD-M monthly funding dumps: one row per settlement, no mark price; told by their header only.
FUTURES_FUNDING = CsvFormat("futures fundingRate", FUNDING, FUTURES,
                            ("calc_time", "funding_interval_hours", "last_funding_rate"),
                            {"time": 0, "interval_hours": 1, "rate": 2}, header_required=True)
FORMATS = (SPOT_TRADES, SPOT_AGG_TRADES, FUTURES_TRADES, FUTURES_AGG_TRADES, KLINES, SIMPLE_BARS,
           FUTURES_BOOK_TICKER, FUTURES_FUNDING)

# data.binance.vision names: BTCUSDT-trades-2024-01-01.csv, BTCUSDT-aggTrades-2024-01.zip,
# BTCUSDT-1m-2024-01-01.csv (klines), BTCUSDT-bookTicker-2024-08-08.zip, BTCUSDT-fundingRate-2024-08.zip.
_FILE_NAME = re.compile(rf"^(?P<symbol>{SYMBOL_PATTERN})-(?P<kind>trades|aggTrades|bookTicker|fundingRate|"
                        r"\d+(?:mo|[smhdwM]))-\d{4}-\d{2}(-\d{2})?(\s*\(\d+\))?\.(csv|zip)$")
_FILE_NAME_KIND = {"trades": TRADE, "aggTrades": AGG_TRADE, "bookTicker": QUOTES, "fundingRate": FUNDING}
_KIND_NAMES = {TRADE: "trades", AGG_TRADE: "aggTrades", BARS: "klines", QUOTES: "bookTicker", FUNDING: "fundingRate"}
# What the store keeps of each kind of file (the unit of "N new ..." messages).
_STORED_UNITS = {TRADE: "trades", AGG_TRADE: "trades", BARS: "bars", QUOTES: "quote seconds",
                 FUNDING: "funding rates"}
_BOOLS = ("true", "false")


def symbol_from_file_name(file_name: str) -> str | None:
    """``BTCUSDT`` from ``BTCUSDT-aggTrades-2026-01-01.csv`` (Binance dump names); None otherwise."""
    match = _FILE_NAME.match(file_name.rsplit("/", 1)[-1])
    return match["symbol"].upper() if match else None


def kind_from_file_name(file_name: str) -> str | None:
    """"trade", "aggTrade", "bars", "bookTicker" or "fundingRate" as a Binance dump name says; None for other names."""
    match = _FILE_NAME.match(file_name.rsplit("/", 1)[-1])
    if not match:
        return None
    return _FILE_NAME_KIND.get(match["kind"], BARS)


def describe_kind(kind: str) -> str:
    """A kind as Binance names its dumps: ``aggTrades``, ``klines``, ``bookTicker``..."""
    return _KIND_NAMES[kind]


def stored_unit(kind: str) -> str:
    """What a file of ``kind`` is stored as, in words: trades, bars, quote seconds or funding rates."""
    return _STORED_UNITS[kind]


def _is_flag(text: str) -> bool:
    return text.strip().lower() in _BOOLS


def _all_numbers(row: list[str]) -> bool:
    try:
        for text in row:
            float(text)
    except ValueError:
        return False
    return True


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
        if _all_numbers(row):
            return FUTURES_BOOK_TICKER
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
