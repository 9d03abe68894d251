"""Bulk import of Binance's historical dumps into the tick store: ``python data_ingestor.py import FILE...``

Each file is verified (its ``.CHECKSUM`` when one lies beside it), then read twice, a block at a
time, in bounded memory whatever its size: first validated whole (spot/futures trades and
aggTrades, klines, USD-M bookTicker and fundingRate; zip or csv; with or without a header; ms or
µs times) and checked against the database's market and stream kind, then stored chunk by chunk.
A broken file stores nothing, and importing a file twice adds nothing (trades are unique on
symbol + id; bars from trades are kept in the same transaction; klines only fill seconds that
have no bar; quote seconds and funding settlements are stored once). ``store_parsed`` is the one
way an in-memory file is stored: the dashboard's and the API's uploads use it.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pairdesk import exit_codes, history, store
from pairdesk.history.checksum import ChecksumMismatch, verify_checksum
from pairdesk.history.errors import HistoryImportError
from pairdesk.history.formats import stored_unit
from pairdesk.history.parsed import HasFormat
from pairdesk.history.storing import STORE_CHUNK_TRADES, Stored, store_file, store_parsed
from pairdesk.markets import DEFAULT_STREAM, MARKETS, SPOT, STREAM_KINDS

__all__ = ["STORE_CHUNK_TRADES", "ImportFailure", "ImportResult", "Stored", "database_kind", "import_file", "main",
           "parse_args", "store_parsed", "verify_checksum"]


class ImportFailure(Exception):
    """A file that cannot be imported; the message is one line naming the file (and line)."""


@dataclass
class ImportResult:
    file: str
    kind: str  # the format's name, e.g. "futures bookTicker"
    symbol: str
    rows: int
    new_rows: int  # new trades, bars (klines / simple bars), quote seconds (bookTicker) or funding rates
    checksum: str
    unit: str = "trades"  # what new_rows counts (``formats.stored_unit``)
    stale: int = 0  # bookTicker updates dropped as out of order

    def describe(self) -> str:
        """The line the command prints for this file."""
        added = f"{self.new_rows:,} new {self.unit}" if self.new_rows else f"no new {self.unit}"
        dropped = (f", {self.stale:,} update{'s' * (self.stale != 1)} too far out of order dropped"
                   if self.stale else "")
        return (f"{self.file}: {self.kind} of {self.symbol}, {self.rows:,} rows, {added}{dropped} "
                f"(checksum: {self.checksum})")


def database_kind(db: str | Path, parsed: HasFormat, market: str | None, stream: str | None) -> tuple[str, str]:
    """(market, stream) of the database; for a new one, from the file or the flags."""
    if store.database_exists(db):
        conn = store.open_reader(db)
        try:
            meta = store.read_metadata(conn)
        finally:
            conn.close()
        if "market" in meta:
            return meta["market"], meta["stream"]
    kind = parsed.format.kind
    new_market = parsed.format.market or market or SPOT
    new_stream = kind if kind in history.TRADE_KINDS else (stream or DEFAULT_STREAM[new_market])
    return new_market, new_stream


class Progress:
    """One self-rewriting line on stderr: ``BTCUSDT-trades-2024-01-01.zip: checking  45%``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.shown_at = 0.0

    def __call__(self, stage: str, fraction: float) -> None:
        now = time.monotonic()
        if fraction < 1.0 and now - self.shown_at < 0.2:
            return
        self.shown_at = now
        bar = "#" * int(fraction * 30)
        print(f"\r{self.name}: {stage:<8} [{bar:<30}] {fraction:4.0%}", end="", file=sys.stderr, flush=True)

    def done(self) -> None:
        print(file=sys.stderr)


def import_file(db: str | Path, path: Path, market: str | None = None, stream: str | None = None) -> ImportResult:
    """Import one dump file, validated whole before anything is stored; ImportFailure (one line) otherwise."""
    try:
        checksum = verify_checksum(path)
    except OSError as exc:
        raise ImportFailure(f"{path}: cannot read it ({exc.strerror})") from None
    except ChecksumMismatch as exc:
        raise ImportFailure(f"{path}: {exc}") from None
    progress = Progress(path.name)
    try:
        try:
            summary = history.scan_history(path, on_progress=lambda f: progress("checking", f))
            db_market, db_stream = database_kind(db, summary, market, stream)
            history.check_fits_database(summary, db_market, db_stream)
        except HistoryImportError as exc:
            raise ImportFailure(f"{path}: {exc}") from None
        try:
            with history.open_history(path, on_progress=lambda f: progress("storing", f)) as reader:
                stored = store_file(db, reader, db_market, db_stream)
        except HistoryImportError as exc:  # it was valid a moment ago
            raise ImportFailure(f"{path}: {exc} (the file changed while it was imported; what was stored before "
                                "that line stays: import it again once it is complete)") from None
    finally:
        progress.done()
    return ImportResult(path.name, summary.format.name, summary.symbol, summary.rows, stored.new, checksum,
                        stored_unit(summary.kind), stored.stale)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="data_ingestor.py import",
        description="Import Binance historical dump files (data.binance.vision: trades, aggTrades, klines, "
                    "USD-M bookTicker and fundingRate; .zip or .csv) into the tick store. Importing a file twice "
                    "adds nothing.")
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="dump files, e.g. "
                        "BTCUSDT-trades-2024-01-01.zip (the symbol comes from the name)")
    parser.add_argument("--db", default="ticks.db",
                        help="SQLite database file, or postgresql://user@host/dbname (default: ticks.db)")
    parser.add_argument("--market", choices=MARKETS,
                        help="for a new database filled from klines only (trades, bookTicker and fundingRate "
                             "files tell their market)")
    parser.add_argument("--stream", choices=STREAM_KINDS,
                        help="for a new database filled from klines, bookTicker or fundingRate files only "
                             "(trades files tell their kind)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    for path in args.files:
        try:
            result = import_file(args.db, path, args.market, args.stream)
        except (ImportFailure, store.StoreError) as exc:
            print(f"data_ingestor import: error: {exc}", file=sys.stderr)
            return exit_codes.CONFIG_ERROR
        print(result.describe())
    return exit_codes.OK
