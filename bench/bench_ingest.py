"""Ingest throughput: trades/s from a loopback WebSocket to committed rows, against a naive baseline.

    .venv/bin/python bench/bench_ingest.py [--trades-per-symbol N]

Both runs read the same kind of stream from ``exchange_sim.py --blast`` (pre-built frames sent as
fast as the socket takes them), in this one run:
- ours: the real ``data_ingestor.py`` in its own process (parse, queue, one transaction per batch,
  bars kept in the same transaction); rate measured from the first committed row to the last;
- naive: one ``json.loads`` + ``INSERT`` + ``COMMIT`` per trade on a default SQLite file, the way
  the simple versions of this project store trades.
It also prints bytes per stored trade (indexes included) and the ingestor's peak RSS.
Budgets: >= 40,000 trades/s, >= 30x the naive baseline, <= 80 bytes/trade, <= 150 MB peak RSS.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
SYMBOLS = ("BTCUSDT", "ETHUSDT")
NAIVE_TRADES = 4_000


def start_exchange(trades_per_symbol: int, symbols: tuple[str, ...] = SYMBOLS,
                   options: tuple[str, ...] = ()) -> tuple[subprocess.Popen, int]:
    """``exchange_sim.py --blast`` of ``symbols`` (plus ``options``) on a free port; (process, port) once it listens."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "exchange_sim.py"), "--port", "0", "--symbols",
                             ",".join(symbols), "--blast", str(trades_per_symbol), "--log-level", "WARNING",
                             *options], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    return proc, int(line.rsplit(":", 1)[1])


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def count_rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
        try:
            return conn.execute("SELECT count(*) FROM trade_rows").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:  # schema not created yet
        return 0


def bench_ours(trades_per_symbol: int, workdir: Path) -> dict:
    total = trades_per_symbol * len(SYMBOLS)
    exchange, port = start_exchange(trades_per_symbol)
    db = workdir / "ours.db"
    ingestor = subprocess.Popen([sys.executable, str(ROOT / "data_ingestor.py"), "--db", str(db), "--symbols",
                                 ",".join(SYMBOLS), "--ws-url", f"ws://127.0.0.1:{port}", "--rest-url",
                                 f"http://127.0.0.1:{port}", "--log-level", "WARNING"])
    try:
        first_at = first_count = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            count = count_rows(db)
            now = time.monotonic()
            if count and first_at is None:
                first_at, first_count = now, count
            if count >= total:
                break
            time.sleep(0.02)
        done_at = time.monotonic()
        rss = peak_rss_mb(ingestor.pid)
    finally:
        stop(ingestor)
        stop(exchange)
    return {"expected": total, "rate": (count - first_count) / max(1e-9, done_at - first_at), "peak_rss_mb": rss,
            **stored_bytes(db)}


def stored_bytes(db: Path) -> dict:
    """Trades stored in the SQLite file ``db`` and its bytes per trade: the whole file (bars and indexes
    included, after a WAL checkpoint) and the trade table alone (``dbstat``; 0 where SQLite lacks it)."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stored = conn.execute("SELECT count(*) FROM trade_rows").fetchone()[0]
    file_bytes = db.stat().st_size
    try:
        trade_bytes = conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name = 'trade_rows'").fetchone()[0]
    except sqlite3.OperationalError:  # SQLite built without dbstat
        trade_bytes = None
    conn.close()
    return {"stored": stored, "bytes_per_trade_file": file_bytes / stored,
            "bytes_per_trade_table": (trade_bytes or 0) / stored}


async def naive_client(port: int, db: Path, trades: int) -> float:
    """The simple way: one json.loads, one INSERT and one COMMIT per trade (WAL, default synchronous)."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = WAL")  # WAL is kinder to per-trade commits than the default journal
    conn.execute("CREATE TABLE trades (symbol TEXT, trade_id INTEGER, ts_ms INTEGER, price REAL, qty REAL, "
                 "is_buyer_maker INTEGER, UNIQUE (symbol, trade_id))")
    conn.commit()
    streams = "/".join(f"{s.lower()}@trade" for s in SYMBOLS)
    stored, started = 0, None
    async with connect(f"ws://127.0.0.1:{port}/stream?streams={streams}", max_size=2**20) as ws:
        async for raw in ws:
            event = json.loads(raw).get("data", {})
            if event.get("e") != "trade":
                continue
            started = started or time.perf_counter()
            conn.execute("INSERT OR IGNORE INTO trades VALUES (?, ?, ?, ?, ?, ?)",
                         (event["s"], event["t"], event["T"], float(event["p"]), float(event["q"]), event["m"]))
            conn.commit()
            stored += 1
            if stored >= trades:
                break
    conn.close()
    return stored / (time.perf_counter() - started)


def bench_naive(workdir: Path) -> float:
    exchange, port = start_exchange(NAIVE_TRADES)
    try:
        return asyncio.run(naive_client(port, workdir / "naive.db", NAIVE_TRADES))
    finally:
        stop(exchange)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades-per-symbol", type=int, default=250_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        naive_rate = bench_naive(workdir)
        ours = bench_ours(args.trades_per_symbol, workdir)
    ratio = ours["rate"] / naive_rate
    print(f"trades sent                : {ours['expected']:,} ({len(SYMBOLS)} symbols, one connection)")
    print(f"trades stored              : {ours['stored']:,} (every one exactly once: "
          f"{'yes' if ours['stored'] == ours['expected'] else 'NO'})")
    print(f"ingestor, WS -> committed  : {ours['rate']:,.0f} trades/s   (budget >= 40,000)")
    print(f"naive, commit per trade    : {naive_rate:,.0f} trades/s   ({NAIVE_TRADES:,} trades)")
    print(f"ratio                      : {ratio:,.1f}x               (budget >= 30x)")
    print(f"bytes per stored trade     : {ours['bytes_per_trade_file']:.1f} whole file incl. bars and indexes, "
          f"{ours['bytes_per_trade_table']:.1f} trade table   (budget <= 80)")
    print(f"ingestor peak RSS          : {ours['peak_rss_mb']:.0f} MB   (budget <= 150)")
    return 0 if ours["stored"] == ours["expected"] else 1


if __name__ == "__main__":
    sys.exit(main())
