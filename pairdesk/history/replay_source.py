"""A tick database of this product as a replay source: its stored trades, per symbol, in id order.

The local exchange (`pairdesk.sim`) replays a database through this module, so that it reads the
database only through `pairdesk.store`'s readers (all SQL lives in the store). Trades come as the
same ``(symbol, trade_id, ts_ms, price, qty, is_buyer_maker)`` tuples that
`ParsedHistory.trade_chunks` yields for a parsed dump, so one converter serves both sources.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pairdesk import store
from pairdesk.history import HistoryImportError
from pairdesk.markets import SPOT, TRADE

PAGE_TRADES = 10_000  # trades read per keyset page: bounded memory whatever the database's size

TradeRow = tuple[str, int, int, float, float, bool]


@dataclass(frozen=True)
class StoredTrades:
    """A tick database's market and stream kind; iterating it walks its trades (see `iter_stored_trades`)."""

    path: Path | str  # a SQLite file, or a PostgreSQL URL
    market: str
    stream: str  # "trade": ids are trade ids; "aggTrade": ids are aggregate ids

    def __iter__(self) -> Iterator[TradeRow]:
        return iter_stored_trades(self.path)


def read_stored_trades(path: str | Path) -> StoredTrades:
    """The database at `path` as a replay source; HistoryImportError (one line) when it is no tick database.

    A database without a market or stream in its metadata is taken as spot trades.
    """
    conn = _open(path)
    try:
        meta = store.read_metadata(conn)
    finally:
        conn.close()
    return StoredTrades(source_path(path), meta.get("market", SPOT), meta.get("stream", TRADE))


@dataclass(frozen=True)
class TapeEnd:
    """Where a tick database's tape ends: its market and stream, and each symbol's last stored trade
    (id, exchange time ms, price), for a local exchange that continues the same tape."""

    market: str
    stream: str
    last: dict[str, tuple[int, int, float]]


def source_path(text: str | Path) -> str | Path:
    """A replay source as given: a PostgreSQL database's URL stays a string (``Path`` would fold its
    ``//``), anything else is a path."""
    return text if store.is_url(text) else Path(text)


def tape_end(path: str | Path) -> TapeEnd:
    """The end of the tape stored at ``path``; HistoryImportError (one line) when it is no tick database."""
    conn = _open(path)
    try:
        meta = store.read_metadata(conn)
        last = {}
        for symbol in store.list_symbols(conn):
            last_id = store.last_trade_id(conn, symbol)
            if last_id is None:
                continue
            (_, ts_ms, price, _, _), = store.read_trade_page(conn, symbol, last_id - 1, last_id, 1)
            last[symbol] = (last_id, ts_ms, price)
    finally:
        conn.close()
    return TapeEnd(meta.get("market", SPOT), meta.get("stream", TRADE), last)


def iter_stored_trades(path: str | Path, page_size: int = PAGE_TRADES) -> Iterator[TradeRow]:
    """Every stored trade, symbol by symbol (sorted), each symbol's in trade id order, `page_size` per read."""
    conn = _open(path)
    try:
        for symbol in store.list_symbols(conn):
            last_id = store.last_trade_id(conn, symbol)
            after_id = -1  # ids are never negative
            while last_id is not None:
                page = store.read_trade_page(conn, symbol, after_id, last_id, page_size)
                for trade_id, ts_ms, price, qty, maker in page:
                    yield symbol, trade_id, ts_ms, price, qty, bool(maker)
                if len(page) < page_size:
                    break
                after_id = page[-1][0]
    finally:
        conn.close()


def _open(path: str | Path):  # returns a store reader connection
    try:
        return store.open_reader(path)
    except store.StoreError as exc:
        raise HistoryImportError(str(exc)) from None
