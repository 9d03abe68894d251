"""History import throughput and memory: a 2,000,000-row spot trades dump, ours against a naive baseline.

    PYTHONPATH=. .venv/bin/python bench/bench_import.py [--rows N] [--zip]

Both runs import the same generated dump (data.binance.vision layout: increasing ids, µs times
from 2025-01-01, prices like 61234.56, no header) in this one run, each in its own process so
that its peak RSS is its own (``os.wait4``):
- ours: ``data_ingestor.py import`` (checksum, a validating pass, then a storing pass, one
  transaction per chunk, trades and their one-second bars, duplicates skipped);
- naive: pandas ``read_csv`` of the whole file, then one ``executemany`` into a plain trades table
  (no validation, no bars, no duplicate check).
Budgets: ours >= 200,000 trades/s with its bars, peak RSS < 300 MB whatever the file size.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIRST_ID = 4_200_000_000
FIRST_TIME_US = 1_735_689_600_000_000  # 2025-01-01T00:00:00Z
WRITE_ROWS = 100_000  # rows formatted at a time while generating

NAIVE = """
import sqlite3, sys
import pandas as pd
frame = pd.read_csv(sys.argv[1], header=None, usecols=[0, 1, 2, 4, 5])
conn = sqlite3.connect(sys.argv[2])
conn.execute("CREATE TABLE trades (symbol TEXT, trade_id INTEGER, ts_ms INTEGER, price REAL, qty REAL, "
             "is_buyer_maker INTEGER)")
conn.executemany("INSERT INTO trades VALUES ('BTCUSDT', ?, ?, ?, ?, ?)",
                 zip(frame[0].tolist(), (frame[4] // 1000).tolist(), frame[1].tolist(), frame[2].tolist(),
                     frame[5].astype(int).tolist()))
conn.commit()
print(conn.execute("SELECT count(*) FROM trades").fetchone()[0])
"""


def write_spot_trades(path: Path, rows: int, *, first_id: int = FIRST_ID, first_time_us: int = FIRST_TIME_US,
                      header: bool = False, seed: int = 0) -> Path:
    """A spot trades dump as Binance writes it: id,price,qty,quoteQty,time(µs),isBuyerMaker,isBestMatch.

    Ids increase by one; times by 0..20 ms (so a second holds ~100 trades); prices walk by cents
    around 61234.56. Deterministic for a given ``seed``.
    """
    rng = np.random.default_rng(seed)
    price_cents, time_us = 6_123_456, first_time_us
    with open(path, "w", encoding="ascii") as out:
        if header:
            out.write("id,price,qty,quoteQty,time,isBuyerMaker,isBestMatch\n")
        for start in range(0, rows, WRITE_ROWS):
            n = min(WRITE_ROWS, rows - start)
            times = time_us + np.cumsum(rng.integers(0, 20_000, n))
            cents = price_cents + np.cumsum(rng.integers(-3, 4, n))
            qtys = rng.integers(1, 50_000, n) / 100_000
            makers = rng.random(n) < 0.5
            time_us, price_cents = int(times[-1]), int(cents[-1])
            out.writelines(
                f"{first_id + start + i},{c / 100:.2f},{q:.5f},{c * q / 100:.8f},{t},{m},True\n"
                for i, (c, q, t, m) in enumerate(zip(cents.tolist(), qtys.tolist(), times.tolist(),
                                                     makers.tolist())))
    return path


@dataclass
class Run:
    name: str
    rows: int
    wall_s: float
    peak_rss_mb: float
    output: str

    @property
    def rate(self) -> float:
        return self.rows / self.wall_s


def run_measured(name: str, rows: int, argv: list[str]) -> Run:
    """Run a child process to its end; its wall time and its own peak RSS."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    output = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{name} failed with exit status {child.returncode}: {output}")
    return Run(name, rows, wall, usage.ru_maxrss / 1024, output.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--zip", action="store_true", help="import the dump zipped, with its .CHECKSUM")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        dump = write_spot_trades(workdir / "BTCUSDT-trades-2025-01-01.csv", args.rows)
        print(f"generated {args.rows:,} rows ({dump.stat().st_size / 1e6:,.0f} MB) in "
              f"{time.perf_counter() - started:.1f} s")
        naive = run_measured("naive", args.rows, [sys.executable, "-c", NAIVE, str(dump), str(workdir / "naive.db")])
        source = dump
        if args.zip:
            source = dump.with_suffix(".zip")
            with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.write(dump, dump.name)
            digest = hashlib.sha256(source.read_bytes()).hexdigest()
            source.with_name(source.name + ".CHECKSUM").write_text(f"{digest}  {source.name}\n")
        ours = run_measured("ours", args.rows, [sys.executable, str(ROOT / "data_ingestor.py"), "import", "--db",
                                                str(workdir / "ours.db"), str(source)])
    print(f"ours  : {ours.output}")
    print(f"naive : {naive.output} rows in a plain table")
    print(f"{'':30}{'rows/s':>10}{'wall s':>10}{'peak RSS MB':>14}")
    for run in (ours, naive):
        label = ("ours (validated, with bars)" if run is ours else "naive (pandas + executemany)")
        print(f"{label:<30}{run.rate:>10,.0f}{run.wall_s:>10.2f}{run.peak_rss_mb:>14.0f}")
    print(f"ratio ours / naive: {ours.rate / naive.rate:.2f}x rows/s, {ours.peak_rss_mb / naive.peak_rss_mb:.2f}x "
          f"peak RSS   (budgets: ours >= 200,000 rows/s, < 300 MB)")
    return 0 if ours.rate >= 200_000 and ours.peak_rss_mb < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
