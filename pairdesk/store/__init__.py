"""The store: every line of SQL in the product, behind one facade.

``from pairdesk import store`` and call ``store.<name>``; the modules behind it, one idea each:

- ``errors``     StoreError, StoreMismatch, WriterBusy, database_errors() (either driver's errors)
- ``dialect``    a path (SQLite) or a URL (PostgreSQL), and the little SQL that differs
- ``postgres``   the PostgreSQL connection (psycopg 3) the store's SQL runs on unchanged
- ``pg_schema``  the schema on PostgreSQL (baseline at version 9, then numbered migrations)
- ``partitions`` day partitions of ``trade_rows`` on PostgreSQL, created ahead of need
- ``pg_trades``  COPY into a staging table, merged once; bar revisions in commit order
- ``atomic``     ``atomic(conn)``: a transaction that nests (savepoints inside)
- ``schema``     numbered migrations; the version is read inside the write transaction
- ``database``   open_writer / open_reader / write_session, the metadata record
- ``ownership``  one writer per database: the live ingestor's claim on the file
- ``trades``     trades and their one-second bars, written together
- ``writer``     TradeWriter, the ingestor's batching writer thread
- ``readers``    trades and bars out (tuples, or DataFrames with pandas imported lazily)
- ``feed``       feed status rows and the gaps log
- ``desk``       the watchlist and hourly summaries
- ``collection`` symbols paused for the ingestor, and the rule of pausing and resuming them
- ``alert_rows`` alert rules and events as rows
- ``quotes``     quote bars, mark prices, settled funding and quote gaps
- ``scans``      the pair scanner's results, and the one-close-per-bar reader it reads through
- ``copying``    one database copied into another (either backend): exact, in committed chunks, resumable
- ``copy_verify`` a copy checked: per table and per symbol, counts, key sums and a digest of every row

The store deals in rows and imports no domain code (only ``pairdesk.markets``).
"""
from __future__ import annotations

from pairdesk.markets import MARKETS, STREAM_KINDS
from pairdesk.store.alert_rows import (
                                       ALERT_RULE_FIELDS,
                                       ALERT_RULES_SEEDED_KEY,
                                       acknowledge_alert_events,
                                       delete_alert_rule,
                                       insert_alert_rule,
                                       last_alert_event_id,
                                       read_alert_events,
                                       read_alert_rule_rows,
                                       read_rule_firings,
                                       save_alert_progress,
                                       seed_alert_rules,
                                       set_alert_delivery,
                                       set_alert_rule_enabled,
                                       update_alert_rule,
)
from pairdesk.store.atomic import atomic, data_version, snapshot, transaction
from pairdesk.store.collection import (
                                       CollectionError,
                                       CollectionRow,
                                       choose_symbols,
                                       paused_symbols,
                                       read_collection,
                                       set_collection,
)
from pairdesk.store.copy_verify import CopyCheck, CopySummary, verify_copy
from pairdesk.store.copying import COPY_BATCH_ROWS, CopyStopped, DatabaseCopy, open_copy
from pairdesk.store.database import (
                                       BUSY_TIMEOUT_MS,
                                       DEFAULT_SOURCE,
                                       database_exists,
                                       now_ms,
                                       open_reader,
                                       open_writer,
                                       open_writer_as_recorded,
                                       read_metadata,
                                       recorded_metadata,
                                       write_session,
)
from pairdesk.store.desk import (
                                       add_to_watchlist,
                                       followed_symbols,
                                       read_hourly_summaries,
                                       read_refusals,
                                       read_rest_url,
                                       read_watchlist,
                                       record_refusals,
                                       record_rest_url,
                                       replace_watchlist,
                                       write_hourly_summaries,
)
from pairdesk.store.dialect import display_name, is_url
from pairdesk.store.errors import StoreError, StoreMismatch, WriterBusy, database_errors
from pairdesk.store.feed import (
                                       STATUS_COLUMNS,
                                       close_gap,
                                       count_missing,
                                       delete_status,
                                       list_open_gaps,
                                       open_gap,
                                       read_feed_status,
                                       read_gap_spans,
                                       read_gaps,
                                       record_paused_gap,
                                       set_gap_detail,
                                       upsert_status,
)
from pairdesk.store.ownership import Owner, Ownership, claim_ownership, owner_file, read_owner
from pairdesk.store.quotes import (
                                       FUNDING_COLUMNS,
                                       MARK_COLUMNS,
                                       QUOTE_COLUMNS,
                                       QUOTE_GAP_COLUMNS,
                                       count_quotes,
                                       last_funding_ms,
                                       last_mark_ms,
                                       last_quote_ms,
                                       quote_ms_before,
                                       quote_time_range,
                                       read_funding,
                                       read_marks,
                                       read_quote_gaps,
                                       read_quotes,
                                       read_standing_quotes,
                                       record_quote_gap,
                                       store_funding,
                                       store_marks,
                                       store_quote_bars,
)
from pairdesk.store.readers import (
                                       BAR_COLUMNS,
                                       TRADE_COLUMNS,
                                       bar_bounds_by_symbol,
                                       bar_time_range,
                                       last_trade_id,
                                       list_symbols,
                                       read_bars_1s,
                                       read_bars_since,
                                       read_recent_bars,
                                       read_symbol_extents,
                                       read_trade_page,
                                       read_trades,
                                       trade_id_bounds,
)
from pairdesk.store.scans import (
                                       KEEP_SCANS,
                                       SCAN_FIELDS,
                                       SCAN_RESULT_COLUMNS,
                                       begin_scan,
                                       claim_scan,
                                       fail_scan,
                                       finish_scan,
                                       latest_scan,
                                       read_closes,
                                       read_scan_results,
                                       read_scans,
)
from pairdesk.store.schema import MIGRATIONS, SCHEMA_VERSION, migrate
from pairdesk.store.trades import (
                                       BatchResult,
                                       TradeTuple,
                                       store_bars,
                                       store_history,
                                       store_trades,
                                       write_bars,
                                       write_trades,
)
from pairdesk.store.writer import FLUSH_INTERVAL_MS, MAX_BATCH_TRADES, TradeWriter

__all__ = [
    "MARKETS", "STREAM_KINDS", "ALERT_RULE_FIELDS", "ALERT_RULES_SEEDED_KEY", "acknowledge_alert_events",
    "delete_alert_rule", "insert_alert_rule", "last_alert_event_id", "read_alert_events", "read_alert_rule_rows",
    "read_rule_firings", "save_alert_progress", "seed_alert_rules", "set_alert_delivery", "set_alert_rule_enabled", "update_alert_rule",
    "database_errors", "database_exists", "display_name", "is_url", "atomic", "data_version", "snapshot", "transaction", "set_gap_detail", "BUSY_TIMEOUT_MS", "DEFAULT_SOURCE", "now_ms", "open_reader", "open_writer",
    "open_writer_as_recorded", "read_metadata", "recorded_metadata", "write_session", "read_hourly_summaries", "read_watchlist", "add_to_watchlist",
    "followed_symbols", "read_refusals", "read_rest_url", "record_refusals", "record_rest_url",
    "replace_watchlist", "write_hourly_summaries", "StoreError", "StoreMismatch", "WriterBusy", "STATUS_COLUMNS",
    "close_gap", "count_missing", "delete_status", "list_open_gaps", "open_gap", "read_feed_status", "read_gap_spans",
    "read_gaps", "upsert_status", "Owner", "Ownership", "claim_ownership", "owner_file", "read_owner", "BAR_COLUMNS",
    "TRADE_COLUMNS", "bar_bounds_by_symbol", "bar_time_range", "last_trade_id", "list_symbols", "read_bars_1s",
    "read_bars_since", "read_recent_bars", "read_symbol_extents", "read_trade_page", "read_trades", "trade_id_bounds",
    "MIGRATIONS", "SCHEMA_VERSION", "migrate", "BatchResult", "TradeTuple", "store_bars", "store_history",
    "store_trades", "write_bars", "write_trades", "FLUSH_INTERVAL_MS", "MAX_BATCH_TRADES", "TradeWriter",
    "CollectionError", "CollectionRow", "choose_symbols", "paused_symbols", "read_collection", "set_collection",
    "record_paused_gap", "FUNDING_COLUMNS", "MARK_COLUMNS", "QUOTE_COLUMNS", "QUOTE_GAP_COLUMNS", "last_funding_ms",
    "last_quote_ms", "count_quotes", "last_mark_ms", "quote_ms_before", "quote_time_range", "read_funding", "read_marks",
    "read_quote_gaps", "read_quotes", "read_standing_quotes", "record_quote_gap", "store_funding", "store_marks", "store_quote_bars",
    "KEEP_SCANS", "SCAN_FIELDS", "SCAN_RESULT_COLUMNS", "begin_scan", "claim_scan", "fail_scan", "finish_scan",
    "latest_scan", "read_closes", "read_scan_results", "read_scans",
    "COPY_BATCH_ROWS", "CopyCheck", "CopyStopped", "CopySummary", "DatabaseCopy", "open_copy", "verify_copy",
]
