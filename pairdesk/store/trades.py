"""Trades and their one-second bars, written together in the caller's transaction.

A trade as stored: (symbol, trade_id, ts_ms, price, qty, is_buyer_maker). New trades are found
by their ids (a batch may repeat a trade, or repeat what is stored); each new trade is folded into
its bar, so a late or backfilled trade corrects the bar exactly.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pairdesk.store import pg_trades
from pairdesk.store.atomic import atomic
from pairdesk.store.bulk import insert_new_rows
from pairdesk.store.database import open_writer
from pairdesk.store.dialect import greatest, is_postgres, least
from pairdesk.store.partitions import days_of

# A trade as stored: (symbol, trade_id, ts_ms, price, qty, is_buyer_maker).
TradeTuple = Sequence


@dataclass
class BatchResult:
    """What one batch changed: trades offered, trades new to the database, bar rows touched."""

    offered: int = 0
    stored: int = 0
    bars: int = 0


class _SymbolIds:
    """Symbol name <-> small integer id, created on first sight (inside the caller's transaction)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.ids = dict(conn.execute("SELECT symbol, sym_id FROM symbols"))

    def get(self, symbol: str) -> int:
        sym_id = self.ids.get(symbol)
        if sym_id is None:  # new to us; another process (an upload) may have added it meanwhile
            self.conn.execute("INSERT INTO symbols (symbol) VALUES (?) ON CONFLICT DO NOTHING", (symbol,))
            sym_id = self.conn.execute("SELECT sym_id FROM symbols WHERE symbol = ?", (symbol,)).fetchone()[0]
            self.ids[symbol] = sym_id
        return sym_id


_BAR_ROW_COLUMNS = ("sym_id", "ts_ms", "open", "high", "low", "close", "volume", "quote_volume", "trades",
                    "open_ts_ms", "open_id", "close_ts_ms", "close_id", "min_id", "max_id", "rev")


_UPSERT_BAR_TEMPLATE = """
INSERT INTO bar_rows (sym_id, ts_ms, open, high, low, close, volume, quote_volume, trades,
                      open_ts_ms, open_id, close_ts_ms, close_id, min_id, max_id, rev)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (sym_id, ts_ms) DO UPDATE SET
    open = CASE WHEN (excluded.open_ts_ms, excluded.open_id) < (bar_rows.open_ts_ms, bar_rows.open_id)
                THEN excluded.open ELSE bar_rows.open END,
    open_ts_ms = CASE WHEN (excluded.open_ts_ms, excluded.open_id) < (bar_rows.open_ts_ms, bar_rows.open_id)
                THEN excluded.open_ts_ms ELSE bar_rows.open_ts_ms END,
    open_id = CASE WHEN (excluded.open_ts_ms, excluded.open_id) < (bar_rows.open_ts_ms, bar_rows.open_id)
                THEN excluded.open_id ELSE bar_rows.open_id END,
    close = CASE WHEN (excluded.close_ts_ms, excluded.close_id) > (bar_rows.close_ts_ms, bar_rows.close_id)
                THEN excluded.close ELSE bar_rows.close END,
    close_ts_ms = CASE WHEN (excluded.close_ts_ms, excluded.close_id) > (bar_rows.close_ts_ms, bar_rows.close_id)
                THEN excluded.close_ts_ms ELSE bar_rows.close_ts_ms END,
    close_id = CASE WHEN (excluded.close_ts_ms, excluded.close_id) > (bar_rows.close_ts_ms, bar_rows.close_id)
                THEN excluded.close_id ELSE bar_rows.close_id END,
    high = {greatest}(bar_rows.high, excluded.high),
    low = {least}(bar_rows.low, excluded.low),
    volume = bar_rows.volume + excluded.volume,
    quote_volume = bar_rows.quote_volume + excluded.quote_volume,
    trades = bar_rows.trades + excluded.trades,
    min_id = {least}(bar_rows.min_id, excluded.min_id),
    max_id = {greatest}(bar_rows.max_id, excluded.max_id),
    rev = excluded.rev
"""


@lru_cache(maxsize=2)
def _upsert_bar_template(greatest_of: str, least_of: str) -> str:
    return _UPSERT_BAR_TEMPLATE.format(greatest=greatest_of, least=least_of)


def _upsert_bar_sql(conn) -> str:
    """The bar upsert in the connection's dialect (``dialect.greatest`` / ``least``)."""
    return _upsert_bar_template(greatest(conn), least(conn))


def _new_trades(conn: sqlite3.Connection, sym_id: int, trades: list[TradeTuple]) -> list[TradeTuple]:
    """The trades of one symbol not yet stored, once each (a batch may repeat a trade)."""
    by_id = {t[1]: t for t in trades}
    lo, hi = min(by_id), max(by_id)
    stored = conn.execute(
        "SELECT trade_id FROM trade_rows WHERE sym_id = ? AND trade_id BETWEEN ? AND ?", (sym_id, lo, hi)
    ).fetchall()
    for (trade_id,) in stored:
        by_id.pop(trade_id, None)
    return list(by_id.values())


def _bars_of(sym_id: int, trades: list[TradeTuple], rev: int) -> list[tuple]:
    """One-second bar rows (in _UPSERT_BAR's column order) summarising ``trades`` of one symbol."""
    bars: dict[int, list] = {}
    for _symbol, trade_id, ts_ms, price, qty, _maker in trades:
        second = ts_ms - ts_ms % 1000
        bar = bars.get(second)
        key = (ts_ms, trade_id)
        if bar is None:
            bars[second] = [price, price, price, price, qty, price * qty, 1, key, key, trade_id, trade_id]
            continue
        if key < bar[7]:
            bar[0], bar[7] = price, key
        if key > bar[8]:
            bar[3], bar[8] = price, key
        if price > bar[1]:
            bar[1] = price
        if price < bar[2]:
            bar[2] = price
        bar[4] += qty
        bar[5] += price * qty
        bar[6] += 1
        if trade_id < bar[9]:
            bar[9] = trade_id
        if trade_id > bar[10]:
            bar[10] = trade_id
    return [
        (sym_id, second, o, h, l, c, v, qv, n, ok[0], ok[1], ck[0], ck[1], lo, hi, rev)
        for second, (o, h, l, c, v, qv, n, ok, ck, lo, hi) in bars.items()
    ]


def store_trades(conn: sqlite3.Connection, symbol_ids: _SymbolIds, trades: Iterable[TradeTuple], rev: int) -> BatchResult:
    """Store trades not yet in the database and fold them into their bars (caller holds the transaction).

    ``rev`` numbers the bars this batch changes on SQLite (the one writer's batch count); on
    PostgreSQL each symbol's bars take theirs from ``pg_trades.bar_rev`` at commit time instead.
    """
    if is_postgres(conn):
        return _store_trades_pg(conn, symbol_ids, trades)
    per_symbol: dict[str, list[TradeTuple]] = {}
    offered = 0
    for trade in trades:
        per_symbol.setdefault(trade[0], []).append(trade)
        offered += 1
    result = BatchResult(offered=offered)
    for symbol, symbol_trades in per_symbol.items():
        sym_id = symbol_ids.get(symbol)
        fresh = _new_trades(conn, sym_id, symbol_trades)
        if not fresh:
            continue
        conn.executemany(
            "INSERT INTO trade_rows (sym_id, trade_id, ts_ms, price, qty, is_buyer_maker) VALUES (?, ?, ?, ?, ?, ?)",
            [(sym_id, t[1], t[2], t[3], t[4], int(t[5])) for t in fresh],
        )
        bars = _bars_of(sym_id, fresh, rev)
        conn.executemany(_upsert_bar_sql(conn), bars)
        result.stored += len(fresh)
        result.bars += len(bars)
    return result


def _store_trades_pg(conn, symbol_ids: _SymbolIds, trades: Iterable[TradeTuple]) -> BatchResult:
    """``store_trades`` on PostgreSQL: one COPY and one merge for the whole batch (``pg_trades``)."""
    rows = [(t[1], t[2], t[3], t[4], symbol_ids.get(t[0]), int(t[5])) for t in trades]
    result = BatchResult(offered=len(rows))
    if not rows:
        return result
    conn.partitions.ensure_around_now()  # today and the next days exist before their first trade
    conn.partitions.ensure(days_of(row[1] for row in rows))  # and any older day an import brings
    per_symbol: dict[int, list[tuple]] = {}
    for sym_id, trade_id, ts_ms, price, qty in pg_trades.merge_trades(conn, rows):
        per_symbol.setdefault(sym_id, []).append((None, trade_id, ts_ms, price, qty, 0))
    for sym_id in sorted(per_symbol):  # locks in one order: two writers never wait on each other in a cycle
        bars = _bars_of(sym_id, per_symbol[sym_id], pg_trades.bar_rev(conn, sym_id))
        conn.executemany(_upsert_bar_sql(conn), bars)
        result.stored += len(per_symbol[sym_id])
        result.bars += len(bars)
    return result


def _next_rev(conn: sqlite3.Connection) -> int:
    return (conn.execute("SELECT max(rev) FROM bar_rows").fetchone()[0] or 0) + 1


def store_history(conn: sqlite3.Connection, trades: Iterable[TradeTuple]) -> BatchResult:
    """Store trades and fold them into their bars, in the caller's transaction (imports, uploads)."""
    return store_trades(conn, _SymbolIds(conn), trades, _next_rev(conn))


def store_bars(conn: sqlite3.Connection, symbol: str, bars: Iterable[Sequence]) -> int:
    """Store start-labelled OHLCV bars where no bar exists yet, in the caller's transaction.

    ``bars`` rows are (ts_ms, open, high, low, close, volume, quote_volume, trades). Bars built
    from stored trades always win: an uploaded bar never overwrites one. Such bars carry no trade
    ids (min_id = max_id = -1). Returns how many bars were new.
    """
    sym_id = _SymbolIds(conn).get(symbol)
    rev = pg_trades.bar_rev(conn, sym_id) if is_postgres(conn) else _next_rev(conn)
    return insert_new_rows(conn, "bar_rows", _BAR_ROW_COLUMNS,
                           [(sym_id, int(b[0]), *map(float, b[1:7]), int(b[7]), int(b[0]), -1, int(b[0]), -1, -1, -1,
                             rev) for b in bars])


def write_trades(path: str | Path, trades: Iterable[TradeTuple], market: str = "spot", stream: str = "trade",
                 source: str | None = None) -> int:
    """Store trades in one transaction (creating the database); returns how many were new.

    For imports, tests and tools; the live ingestor uses TradeWriter.
    """
    conn = open_writer(path, market, stream, source)
    try:
        with atomic(conn):
            return store_history(conn, trades).stored
    finally:
        conn.close()


def write_bars(path: str | Path, symbol: str, bars: Iterable[Sequence], market: str = "spot", stream: str = "trade",
               source: str | None = None) -> int:
    """``store_bars`` in its own transaction (creating the database); returns how many bars were new."""
    conn = open_writer(path, market, stream, source)
    try:
        with atomic(conn):
            return store_bars(conn, symbol, bars)
    finally:
        conn.close()

