"""Executable prices: one-second quote bars, mark prices, settled funding and quote gaps.

- ``quotes_1s(symbol, ts_ms, bid, ask, bid_qty, ask_qty, mean_spread, max_spread, updates)``: the
  last bid, ask and sizes of each second, the time-weighted mean and the largest quoted spread
  (ask - bid, in price units) within it, and how many updates it saw. A second is written once,
  when it is over; a second already stored is never changed (an import of a period the live feed
  covered keeps the live bars), so every write is idempotent.
- ``mark_1s(symbol, ts_ms, mark, index, funding_rate, next_funding_ms)``: USD-M mark price per second.
- ``funding(symbol, funding_time_ms, rate, mark_price)``: each settlement once; ``mark_price`` is
  NULL where the source had none (monthly dumps) until a source that has it (REST) fills it in.
- ``quote_gaps(symbol, from_ms, to_ms, reason)``: periods without quotes (a disconnect, the time
  before start-up). Quotes cannot be fetched back from REST, so a gap is recorded, never filled.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from pairdesk.store.bulk import insert_new_rows
from pairdesk.store.readers import _frame, _time_filter
from pairdesk.store.trades import _SymbolIds

if TYPE_CHECKING:
    import pandas as pd

QUOTE_COLUMNS = ["ts_ms", "bid", "ask", "bid_qty", "ask_qty", "mean_spread", "max_spread", "updates"]
MARK_COLUMNS = ["ts_ms", "mark", "index", "funding_rate", "next_funding_ms"]
FUNDING_COLUMNS = ["funding_time_ms", "rate", "mark_price"]
QUOTE_GAP_COLUMNS = ["symbol", "from_ms", "to_ms", "reason"]

# A quote bar as written: (symbol, ts_ms, bid, ask, bid_qty, ask_qty, mean_spread, max_spread, updates).
QuoteBarTuple = Sequence
# A mark row as written: (symbol, ts_ms, mark, index, funding_rate, next_funding_ms).
MarkTuple = Sequence
# A funding row as written: (symbol, funding_time_ms, rate, mark_price or None).
FundingTuple = Sequence

_SYM = "(SELECT sym_id FROM symbols WHERE symbol = ?)"


def store_quote_bars(conn: sqlite3.Connection, bars: Iterable[QuoteBarTuple]) -> int:
    """Store quote bars of seconds not stored yet, in the caller's transaction; returns how many were new."""
    ids = _SymbolIds(conn)
    rows = [(ids.get(b[0]), int(b[1]), *map(float, b[2:8]), int(b[8])) for b in bars]
    return insert_new_rows(conn, "quote_rows", ("sym_id", "ts_ms", "bid", "ask", "bid_qty", "ask_qty", "mean_spread",
                                                "max_spread", "updates"), rows)


def store_marks(conn: sqlite3.Connection, marks: Iterable[MarkTuple]) -> int:
    """Store mark-price seconds not stored yet, in the caller's transaction; returns how many were new."""
    ids = _SymbolIds(conn)
    rows = [(ids.get(m[0]), int(m[1]), float(m[2]), float(m[3]), float(m[4]), int(m[5])) for m in marks]
    return insert_new_rows(conn, "mark_rows", ("sym_id", "ts_ms", "mark", "index_price", "funding_rate",
                                               "next_funding_ms"), rows)


def store_funding(conn: sqlite3.Connection, rows: Iterable[FundingTuple]) -> int:
    """Store settled funding rates once each, in the caller's transaction; a stored settlement
    without a mark price takes one from a later source that has it. Returns how many were new."""
    new = 0
    for symbol, funding_time_ms, rate, mark_price in rows:
        cursor = conn.execute(
            "INSERT INTO funding (symbol, funding_time_ms, rate, mark_price) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (symbol, int(funding_time_ms), float(rate), None if mark_price is None else float(mark_price)))
        if cursor.rowcount:
            new += 1
        elif mark_price is not None:
            conn.execute("UPDATE funding SET mark_price = ? WHERE symbol = ? AND funding_time_ms = ? "
                         "AND mark_price IS NULL", (float(mark_price), symbol, int(funding_time_ms)))
    return new


def record_quote_gap(conn: sqlite3.Connection, symbol: str, from_ms: int, to_ms: int, reason: str) -> None:
    """Record that ``symbol`` has no quotes in [from_ms, to_ms) (kept as first recorded if repeated)."""
    if to_ms > from_ms:
        conn.execute("INSERT INTO quote_gaps (symbol, from_ms, to_ms, reason) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                     (symbol, int(from_ms), int(to_ms), reason))


def last_quote_ms(conn: sqlite3.Connection, symbol: str) -> int | None:
    """Start of ``symbol``'s newest stored quote second, or None."""
    return conn.execute(f"SELECT max(ts_ms) FROM quote_rows WHERE sym_id = {_SYM}", (symbol,)).fetchone()[0]


def last_funding_ms(conn: sqlite3.Connection, symbol: str) -> int | None:
    """Time of ``symbol``'s newest stored funding settlement, or None."""
    return conn.execute("SELECT max(funding_time_ms) FROM funding WHERE symbol = ?", (symbol,)).fetchone()[0]


def quote_time_range(conn: sqlite3.Connection, symbol: str) -> tuple[int, int] | None:
    """(first, last) start of ``symbol``'s stored quote seconds, or None without any."""
    first, last = conn.execute(f"SELECT min(ts_ms), max(ts_ms) FROM quote_rows WHERE sym_id = {_SYM}",
                               (symbol,)).fetchone()
    return None if first is None else (first, last)


def quote_ms_before(conn: sqlite3.Connection, symbol: str, ts_ms: int) -> int | None:
    """Start of ``symbol``'s newest stored quote second starting before ``ts_ms``, or None (the book
    standing at ``ts_ms`` comes from that second unless a quote gap intervenes)."""
    return conn.execute(f"SELECT max(ts_ms) FROM quote_rows WHERE sym_id = {_SYM} AND ts_ms < ?",
                        (symbol, int(ts_ms))).fetchone()[0]


def read_standing_quotes(conn: sqlite3.Connection, symbol: str, start_ms: int | None,
                         end_ms: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``symbol``'s quote seconds over [start_ms, end_ms) together with the last one before start_ms (the
    book standing at start_ms, unless a gap intervenes), and the quote gaps overlapping that stretch."""
    before = None if start_ms is None else quote_ms_before(conn, symbol, start_ms)
    first = start_ms if before is None else before
    return read_quotes(conn, symbol, first, end_ms), read_quote_gaps(conn, [symbol], first, end_ms)


def count_quotes(conn: sqlite3.Connection, symbol: str, start_ms: int | None = None,
                 end_ms: int | None = None) -> int:
    """How many quote seconds of ``symbol`` are stored with start_ms <= ts_ms < end_ms (a cache's check
    that no older second was added, e.g. by an import, since it last read)."""
    where, params = _time_filter(start_ms, end_ms)
    return conn.execute(f"SELECT count(*) FROM quote_rows WHERE sym_id = {_SYM}{where}", [symbol, *params]).fetchone()[0]


def last_mark_ms(conn: sqlite3.Connection, symbol: str) -> int | None:
    """Start of ``symbol``'s newest stored mark-price second, or None."""
    return conn.execute(f"SELECT max(ts_ms) FROM mark_rows WHERE sym_id = {_SYM}", (symbol,)).fetchone()[0]


def read_quotes(conn: sqlite3.Connection, symbol: str, start_ms: int | None = None,
                end_ms: int | None = None) -> pd.DataFrame:
    """Quote bars of ``symbol`` with start_ms <= ts_ms < end_ms, by time (columns ``QUOTE_COLUMNS``)."""
    where, params = _time_filter(start_ms, end_ms)
    rows = conn.execute(
        "SELECT ts_ms, bid, ask, bid_qty, ask_qty, mean_spread, max_spread, updates FROM quote_rows "
        f"WHERE sym_id = {_SYM}{where} ORDER BY ts_ms", [symbol, *params]).fetchall()
    return _frame(rows, QUOTE_COLUMNS, ints=("ts_ms", "updates"))


def read_marks(conn: sqlite3.Connection, symbol: str, start_ms: int | None = None,
               end_ms: int | None = None) -> pd.DataFrame:
    """Mark-price seconds of ``symbol`` with start_ms <= ts_ms < end_ms, by time (``MARK_COLUMNS``)."""
    where, params = _time_filter(start_ms, end_ms)
    rows = conn.execute(
        "SELECT ts_ms, mark, index_price, funding_rate, next_funding_ms FROM mark_rows "
        f"WHERE sym_id = {_SYM}{where} ORDER BY ts_ms", [symbol, *params]).fetchall()
    return _frame(rows, MARK_COLUMNS, ints=("ts_ms", "next_funding_ms"))


def read_funding(conn: sqlite3.Connection, symbol: str, start_ms: int | None = None,
                 end_ms: int | None = None) -> pd.DataFrame:
    """Settled funding of ``symbol`` with start_ms <= funding_time_ms < end_ms, by time
    (``FUNDING_COLUMNS``; ``mark_price`` NaN where unknown)."""
    where, params = _time_filter(start_ms, end_ms, column="funding_time_ms")
    rows = conn.execute(
        f"SELECT funding_time_ms, rate, mark_price FROM funding WHERE symbol = ?{where} ORDER BY funding_time_ms",
        [symbol, *params]).fetchall()
    return _frame([(t, r, float("nan") if m is None else m) for t, r, m in rows], FUNDING_COLUMNS,
                  ints=("funding_time_ms",))


def _overlap_filter(start_ms: int | None, end_ms: int | None) -> tuple[str, list]:
    """`` AND ...`` clauses keeping spans [from_ms, to_ms) that overlap [start_ms, end_ms)."""
    where, params = "", []
    if start_ms is not None:
        where, params = " AND to_ms > ?", [int(start_ms)]
    if end_ms is not None:
        where, params = where + " AND from_ms < ?", [*params, int(end_ms)]
    return where, params


def read_quote_gaps(conn: sqlite3.Connection, symbols: Sequence[str], start_ms: int | None = None,
                    end_ms: int | None = None) -> pd.DataFrame:
    """Quote gaps of ``symbols`` overlapping [start_ms, end_ms), by start (``QUOTE_GAP_COLUMNS``)."""
    marks = ", ".join("?" for _ in symbols) or "NULL"
    where, params = _overlap_filter(start_ms, end_ms)
    rows = conn.execute(f"SELECT symbol, from_ms, to_ms, reason FROM quote_gaps WHERE symbol IN ({marks}){where} "
                        "ORDER BY from_ms", [*symbols, *params]).fetchall()
    import pandas as pd

    frame = pd.DataFrame.from_records(rows, columns=QUOTE_GAP_COLUMNS)
    return frame.astype({"from_ms": "int64", "to_ms": "int64"})
