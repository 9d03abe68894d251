"""History files in, validated typed rows out: one parser for every Binance dump layout.

Import (``importer``), the dashboard's and the API's uploads, and the simulator's replay all read
files through it. Pure: bytes in, typed chunks (numpy columns) or a ``HistoryImportError`` naming
the problem and the line out; no database, no Streamlit.

- ``open_history`` / ``iter_history``: stream a file of any size (path, bytes or binary file
  object; zip or csv) as TradeChunk / BarChunk / QuoteChunk / FundingChunk in bounded memory;
  ``scan_history`` validates one without keeping it.
- ``parse_history``: a whole upload-sized file in memory as one ``ParsedHistory``.
- ``check_fits_database``: trades of the database's market and id kind only; bookTicker and
  fundingRate dumps into futures databases only.

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
futures bookTicker     7     update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,
                             transaction_time,event_time (USD-M daily; rows may be out of order;
                             a crossed book, bid above ask, is a bad row)
futures fundingRate    3     calc_time,funding_interval_hours,last_funding_rate (header required;
                             USD-M monthly; no mark price)
=====================  ====  ======================================================================

A ``.zip`` holding one CSV (as data.binance.vision serves them) is read transparently.
Trades files become trades (their ids are trade ids or aggregate ids: ``kind``); klines and
simple bars become bars, stored only where no bar exists; bookTicker updates become one-second
quote bars (``quote_folding``: the one quote-bar rule behind a bounded reorder buffer); fundingRate
rows become settled funding rates.

Modules: ``formats`` (the layouts as data, detection, file names), ``exact`` (the rules row by
row: the definition), ``fast`` (the same rules a block at a time with pandas and numpy),
``reader`` (streaming), ``chunks`` (what is handed out), ``parsed`` (the in-memory whole),
``quote_folding`` (updates into quote bars), ``storing`` (chunks into the store), ``importer``
(verify, check, store).
"""
from __future__ import annotations

from pairdesk.history.chunks import BarChunk, Chunk, FundingChunk, QuoteChunk, TradeChunk
from pairdesk.history.errors import HistoryImportError
from pairdesk.history.exact import EARLIEST_MS, LATEST_MS, MICROSECONDS_ABOVE
from pairdesk.history.formats import (
                                      BARS,
                                      FORMATS,
                                      FUNDING,
                                      FUTURES_AGG_TRADES,
                                      FUTURES_BOOK_TICKER,
                                      FUTURES_FUNDING,
                                      FUTURES_TRADES,
                                      KLINES,
                                      QUOTES,
                                      SIMPLE_BARS,
                                      SPOT_AGG_TRADES,
                                      SPOT_TRADES,
                                      TRADE_KINDS,
                                      CsvFormat,
                                      stored_unit,
                                      symbol_from_file_name,
)
from pairdesk.history.parsed import ParsedHistory, check_fits_database, parse_history
from pairdesk.history.reader import (
                                      BLOCK_BYTES,
                                      HistoryReader,
                                      HistorySummary,
                                      Source,
                                      iter_history,
                                      open_history,
                                      scan_history,
)

__all__ = [
    "BARS", "BLOCK_BYTES", "EARLIEST_MS", "FORMATS", "FUNDING", "FUTURES_AGG_TRADES", "FUTURES_BOOK_TICKER",
    "FUTURES_FUNDING", "FUTURES_TRADES", "KLINES", "LATEST_MS", "MICROSECONDS_ABOVE", "QUOTES", "SIMPLE_BARS",
    "SPOT_AGG_TRADES", "SPOT_TRADES", "TRADE_KINDS", "BarChunk", "Chunk", "CsvFormat", "FundingChunk",
    "HistoryImportError", "HistoryReader", "HistorySummary", "ParsedHistory", "QuoteChunk", "Source", "TradeChunk",
    "check_fits_database", "iter_history", "open_history", "parse_history", "scan_history", "stored_unit",
    "symbol_from_file_name",
]
