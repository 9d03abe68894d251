"""Quote ingestion: bookTicker updates/s folded into stored one-second quote bars while trades flow,
the slowdown of trade ingestion they cause, and bytes per stored quote-second.

    .venv/bin/python bench/bench_quotes.py [--trades-per-symbol N] [--quotes-per-symbol N]

Three runs of the real ``data_ingestor.py`` against ``exchange_sim.py --blast`` (pre-built frames
sent as fast as the socket takes them, on one spot connection), in this one run:
- trades only (``--no-quotes``, the same trades, no bookTicker frames): the trade rate alone;
- trades with bookTicker frames among them: the trade rate and the quote rate together;
- naive: the same mixed stream into a client that stores every bookTicker update as a row,
  one ``INSERT`` + ``COMMIT`` each (what a simple recorder does).
Then bytes per quote-second: a day of one-second quote bars for two symbols, on disk.
Budgets: >= 20,000 bookTicker updates/s while trades flow, trade ingestion slowed <= 20 %,
<= 80 bytes per stored quote-second (indexes included).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from pairdesk import store  # noqa: E402

SYMBOLS = ("BTCUSDT", "ETHUSDT")
NAIVE_UPDATES = 4_000


def start_exchange(trades: int, quotes: int) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, str(ROOT / "exchange_sim.py"), "--port", "0", "--symbols",
                             ",".join(SYMBOLS), "--blast", str(trades), "--blast-quotes", str(quotes),
                             "--log-level", "WARNING"], stdout=subprocess.PIPE, text=True)
    return proc, int(proc.stdout.readline().rsplit(":", 1)[1])


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def counts(db: Path) -> tuple[int, int]:
    """(trades stored, quote updates stored in quote bars)."""
    if not db.exists():
        return 0, 0
    try:
        conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
        try:
            trades = conn.execute("SELECT count(*) FROM trade_rows").fetchone()[0]
            quotes = conn.execute("SELECT coalesce(sum(updates), 0) FROM quote_rows").fetchone()[0]
            return trades, quotes
        finally:
            conn.close()
    except sqlite3.OperationalError:  # schema not created yet
        return 0, 0


def run_ingestor(trades: int, quotes: int, workdir: Path, name: str, *extra: str) -> dict:
    """Blast ``trades`` (+ ``quotes``) per symbol into the ingestor; rates from first to last stored row."""
    exchange, port = start_exchange(trades, quotes)
    db = workdir / f"{name}.db"
    ingestor = subprocess.Popen([sys.executable, str(ROOT / "data_ingestor.py"), "--db", str(db), "--symbols",
                                 ",".join(SYMBOLS), "--ws-url", f"ws://127.0.0.1:{port}", "--rest-url",
                                 f"http://127.0.0.1:{port}", "--log-level", "WARNING", *extra])
    total_trades = trades * len(SYMBOLS)
    first_at = trades_done_at = None
    first_trades = 0
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            stored_trades, _ = counts(db)
            now = time.monotonic()
            if stored_trades and first_at is None:
                first_at, first_trades = now, stored_trades
            if stored_trades >= total_trades:
                trades_done_at = now
                break
            time.sleep(0.02)
    finally:
        stop(ingestor)  # SIGTERM writes the open quote seconds
        stop(exchange)
    stored_trades, stored_quotes = counts(db)
    elapsed = max(1e-9, (trades_done_at or time.monotonic()) - first_at)
    return {"trades": stored_trades, "quotes": stored_quotes, "elapsed": elapsed,
            "trade_rate": (stored_trades - first_trades) / elapsed, "quote_rate": stored_quotes / elapsed}


async def naive_client(port: int, db: Path, updates: int) -> float:
    """The simple way: every bookTicker update one json.loads, one INSERT, one COMMIT."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE book (symbol TEXT, u INTEGER, ts_ms INTEGER, bid REAL, bid_qty REAL, ask REAL, "
                 "ask_qty REAL)")
    conn.commit()
    streams = "/".join(f"{s.lower()}@{k}" for s in SYMBOLS for k in ("trade", "bookTicker"))
    stored, started = 0, None
    async with connect(f"ws://127.0.0.1:{port}/stream?streams={streams}", max_size=2**20) as ws:
        async for raw in ws:
            event = json.loads(raw).get("data", {})
            if "u" not in event:
                continue
            started = started or time.perf_counter()
            conn.execute("INSERT INTO book VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (event["s"], event["u"], int(time.time() * 1000), float(event["b"]), float(event["B"]),
                          float(event["a"]), float(event["A"])))
            conn.commit()
            stored += 1
            if stored >= updates:
                break
    conn.close()
    return stored / (time.perf_counter() - started)


def bytes_per_quote_second(workdir: Path) -> float:
    """A day of one-second quote bars for two symbols (BTC/ETH-like numbers), measured on disk."""
    db = workdir / "day.db"
    conn = store.open_writer(db, "futures", "aggTrade")
    rng = random.Random(1)
    rows = []
    for symbol, price in (("BTCUSDT", 61_800.0), ("ETHUSDT", 2_684.0)):
        for i in range(86_400):
            bid = round(price + rng.gauss(0, 5), 1)
            ask = round(bid + 0.1 * rng.choice((1, 1, 1, 2, 3)), 1)
            rows.append((symbol, 1_723_161_600_000 + i * 1000, bid, ask, round(rng.uniform(0, 10), 3),
                         round(rng.uniform(0, 10), 3), round(rng.uniform(0.1, 0.3), 6), 0.3, rng.randint(1, 200)))
    with store.atomic(conn):
        store.store_quote_bars(conn, rows)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    try:
        size = conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name = 'quote_rows'").fetchone()[0]
    except sqlite3.OperationalError:  # SQLite built without dbstat: the whole file, schema included
        size = db.stat().st_size
    conn.close()
    return size / len(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades-per-symbol", type=int, default=150_000)
    parser.add_argument("--quotes-per-symbol", type=int, default=150_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        alone = run_ingestor(args.trades_per_symbol, 0, workdir, "alone", "--no-quotes")
        mixed = run_ingestor(args.trades_per_symbol, args.quotes_per_symbol, workdir, "mixed")
        exchange, port = start_exchange(NAIVE_UPDATES, NAIVE_UPDATES)
        try:
            naive_rate = asyncio.run(naive_client(port, workdir / "naive.db", NAIVE_UPDATES))
        finally:
            stop(exchange)
        per_second = bytes_per_quote_second(workdir)
    expected_trades = args.trades_per_symbol * len(SYMBOLS)
    expected_quotes = args.quotes_per_symbol * len(SYMBOLS)
    slowdown = 1 - mixed["trade_rate"] / alone["trade_rate"]
    print(f"frames sent (mixed run)       : {expected_trades:,} trades + {expected_quotes:,} bookTicker updates "
          f"({len(SYMBOLS)} symbols, one spot connection)")
    print(f"stored, trades-only run       : {alone['trades']:,} trades (all: {alone['trades'] == expected_trades})")
    print(f"stored, mixed run             : {mixed['trades']:,} trades (all: {mixed['trades'] == expected_trades}), "
          f"{mixed['quotes']:,} updates in quote bars (all: {mixed['quotes'] == expected_quotes})")
    print(f"trade ingestion, trades only  : {alone['trade_rate']:,.0f} trades/s")
    print(f"trade ingestion, with quotes  : {mixed['trade_rate']:,.0f} trades/s   (slowdown {slowdown:.0%}; "
          f"budget <= 20%)")
    print(f"quote ingestion, with trades  : {mixed['quote_rate']:,.0f} bookTicker updates/s   (budget >= 20,000)")
    print(f"naive, commit per update      : {naive_rate:,.0f} updates/s   ({NAIVE_UPDATES:,} updates)")
    print(f"ratio                         : {mixed['quote_rate'] / naive_rate:,.1f}x")
    print(f"bytes per stored quote-second : {per_second:.1f} (quote_rows, key included; budget <= 80)")
    return 0 if mixed["trades"] == expected_trades and mixed["quotes"] == expected_quotes else 1


if __name__ == "__main__":
    sys.exit(main())
