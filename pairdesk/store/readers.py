"""Readers of trades and bars: plain tuples where the ingestor or a CSV stream needs them, DataFrames
(pandas imported lazily: the ingestor never builds one) for the dashboard and the API."""
from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

def read_symbol_extents(conn: sqlite3.Connection) -> list[tuple[str, int, int, int, int]]:
    """(symbol, bars, trades, first_ms, last_ms) of every symbol with bars, by symbol, from the
    one-second bars: ``trades`` counts the trades stored in bars built from trades (uploaded bars
    hold no trades), first_ms / last_ms are the first and last bar starts."""
    return conn.execute(
        "SELECT s.symbol, count(*), coalesce(sum(b.trades) FILTER (WHERE b.min_id >= 0), 0), min(b.ts_ms), "
        "max(b.ts_ms) FROM bar_rows b JOIN symbols s USING (sym_id) GROUP BY s.symbol ORDER BY s.symbol"
    ).fetchall()


def bar_time_range(conn: sqlite3.Connection, symbol: str) -> tuple[int, int] | None:
    """Start of ``symbol``'s first and last one-second bar, or None when it has none."""
    return bar_bounds_by_symbol(conn).get(symbol)


def trade_id_bounds(conn: sqlite3.Connection, symbol: str, start_ms: int | None = None,
                    end_ms: int | None = None) -> tuple[int, int] | None:
    """The smallest and largest trade id stored for ``symbol`` in the bars of [start_ms, end_ms)
    (start_ms's own second included), or None when it has no trades there. Every trade of the
    range has an id in between, whatever the order of ids and times: this is how time ranges are
    read without an index on time."""
    bar_start = None if start_ms is None else int(start_ms) - int(start_ms) % 1000
    where, params = _time_filter(bar_start, end_ms)
    row = conn.execute(
        "SELECT min(min_id), max(max_id) FROM bar_rows "
        f"WHERE sym_id = (SELECT sym_id FROM symbols WHERE symbol = ?) AND max_id >= 0{where}",
        [symbol, *params],
    ).fetchone()
    return None if row[0] is None else (row[0], row[1])


def read_trade_page(conn: sqlite3.Connection, symbol: str, after_id: int, last_id: int, limit: int,
                    start_ms: int | None = None, end_ms: int | None = None) -> list[tuple]:
    """Up to ``limit`` trades (trade_id, ts_ms, price, qty, is_buyer_maker 0/1) of ``symbol`` with
    after_id < trade_id <= last_id and start_ms <= ts_ms < end_ms, by trade id: one page of a
    keyset walk (pass the last trade_id of a page as the next after_id) from ``trade_id_bounds``."""
    where, params = _time_filter(start_ms, end_ms)
    return conn.execute(
        "SELECT trade_id, ts_ms, price, qty, is_buyer_maker FROM trade_rows "
        f"WHERE sym_id = (SELECT sym_id FROM symbols WHERE symbol = ?) AND trade_id > ? AND trade_id <= ?{where} "
        "ORDER BY trade_id LIMIT ?",
        [symbol, int(after_id), int(last_id), *params, int(limit)],
    ).fetchall()


def bar_bounds_by_symbol(conn: sqlite3.Connection) -> dict[str, tuple[int, int]]:
    """{symbol: (first, last one-second bar start)} of every symbol with bars (two index probes each)."""
    rows = conn.execute(
        "SELECT s.symbol, (SELECT min(ts_ms) FROM bar_rows b WHERE b.sym_id = s.sym_id), "
        "(SELECT max(ts_ms) FROM bar_rows b WHERE b.sym_id = s.sym_id) FROM symbols s"
    ).fetchall()
    return {symbol: (first, last) for symbol, first, last in rows if first is not None}


def list_symbols(conn: sqlite3.Connection) -> list[str]:
    """Symbols that have at least one stored bar, upper case, sorted."""
    return [row[0] for row in conn.execute(
        "SELECT symbol FROM symbols s WHERE EXISTS (SELECT 1 FROM bar_rows b WHERE b.sym_id = s.sym_id) "
        "ORDER BY symbol"
    )]


def last_trade_id(conn: sqlite3.Connection, symbol: str) -> int | None:
    """The largest stored trade id of ``symbol``, or None when it has none."""
    row = conn.execute(
        "SELECT max(trade_id) FROM trade_rows WHERE sym_id = (SELECT sym_id FROM symbols WHERE symbol = ?)",
        (symbol,),
    ).fetchone()
    return row[0]


BAR_COLUMNS = ["ts_ms", "open", "high", "low", "close", "volume", "quote_volume", "trades"]


TRADE_COLUMNS = ["trade_id", "ts_ms", "price", "qty", "is_buyer_maker"]


def _frame(rows: list, columns: list[str], ints: Sequence[str], bools: Sequence[str] = ()) -> pd.DataFrame:
    import pandas as pd  # imported here: the ingestor never builds DataFrames and pandas costs ~50 MB

    frame = pd.DataFrame.from_records(rows, columns=columns)
    for column in columns:
        if column in bools:
            frame[column] = frame[column].astype(bool)
        elif column in ints:
            frame[column] = frame[column].astype("int64")
        else:
            frame[column] = frame[column].astype("float64")
    return frame


def _time_filter(start_ms: int | None, end_ms: int | None, column: str = "ts_ms") -> tuple[str, list]:
    clauses, params = [], []
    if start_ms is not None:
        clauses.append(f"{column} >= ?")
        params.append(int(start_ms))
    if end_ms is not None:
        clauses.append(f"{column} < ?")
        params.append(int(end_ms))
    return "".join(f" AND {c}" for c in clauses), params


def read_bars_1s(conn: sqlite3.Connection, symbol: str, start_ms: int | None = None,
                 end_ms: int | None = None) -> pd.DataFrame:
    """One-second bars of ``symbol`` with start_ms <= ts_ms < end_ms, sorted by time.

    Columns: ts_ms (bar start, UTC ms), open, high, low, close, volume, quote_volume (sum of
    price * qty), trades (count). Seconds without trades have no row.
    """
    where, params = _time_filter(start_ms, end_ms)
    rows = conn.execute(
        "SELECT ts_ms, open, high, low, close, volume, quote_volume, trades FROM bar_rows "
        f"WHERE sym_id = (SELECT sym_id FROM symbols WHERE symbol = ?){where} ORDER BY ts_ms",
        [symbol, *params],
    ).fetchall()
    return _frame(rows, BAR_COLUMNS, ints=("ts_ms", "trades"))


def read_bars_since(conn: sqlite3.Connection, symbol: str, after_rev: int) -> tuple[pd.DataFrame, int]:
    """Bars of ``symbol`` written or corrected by batches after ``after_rev``, and the newest rev seen.

    A reader keeps the returned rev and passes it back next time to read only what changed. The
    rows are found through the rev index alone (``+sym_id`` keeps the planner off the symbol's key,
    which would read every bar the symbol ever had): the cost is what changed, whatever the history.
    """
    rows = conn.execute(
        "SELECT ts_ms, open, high, low, close, volume, quote_volume, trades, rev FROM bar_rows "
        "WHERE rev > ? AND +sym_id = (SELECT sym_id FROM symbols WHERE symbol = ?) ORDER BY ts_ms",
        (after_rev, symbol),
    ).fetchall()
    newest = max((row[-1] for row in rows), default=after_rev)
    return _frame([row[:-1] for row in rows], BAR_COLUMNS, ints=("ts_ms", "trades")), newest


def read_trades(conn: sqlite3.Connection, symbol: str, start_ms: int | None = None, end_ms: int | None = None,
                limit: int | None = None) -> pd.DataFrame:
    """Trades of ``symbol`` with start_ms <= ts_ms < end_ms, sorted by trade id.

    Columns: trade_id, ts_ms, price, qty, is_buyer_maker. With ``limit``, the most recent
    ``limit`` trades of the range. Time ranges are found through the bars' id ranges.
    """
    id_range = trade_id_bounds(conn, symbol, start_ms, end_ms)
    if id_range is None:
        return _frame([], TRADE_COLUMNS, ints=("trade_id", "ts_ms"), bools=("is_buyer_maker",))
    where, params = _time_filter(start_ms, end_ms)
    sql = ("SELECT trade_id, ts_ms, price, qty, is_buyer_maker FROM trade_rows "
           f"WHERE sym_id = (SELECT sym_id FROM symbols WHERE symbol = ?) AND trade_id BETWEEN ? AND ?{where}")
    args = [symbol, *id_range, *params]
    if limit is not None:
        sql = f"SELECT * FROM ({sql} ORDER BY trade_id DESC LIMIT ?) AS recent ORDER BY trade_id"
        args.append(int(limit))
    else:
        sql += " ORDER BY trade_id"
    rows = conn.execute(sql, args).fetchall()
    return _frame(rows, TRADE_COLUMNS, ints=("trade_id", "ts_ms"), bools=("is_buyer_maker",))


def _query_frame(conn: sqlite3.Connection, sql: str, params: Sequence = ()) -> pd.DataFrame:
    """The rows of ``sql`` as a DataFrame named by the query's columns (as ``pandas.read_sql_query``
    builds it, on either dialect)."""
    import pandas as pd

    cursor = conn.execute(sql, list(params))
    columns = [d[0] for d in cursor.description]
    return pd.DataFrame.from_records(cursor.fetchall(), columns=columns, coerce_float=True)


def read_recent_bars(conn: sqlite3.Connection, symbol: str, span_ms: int) -> tuple[pd.DataFrame, int]:
    """The last ``span_ms`` of ``symbol``'s one-second bars (up to its newest bar), and the newest rev among them.

    One statement, so one snapshot: pass the rev to ``read_bars_since`` afterwards to follow the
    bars incrementally (bars outside the span that were corrected later come back through it too).
    Returns an empty frame and rev 0 when the symbol has no bars.
    """
    sym = "(SELECT sym_id FROM symbols WHERE symbol = ?)"
    rows = conn.execute(
        "SELECT ts_ms, open, high, low, close, volume, quote_volume, trades, rev FROM bar_rows "
        f"WHERE sym_id = {sym} AND ts_ms >= (SELECT max(ts_ms) FROM bar_rows WHERE sym_id = {sym}) - ? "
        "ORDER BY ts_ms",
        (symbol, symbol, int(span_ms)),
    ).fetchall()
    newest = max((row[-1] for row in rows), default=0)
    return _frame([row[:-1] for row in rows], BAR_COLUMNS, ints=("ts_ms", "trades")), newest

