"""Copying one tick database into another, on either backend (SQLite -> PostgreSQL and back).

Everything the data contract names is copied: the ``meta`` record, trades, bars (the bar rows
verbatim: open / close trade, id range, the ``-1`` ids of uploaded bars), quotes, marks, funding,
quote gaps, feed status, gaps, collection, alert rules and events, the watchlist, hourly summaries,
scans and their results, each keeping its own ids (gap_id, rule_id, event_id, scan_id). Symbol
ids are the one thing not copied: each database numbers its symbols, so rows are mapped by the
symbol's name.

- **Exact**: values go from one driver to the other as Python ints and floats (8-byte doubles on
  both sides; PostgreSQL's COPY receives Python's ``repr``, every digit), never through rounding.
- **Bounded**: every table is read in keyset pages by its primary key (never OFFSET, never whole),
  and each page is written in one transaction: big tables (``BIG_TABLES``) only where the key is
  not stored yet (``ON CONFLICT DO NOTHING``; on PostgreSQL through COPY into a staging table,
  ``pg_trades.insert_staged``, trades' day partitions created first), small ones upserted
  (``SMALL_TABLES``). Bars are copied as rows, never rebuilt from trades (uploaded bars exist only
  as bars) and never merged twice; each page of bars takes a fresh revision on the target, so a
  reader following revisions there sees them.
- **Resumable**: an interrupted copy run again continues each big table from the target's largest
  key per symbol (pages commit in key order, so everything below it is there) and upserts the small
  tables again; it ends with the same result. A target that holds other data is refused.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pairdesk.store import pg_trades
from pairdesk.store.atomic import atomic
from pairdesk.store.bulk import insert_new_rows
from pairdesk.store.database import open_reader, open_writer, read_metadata, set_meta
from pairdesk.store.dialect import display_name, is_postgres, is_url
from pairdesk.store.errors import StoreError
from pairdesk.store.ownership import claim_ownership
from pairdesk.store.partitions import days_of
from pairdesk.store.schema import SCHEMA_VERSION
from pairdesk.store.trades import _next_rev, _SymbolIds

COPY_BATCH_ROWS = 50_000
COPY_LOCK = 7_140_003  # advisory lock key on a PostgreSQL target: one copy into it at a time
NOT_COPIED_META = ("schema_version", "trade_partitions")  # each backend records its own


@dataclass(frozen=True)
class Table:
    """A table as the copy sees it: its primary key, its other columns, and how it is copied.

    ``by_symbol``: keyed (sym_id, *key), read and resumed per symbol, sym_id mapped by name;
    ``fresh_rev``: a ``rev`` column the target numbers itself; ``identity``: a column PostgreSQL
    generates, whose sequence is moved past the copied ids."""

    name: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    by_symbol: bool = False
    fresh_rev: bool = False
    identity: str | None = None

    @property
    def copied(self) -> tuple[str, ...]:
        """The columns read from the source and compared, key first (no sym_id, no rev)."""
        return (*self.key, *self.columns)

    def column_list(self, names: tuple[str, ...]) -> str:
        return ", ".join(f'"{name}"' for name in names)  # quoted: "window", "rows" are keywords


BIG_TABLES = (
    Table("trade_rows", ("trade_id",), ("ts_ms", "price", "qty", "is_buyer_maker"), by_symbol=True),
    Table("bar_rows", ("ts_ms",), ("open", "high", "low", "close", "volume", "quote_volume", "trades", "open_ts_ms",
                                   "open_id", "close_ts_ms", "close_id", "min_id", "max_id"),
          by_symbol=True, fresh_rev=True),
    Table("quote_rows", ("ts_ms",), ("bid", "ask", "bid_qty", "ask_qty", "mean_spread", "max_spread", "updates"),
          by_symbol=True),
    Table("mark_rows", ("ts_ms",), ("mark", "index_price", "funding_rate", "next_funding_ms"), by_symbol=True),
)
SMALL_TABLES = (
    Table("funding", ("symbol", "funding_time_ms"), ("rate", "mark_price")),
    Table("quote_gaps", ("symbol", "from_ms"), ("to_ms", "reason")),
    Table("feed_status", ("symbol",), ("state", "transport", "last_trade_ms", "last_trade_id", "last_message_ms",
                                       "updated_ms", "messages", "trades", "bad_frames", "reconnects", "open_gaps",
                                       "message_rate", "detail", "last_error", "duplicates", "duplicate_rate")),
    Table("gaps", ("gap_id",), ("symbol", "from_id", "to_id", "found_ms", "reason", "status", "filled_ms",
                                "filled_count", "method", "detail"), identity="gap_id"),
    Table("collection", ("symbol",), ("paused", "paused_ms", "changed_ms", "backfill")),
    Table("alert_rules", ("rule_id",), ("name", "kind", "symbols", "timeframe", "window", "hedge", "params",
                                        "cooldown_s", "enabled", "created_ms", "updated_ms", "data_ms", "state",
                                        "notify"), identity="rule_id"),
    Table("alert_events", ("event_id",), ("ts_ms", "rule_id", "kind", "value", "threshold", "direction", "message",
                                          "rule_name", "symbols", "timeframe", "detected_ms", "acknowledged_ms",
                                          "delivery"), identity="event_id"),
    Table("watchlist", ("symbol",), ("updated_ms",)),
    Table("hourly_summaries", ("symbols", "timeframe", "hour_ms"), ("stats", "computed_ms")),
    Table("scans", ("scan_id",), ("requested_ms", "finished_ms", "status", "pid", "timeframe", "lookback_ms",
                                  "params", "symbols", "data_from_ms", "data_to_ms", "pairs", "error"),
          identity="scan_id"),
    Table("scan_results", ("scan_id", "rank"), ("symbol_a", "symbol_b", "p_value", "q_value", "significant",
                                                "fdr_level", "stable", "half_life", "half_life_low", "half_life_high",
                                                "half_life_ok", "return_corr", "zscore", "beta", "alpha",
                                                "johansen_rank", "p_a_on_b", "p_b_on_a", "eg_statistic",
                                                "p_first_half", "p_second_half", "spread_vol_bps",
                                                "expected_move_bps", "round_trip_bps", "covers_cost", "score",
                                                "rows", "last_ms", "reason")),
)
TABLES = BIG_TABLES + SMALL_TABLES


@dataclass
class CopyResult:
    """What one run wrote: rows added to the big tables (new keys only), rows of the small ones upserted."""

    added: int = 0
    refreshed: int = 0


class CopyStopped(Exception):
    """The copy was asked to stop and did, after a committed chunk; the message says how far it got."""


# on_progress(table, symbol or "", rows done, rows in all): after each committed chunk.
ProgressCallback = Callable[[str, str, int, int], None]


def read_page(conn, table: Table, after: tuple | None, limit: int, sym_id: int | None = None) -> list[tuple]:
    """Up to ``limit`` rows (``table.copied`` columns) after the key ``after`` (None: from the first),
    by key: one page of a keyset walk; of one symbol's rows for a ``by_symbol`` table."""
    clauses, params = [], []
    if table.by_symbol:
        clauses.append("sym_id = ?")
        params.append(sym_id)
    if after is not None:
        keys = table.column_list(table.key)
        clauses.append(f"({keys}) > ({', '.join('?' * len(table.key))})" if len(table.key) > 1 else f"{keys} > ?")
        params += after
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return conn.execute(f"SELECT {table.column_list(table.copied)} FROM {table.name}{where} "
                        f"ORDER BY {table.column_list(table.key)} LIMIT ?", [*params, int(limit)]).fetchall()


def walk(conn, table: Table, limit: int, sym_id: int | None = None, after: tuple | None = None) -> Iterator[list]:
    """Every page of ``table`` (of one symbol's rows) after ``after``, by key (``read_page``)."""
    while True:
        page = read_page(conn, table, after, limit, sym_id)
        if not page:
            return
        yield page
        after = page[-1][:len(table.key)]


def symbol_ids(conn) -> dict[str, int]:
    """{symbol: sym_id} of a database."""
    return dict(conn.execute("SELECT symbol, sym_id FROM symbols"))


def count_rows(conn, table: Table, sym_id: int | None = None) -> int:
    where, params = (" WHERE sym_id = ?", [sym_id]) if sym_id is not None else ("", [])
    return conn.execute(f"SELECT count(*) FROM {table.name}{where}", params).fetchone()[0]


def copied_meta(conn) -> dict[str, str]:
    """The ``meta`` record a copy carries over (market, stream, source, created_ms, ...)."""
    return {key: value for key, value in read_metadata(conn).items() if key not in NOT_COPIED_META}


class DatabaseCopy:
    """A copy of the database ``src`` into ``dst`` (a path or a URL each): ``open`` checks both,
    ``run`` copies, ``close`` ends it. ``source`` and ``target`` are the two connections."""

    def __init__(self, src: str | Path, dst: str | Path) -> None:
        self.src, self.dst = src, dst
        self.source = self.target = self._ownership = None

    def open(self) -> DatabaseCopy:
        """Open the source read-only and the target as a writer for the source's market and stream.

        StoreError (one line) when they are one database, the source is no tick database or is at
        another schema version, the target holds another market (``StoreMismatch``), is being
        written by another process, or holds data not copied from this source. Nothing is written
        to a refused target."""
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def _open(self) -> None:
        src, dst = self.src, self.dst
        if _same_database(src, dst):
            raise StoreError(f"{display_name(src)}: --from and --to name the same database")
        self.source = open_reader(src)
        meta = read_metadata(self.source)
        if "market" not in meta or "stream" not in meta:
            raise StoreError(f"{display_name(src)}: the database records no market / stream yet; nothing to copy")
        if int(meta["schema_version"]) != SCHEMA_VERSION:
            raise StoreError(f"{display_name(src)}: schema version {meta['schema_version']}, this program's is "
                             f"{SCHEMA_VERSION}; open it once with this program's ingestor to migrate it, then copy")
        if not is_url(dst):
            try:
                self._ownership = claim_ownership(dst, "copy")  # no ingestor writes it while we do
            except OSError as exc:
                raise StoreError(f"{dst}: cannot write there ({exc.strerror})") from None
        self.target = open_writer(dst, meta["market"], meta["stream"])  # source: copied with the meta record
        if is_postgres(self.target) and not self.target.execute("SELECT pg_try_advisory_lock(?)",
                                                                (COPY_LOCK,)).fetchone()[0]:
            raise StoreError(f"{display_name(dst)}: another copy is writing into it; wait for it to finish")
        target_created = read_metadata(self.target).get("created_ms")
        if target_created != meta.get("created_ms") and _holds_data(self.target):
            raise StoreError(f"{display_name(dst)}: already holds data that was not copied from {display_name(src)}; "
                             "copy into a new database")

    def run(self, batch_rows: int = COPY_BATCH_ROWS, on_progress: ProgressCallback | None = None,
            should_stop: Callable[[], bool] = lambda: False) -> CopyResult:
        """Copy everything, ``batch_rows`` rows per committed chunk; returns what was written.

        ``should_stop`` is asked after each chunk: True raises CopyStopped (what is committed stays,
        and a new run continues from there). Database errors propagate (``database_errors()``)."""
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        report = on_progress or (lambda *_: None)
        with atomic(self.target):
            for key, value in copied_meta(self.source).items():
                set_meta(self.target, key, value)
            ids = _SymbolIds(self.target)
            mapping = {src_id: (symbol, ids.get(symbol)) for symbol, src_id in sorted(symbol_ids(self.source).items())}
        result = CopyResult()
        for table in BIG_TABLES:
            result.added += self._copy_big(table, mapping, batch_rows, report, should_stop)
        for table in SMALL_TABLES:
            result.refreshed += self._copy_small(table, batch_rows, report, should_stop)
        return result

    def _copy_big(self, table: Table, mapping: dict[int, tuple[str, int]], batch_rows: int,
                  report: ProgressCallback, should_stop: Callable[[], bool]) -> int:
        """Copy each symbol's rows of ``table`` after the target's largest key of that symbol; returns the rows."""
        total, done = count_rows(self.source, table), count_rows(self.target, table)
        report(table.name, "", min(done, total), total)
        written = 0
        for src_id, (symbol, dst_id) in mapping.items():
            last = self.target.execute(f"SELECT max({table.key[0]}) FROM {table.name} WHERE sym_id = ?",
                                       (dst_id,)).fetchone()[0]
            for page in walk(self.source, table, batch_rows, src_id, None if last is None else (last,)):
                with atomic(self.target):
                    _insert_new(self.target, table, dst_id, page)
                written, done = written + len(page), done + len(page)
                report(table.name, symbol, min(done, total), total)
                _stop_if_asked(should_stop, table, symbol, done, total)
        return written

    def _copy_small(self, table: Table, batch_rows: int, report: ProgressCallback,
                    should_stop: Callable[[], bool]) -> int:
        """Upsert every row of ``table``; on PostgreSQL move its id sequence past the copied ids. Returns the rows."""
        total, done = count_rows(self.source, table), 0
        report(table.name, "", 0, total)
        for page in walk(self.source, table, batch_rows):
            with atomic(self.target):
                _upsert(self.target, table, page)
            done += len(page)
            report(table.name, "", done, total)
            _stop_if_asked(should_stop, table, "", done, total)
        if table.identity and is_postgres(self.target):  # setval(NULL) of an empty table does nothing
            self.target.execute(f"SELECT setval(pg_get_serial_sequence('{table.name}', '{table.identity}'), "
                                f"max({table.identity})) FROM {table.name}")
        return done

    def close(self) -> None:
        for conn in (self.source, self.target):
            if conn is not None:
                conn.close()
        if self._ownership is not None:
            self._ownership.release()
        self.source = self.target = self._ownership = None

    def __enter__(self) -> DatabaseCopy:
        return self.open()

    def __exit__(self, *exc_info) -> None:
        self.close()


def open_copy(src: str | Path, dst: str | Path) -> DatabaseCopy:
    """The copy of ``src`` into ``dst``, opened (``DatabaseCopy.open``) when its ``with`` block starts:
    ``with store.open_copy(a, b) as job: job.run()``."""
    return DatabaseCopy(src, dst)


def _same_database(src: str | Path, dst: str | Path) -> bool:
    if is_url(src) or is_url(dst):
        return str(src) == str(dst)
    return Path(src).resolve() == Path(dst).resolve()


def _holds_data(conn) -> bool:
    """Whether any copied table of ``conn`` has a row."""
    return any(conn.execute(f"SELECT 1 FROM {table.name} LIMIT 1").fetchone() for table in TABLES)


def _stop_if_asked(should_stop: Callable[[], bool], table: Table, symbol: str, done: int, total: int) -> None:
    if should_stop():
        where = f"{table.name} {symbol}".strip()
        raise CopyStopped(f"stopped after a committed chunk of {where} ({done:,} of {total:,} rows)")


def _insert_new(conn, table: Table, sym_id: int, page: list[tuple]) -> None:
    """Store one page of a big table's rows for the target's ``sym_id`` where the key is not stored
    yet (caller holds the transaction); bars take a fresh revision."""
    names = ("sym_id", *table.copied, *(("rev",) if table.fresh_rev else ()))
    tail: tuple = ()
    if table.fresh_rev:
        tail = (pg_trades.bar_rev(conn, sym_id) if is_postgres(conn) else _next_rev(conn),)
    if is_postgres(conn) and table.name == "trade_rows":
        ts_at = table.copied.index("ts_ms")
        conn.partitions.ensure(days_of(row[ts_at] for row in page))
    insert_new_rows(conn, table.name, names, [(sym_id, *row, *tail) for row in page])


def _upsert(conn, table: Table, page: list[tuple]) -> None:
    """Store one page of a small table's rows, replacing the rows of the same keys (caller holds the transaction)."""
    updates = ", ".join(f'"{name}" = excluded."{name}"' for name in table.columns)
    conn.executemany(f"INSERT INTO {table.name} ({table.column_list(table.copied)}) "
                     f"VALUES ({', '.join('?' * len(table.copied))}) "
                     f"ON CONFLICT ({table.column_list(table.key)}) DO UPDATE SET {updates}", page)

