"""Bulk import of Binance's historical dumps into the tick store: ``python data_ingestor.py import FILE...``

Each file is verified (its ``.CHECKSUM`` when one lies beside it), parsed and validated whole by
``history_import`` (spot/futures trades and aggTrades, klines; zip or csv; with or without a
header; ms or µs times), checked against the database's market and stream kind, and only then
stored: a broken file stores nothing, and importing a file twice adds nothing (trades are unique
on symbol + id; bars from trades are kept in the same transaction; klines only fill seconds that
have no bar). ``store_parsed`` is the one way a validated file is stored: the dashboard's and the
API's uploads use it too.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pairdesk import history
from pairdesk import store
from pairdesk.history import HistoryImportError

# Trades per write transaction: a running ingestor waits at most for one chunk (it holds its batch
# meanwhile, never drops it), and a file was validated whole before its first chunk is stored.
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
    new_rows: int  # new trades, or new bars for a klines / simple bars file
    checksum: str


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


def database_kind(db: Path, parsed: history.ParsedHistory, market: str | None,
                  stream: str | None) -> tuple[str, str]:
    """(market, stream) of the database; for a new one, from the file or the flags."""
    if db.exists():
        conn = store.open_reader(db)
        try:
            meta = store.read_metadata(conn)
        finally:
            conn.close()
        if "market" in meta:
            return meta["market"], meta["stream"]
    file_market = parsed.format.market
    new_market = file_market or market or "spot"
    new_stream = parsed.kind if parsed.kind in history.TRADE_KINDS else (stream or DEFAULT_STREAM[new_market])
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


def store_parsed(db: str | Path, parsed: history.ParsedHistory, market: str, stream: str,
                 on_progress: Callable[[float], None] | None = None) -> int:
    """Store a validated file into the ``market``/``stream`` database; returns how many trades (or bars) were new.

    Trades go STORE_CHUNK_TRADES per transaction; bars only where no bar exists yet.
    """
    if parsed.kind == history.BARS:
        new = store.write_bars(db, parsed.symbol, parsed.bar_rows(), market, stream)
        if on_progress is not None:
            on_progress(1.0)
        return new
    chunks = max(1, -(-parsed.rows // STORE_CHUNK_TRADES))
    new = 0
    for number, chunk in enumerate(parsed.trade_chunks(STORE_CHUNK_TRADES), start=1):
        new += store.write_trades(db, chunk, market, stream)
        if on_progress is not None:
            on_progress(number / chunks)
    return new


def import_file(db: Path, path: Path, market: str | None = None, stream: str | None = None) -> ImportResult:
    """Import one dump file, validated whole before anything is stored; ImportFailure (one line) otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFailure(f"{path}: cannot read it ({exc.strerror})") from None
    checksum = verify_checksum(path, data)
    progress = Progress(path.name)
    try:
        parsed = history.parse_history(data, file_name=path.name,
                                              on_progress=lambda f: progress("parsing", f))
        db_market, db_stream = database_kind(db, parsed, market, stream)
        history.check_fits_database(parsed, db_market, db_stream)
    except HistoryImportError as exc:
        progress.done()
        raise ImportFailure(f"{path}: {exc}") from None
    try:
        new_rows = store_parsed(db, parsed, db_market, db_stream, lambda f: progress("storing", f))
    finally:
        progress.done()
    return ImportResult(path.name, parsed.format.name, parsed.symbol, parsed.rows, new_rows, checksum)


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
        except (ImportFailure, store.StoreError) as exc:
            print(f"data_ingestor import: error: {exc}", file=sys.stderr)
            return 2
        unit = "bars" if result.kind in ("klines", "simple bars") else "trades"
        added = f"{result.new_rows:,} new {unit}" if result.new_rows else f"no new {unit}"
        print(f"{result.file}: {result.kind} of {result.symbol}, {result.rows:,} rows, {added} "
              f"(checksum: {result.checksum})")
    return 0
