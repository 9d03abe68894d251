"""Bulk import of Binance's historical dumps into the tick store: ``python data_ingestor.py import FILE...``

Each file is verified (its ``.CHECKSUM`` when one lies beside it), parsed and validated whole by
``history_import`` (spot/futures trades and aggTrades, klines; zip or csv; with or without a
header; ms or µs times), checked against the database's market and stream kind, then stored in
ONE transaction: a broken file stores nothing, and importing a file twice adds nothing (trades are
unique on symbol + id; bars from trades are kept in the same transaction; klines only fill
seconds that have no bar).
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import history_import
import tickstore
from history_import import HistoryImportError

STORE_CHUNK_TRADES = 100_000
DEFAULT_STREAM = {"spot": "trade", "futures": "aggTrade"}


class ImportFailure(Exception):
    """A file that cannot be imported; the message is one line naming the file (and line)."""


@dataclass
class ImportResult:
    file: str
    kind: str
    symbol: str
    rows: int
    new_trades: int = 0
    new_bars: int = 0
    checksum: str = "none beside the file"


def verify_checksum(path: Path, data: bytes) -> str:
    """Check ``<file>.CHECKSUM`` (``<sha256>  <name>``) when it exists; returns what was found."""
    checksum_file = path.with_name(path.name + ".CHECKSUM")
    if not checksum_file.exists():
        return "none beside the file"
    expected = checksum_file.read_text().split()[0].lower() if checksum_file.read_text().split() else ""
    actual = hashlib.sha256(data).hexdigest()
    if expected != actual:
        raise ImportFailure(f"{path}: checksum mismatch: {checksum_file.name} says {expected[:16]}..., "
                            f"the file is {actual[:16]}... (download it again)")
    return "sha256 verified"


def database_kind(db: Path, parsed: history_import.ParsedHistory, market: str | None,
                  stream: str | None) -> tuple[str, str]:
    """(market, stream) of the database; for a new one, from the file or the flags."""
    if db.exists():
        conn = tickstore.open_reader(db)
        try:
            meta = tickstore.read_metadata(conn)
        finally:
            conn.close()
        if "market" in meta:
            return meta["market"], meta["stream"]
    file_market = parsed.format.market
    new_market = file_market or market or "spot"
    new_stream = parsed.kind if parsed.kind in history_import.TRADE_KINDS else (stream or DEFAULT_STREAM[new_market])
    return new_market, new_stream


class Progress:
    """One self-rewriting line on stderr: ``BTCUSDT-trades-2024-01-01.zip: parsing  45%``."""

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


def import_file(db: Path, path: Path, market: str | None = None, stream: str | None = None) -> ImportResult:
    """Import one dump file atomically; ImportFailure with a one-line message otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFailure(f"{path}: cannot read it ({exc.strerror})") from None
    checksum = verify_checksum(path, data)
    progress = Progress(path.name)
    try:
        parsed = history_import.parse_history(data, file_name=path.name,
                                              on_progress=lambda f: progress("parsing", f))
        db_market, db_stream = database_kind(db, parsed, market, stream)
        history_import.check_fits_database(parsed, db_market, db_stream)
    except HistoryImportError as exc:
        progress.done()
        raise ImportFailure(f"{path}: {exc}") from None
    result = ImportResult(path.name, parsed.format.name, parsed.symbol, parsed.rows, checksum=checksum)
    conn = tickstore.open_writer(db, db_market, db_stream)
    try:
        with tickstore.transaction(conn):
            if parsed.kind == history_import.BARS:
                result.new_bars = tickstore.store_bars(conn, parsed.symbol, parsed.bar_rows())
            else:
                chunks = max(1, -(-parsed.rows // STORE_CHUNK_TRADES))
                for number, chunk in enumerate(parsed.trade_chunks(STORE_CHUNK_TRADES), start=1):
                    stored = tickstore.store_history(conn, chunk)
                    result.new_trades += stored.stored
                    result.new_bars += stored.bars
                    progress("storing", number / chunks)
    finally:
        conn.close()
        progress.done()
    return result


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="data_ingestor.py import",
        description="Import Binance historical dump files (data.binance.vision: trades, aggTrades, klines; "
                    ".zip or .csv) into the tick store. Importing a file twice adds nothing.")
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="dump files, e.g. "
                        "BTCUSDT-trades-2024-01-01.zip (the symbol comes from the name)")
    parser.add_argument("--db", type=Path, default=Path("ticks.db"), help="SQLite database file (default: ticks.db)")
    parser.add_argument("--market", choices=("spot", "futures"),
                        help="for a new database filled from klines only (trades files tell their market)")
    parser.add_argument("--stream", choices=("trade", "aggTrade"),
                        help="for a new database filled from klines only (trades files tell their kind)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    for path in args.files:
        try:
            result = import_file(args.db, path, args.market, args.stream)
        except (ImportFailure, tickstore.StoreError) as exc:
            print(f"data_ingestor import: error: {exc}", file=sys.stderr)
            return 2
        added = f"{result.new_trades:,} new trades" if result.new_trades else "no new trades"
        if result.kind in ("klines", "simple bars"):
            added = f"{result.new_bars:,} new bars"
        print(f"{result.file}: {result.kind} of {result.symbol}, {result.rows:,} rows, {added} "
              f"(checksum: {result.checksum})")
    return 0
