"""The schema: numbered migrations, each applied in the transaction that records its number.

Storage layout (see the README for the byte budget):
- ``trade_rows`` is a WITHOUT ROWID table keyed on (sym_id, trade_id): the key is the only index,
  so a trade costs its record and nothing else. ``trades`` is a view with the symbol's name.
- ``bar_rows`` holds one row per symbol-second with the open/close trade (time, id) so that a late
  or backfilled trade corrects its bar exactly, and the smallest/largest trade id of the second so
  that trades of a time range are found through the bars, without an index on time.
  ``bars_1s`` is a view with the symbol's name.
- ``rev`` on a bar row is the number of the batch that last changed it: a reader that remembers
  the highest rev it has seen reads only the bars that are new or corrected since.
Schema changes are new migrations appended to MIGRATIONS; a landed migration is never edited.
"""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

from pairdesk.store.atomic import atomic
from pairdesk.store.errors import StoreError

log = logging.getLogger(__name__)


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run DDL statements one by one (``executescript`` would commit the caller's transaction)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _migration_1(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE symbols (sym_id INTEGER PRIMARY KEY, symbol TEXT NOT NULL UNIQUE);
        CREATE TABLE trade_rows (
            sym_id INTEGER NOT NULL,
            trade_id INTEGER NOT NULL,
            ts_ms INTEGER NOT NULL,
            price REAL NOT NULL,
            qty REAL NOT NULL,
            is_buyer_maker INTEGER NOT NULL,
            PRIMARY KEY (sym_id, trade_id)
        ) WITHOUT ROWID;
        CREATE VIEW trades AS
            SELECT s.symbol, t.trade_id, t.ts_ms, t.price, t.qty, t.is_buyer_maker
            FROM trade_rows t JOIN symbols s USING (sym_id);
        CREATE TABLE bar_rows (
            sym_id INTEGER NOT NULL,
            ts_ms INTEGER NOT NULL,
            open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL,
            volume REAL NOT NULL, quote_volume REAL NOT NULL, trades INTEGER NOT NULL,
            open_ts_ms INTEGER NOT NULL, open_id INTEGER NOT NULL,
            close_ts_ms INTEGER NOT NULL, close_id INTEGER NOT NULL,
            min_id INTEGER NOT NULL, max_id INTEGER NOT NULL,
            rev INTEGER NOT NULL,
            PRIMARY KEY (sym_id, ts_ms)
        ) WITHOUT ROWID;
        CREATE INDEX bar_rows_rev ON bar_rows (rev);
        CREATE VIEW bars_1s AS
            SELECT s.symbol, b.ts_ms, b.open, b.high, b.low, b.close, b.volume, b.quote_volume,
                   b.trades
            FROM bar_rows b JOIN symbols s USING (sym_id);
        CREATE TABLE feed_status (
            symbol TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            transport TEXT NOT NULL,
            last_trade_ms INTEGER,
            last_trade_id INTEGER,
            last_message_ms INTEGER,
            updated_ms INTEGER NOT NULL,
            messages INTEGER NOT NULL DEFAULT 0,
            trades INTEGER NOT NULL DEFAULT 0,
            bad_frames INTEGER NOT NULL DEFAULT 0,
            reconnects INTEGER NOT NULL DEFAULT 0,
            open_gaps INTEGER NOT NULL DEFAULT 0,
            message_rate REAL NOT NULL DEFAULT 0,
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE gaps (
            gap_id INTEGER PRIMARY KEY,
            symbol TEXT NOT NULL,
            from_id INTEGER NOT NULL,
            to_id INTEGER NOT NULL,
            found_ms INTEGER NOT NULL,
            reason TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'open',
            filled_ms INTEGER,
            filled_count INTEGER NOT NULL DEFAULT 0,
            method TEXT,
            detail TEXT NOT NULL DEFAULT '',
            UNIQUE (symbol, from_id)
        );
        """
    )


def _migration_2(conn: sqlite3.Connection) -> None:
    """Alert rules and events, the ingestor's watchlist, stored hourly summaries."""
    _run_script(
        conn,
        """
        CREATE TABLE alert_rules (
            rule_id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            symbols TEXT NOT NULL,
            timeframe TEXT NOT NULL,
            window INTEGER NOT NULL,
            hedge TEXT NOT NULL,
            params TEXT NOT NULL DEFAULT '{}',
            cooldown_s REAL NOT NULL DEFAULT 60,
            webhook_url TEXT,
            enabled INTEGER NOT NULL DEFAULT 1,
            created_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL,
            data_ms INTEGER,
            state TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE alert_events (
            event_id INTEGER PRIMARY KEY,
            ts_ms INTEGER NOT NULL,
            rule_id INTEGER NOT NULL,
            kind TEXT NOT NULL,
            value REAL,
            threshold REAL,
            direction TEXT,
            message TEXT NOT NULL,
            rule_name TEXT NOT NULL DEFAULT '',
            symbols TEXT NOT NULL DEFAULT '',
            timeframe TEXT NOT NULL DEFAULT '',
            detected_ms INTEGER NOT NULL,
            acknowledged_ms INTEGER,
            delivery TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX alert_events_ts ON alert_events (ts_ms);
        CREATE INDEX alert_events_rule ON alert_events (rule_id, ts_ms);
        CREATE TABLE watchlist (
            symbol TEXT PRIMARY KEY,
            updated_ms INTEGER NOT NULL
        );
        CREATE TABLE hourly_summaries (
            symbols TEXT NOT NULL,
            timeframe TEXT NOT NULL,
            hour_ms INTEGER NOT NULL,
            stats TEXT NOT NULL,
            computed_ms INTEGER NOT NULL,
            PRIMARY KEY (symbols, timeframe, hour_ms)
        ) WITHOUT ROWID
        """,
    )


def _migration_3(conn: sqlite3.Connection) -> None:
    """Why the feed last failed, for the dashboard ("connection failed: Name or service not known")."""
    conn.execute("ALTER TABLE feed_status ADD COLUMN last_error TEXT NOT NULL DEFAULT ''")


def _migration_4(conn: sqlite3.Connection) -> None:
    """The whole-window "ols" hedge is gone (it used future bars): stored rules follow the causal
    rolling hedge, the chart's default; their evaluation restarts at the newest bar."""
    conn.execute("UPDATE alert_rules SET hedge = 'rolling', state = '{}', "
                 "data_ms = (SELECT max(ts_ms) FROM bar_rows) WHERE hedge = 'ols'")


def _migration_5(conn: sqlite3.Connection) -> None:
    """Collection control: symbols paused (and resumed, with or without a backfill) for the ingestor;
    a gap while paused is recorded with status 'paused'."""
    conn.execute("CREATE TABLE collection (symbol TEXT PRIMARY KEY, paused INTEGER NOT NULL, paused_ms INTEGER, "
                 "changed_ms INTEGER NOT NULL, backfill INTEGER NOT NULL DEFAULT 0)")


def _migration_6(conn: sqlite3.Connection) -> None:
    """Executable prices: one-second quote bars, mark price per second, settled funding, quote gaps.

    Quote and mark rows are keyed like bars (sym_id, second) in WITHOUT ROWID tables: the key is
    the only index. A quote second is written once, when it is over, and never changed.
    """
    _run_script(
        conn,
        """
        CREATE TABLE quote_rows (
            sym_id INTEGER NOT NULL,
            ts_ms INTEGER NOT NULL,
            bid REAL NOT NULL, ask REAL NOT NULL, bid_qty REAL NOT NULL, ask_qty REAL NOT NULL,
            mean_spread REAL NOT NULL, max_spread REAL NOT NULL, updates INTEGER NOT NULL,
            PRIMARY KEY (sym_id, ts_ms)
        ) WITHOUT ROWID;
        CREATE VIEW quotes_1s AS
            SELECT s.symbol, q.ts_ms, q.bid, q.ask, q.bid_qty, q.ask_qty, q.mean_spread, q.max_spread, q.updates
            FROM quote_rows q JOIN symbols s USING (sym_id);
        CREATE TABLE mark_rows (
            sym_id INTEGER NOT NULL,
            ts_ms INTEGER NOT NULL,
            mark REAL NOT NULL, index_price REAL NOT NULL, funding_rate REAL NOT NULL,
            next_funding_ms INTEGER NOT NULL,
            PRIMARY KEY (sym_id, ts_ms)
        ) WITHOUT ROWID;
        CREATE VIEW mark_1s AS
            SELECT s.symbol, m.ts_ms, m.mark, m.index_price AS "index", m.funding_rate, m.next_funding_ms
            FROM mark_rows m JOIN symbols s USING (sym_id);
        CREATE TABLE funding (
            symbol TEXT NOT NULL,
            funding_time_ms INTEGER NOT NULL,
            rate REAL NOT NULL,
            mark_price REAL,
            PRIMARY KEY (symbol, funding_time_ms)
        ) WITHOUT ROWID;
        CREATE TABLE quote_gaps (
            symbol TEXT NOT NULL,
            from_ms INTEGER NOT NULL,
            to_ms INTEGER NOT NULL,
            reason TEXT NOT NULL,
            PRIMARY KEY (symbol, from_ms)
        ) WITHOUT ROWID
        """,
    )


def _migration_7(conn: sqlite3.Connection) -> None:
    """Feed status counts the trades received that were already stored (and their rate): a feed
    whose every trade is a duplicate is not live, whatever its message rate."""
    conn.execute("ALTER TABLE feed_status ADD COLUMN duplicates INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE feed_status ADD COLUMN duplicate_rate REAL NOT NULL DEFAULT 0")


def _migration_8(conn: sqlite3.Connection) -> None:
    """Alert destinations: ``notify``, a JSON list of URLs (apprise's, or plain http(s) webhooks),
    replaces the single ``webhook_url``, which becomes the list's one entry."""
    _run_script(
        conn,
        """
        ALTER TABLE alert_rules ADD COLUMN notify TEXT NOT NULL DEFAULT '[]';
        UPDATE alert_rules SET notify = json_array(trim(webhook_url))
            WHERE webhook_url IS NOT NULL AND trim(webhook_url) != '';
        ALTER TABLE alert_rules DROP COLUMN webhook_url
        """,
    )


def _migration_9(conn: sqlite3.Connection) -> None:
    """The pair scanner's results: one ``scans`` row per scan (its parameters, time and state) and one
    ``scan_results`` row per pair of a finished scan, keyed by (scan_id, rank)."""
    _run_script(
        conn,
        """
        CREATE TABLE scans (
            scan_id INTEGER PRIMARY KEY,
            requested_ms INTEGER NOT NULL,
            finished_ms INTEGER,
            status TEXT NOT NULL,
            pid INTEGER,
            timeframe TEXT NOT NULL,
            lookback_ms INTEGER NOT NULL,
            params TEXT NOT NULL,
            symbols TEXT NOT NULL DEFAULT '[]',
            data_from_ms INTEGER,
            data_to_ms INTEGER,
            pairs INTEGER NOT NULL DEFAULT 0,
            error TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE scan_results (
            scan_id INTEGER NOT NULL, rank INTEGER NOT NULL,
            symbol_a TEXT NOT NULL, symbol_b TEXT NOT NULL,
            p_value REAL, q_value REAL, significant INTEGER NOT NULL, fdr_level REAL NOT NULL, stable INTEGER NOT NULL,
            half_life REAL, half_life_low REAL, half_life_high REAL, half_life_ok INTEGER NOT NULL,
            return_corr REAL, zscore REAL, beta REAL, alpha REAL, johansen_rank INTEGER,
            p_a_on_b REAL, p_b_on_a REAL, eg_statistic REAL, p_first_half REAL, p_second_half REAL,
            spread_vol_bps REAL, expected_move_bps REAL, round_trip_bps REAL, covers_cost INTEGER,
            score INTEGER NOT NULL, rows INTEGER NOT NULL, last_ms INTEGER, reason TEXT NOT NULL,
            PRIMARY KEY (scan_id, rank)
        ) WITHOUT ROWID
        """,
    )


# Numbered migrations: MIGRATIONS[i] brings the schema from user_version i to i + 1.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migration_1, _migration_2, _migration_3, _migration_4,
                                                         _migration_5, _migration_6, _migration_7, _migration_8,
                                                         _migration_9]


SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the missing migrations, each in its own write transaction with the version it sets.

    The version is read inside that transaction (after ``BEGIN IMMEDIATE`` took the write lock),
    so two processes migrating the same new file at once apply each migration exactly once. A file
    already at this program's version needs no lock (no migration ever lowers the version).
    """
    if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:  # SQLite: pg_schema.migrate on PostgreSQL
        return
    while True:
        with atomic(conn):
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"database schema version {version} is newer than this program's "
                                 f"{SCHEMA_VERSION}; upgrade the program")
            if version == SCHEMA_VERSION:
                return
            MIGRATIONS[version](conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
        log.info("database migrated to schema version %d", version + 1)
