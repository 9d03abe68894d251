"""PostgreSQL against SQLite in the same run: ingest, import, a dashboard refresh, bytes per trade.

    PYTHONPATH=. .venv/bin/python bench/bench_postgres.py [--trades-per-symbol N] [--import-rows N]
                                                          [--days N] [--refreshes N]

A throwaway PostgreSQL 15 server (``tests/pg_server.start_server(durable=True)``: fsync and
synchronous commit on, every commit flushed to disk) serves this run only; SQLite runs as the
product runs it (WAL, synchronous=NORMAL). Each measurement runs both backends, one after the other:

1. ingest: the loopback exchange (``exchange_sim.py --blast``, as bench_ingest.py) into the real
   ``data_ingestor.py`` over 8 symbols: SQLite with one ingestor, PostgreSQL with one and with four
   shards (four processes, each ``--shards 4`` with the same ``--symbols``: each takes an even share
   by its advisory locks; each has an exchange of its own, as a blast goes to one connection, which
   sends it the streams it subscribed); trades/s from the first committed trade to the last, and
   the CPU the run's own processes used meanwhile, in cores: ingestors, exchanges, the server's;
2. import: a 3,000,000-row spot trades dump (bench_import.py's generator, Binance's layout) through
   ``data_ingestor.py import --db``; rows/s over the whole command, checksum to commit;
3. a dashboard refresh on 7 days x 10 symbols of one-second bars (``store.store_bars``, an hour of
   every symbol per transaction, in time order as a live desk would have written them), server side as bench_dashboard.py measures it (``data.load_view``, the live figures and their
   JSON): the first load of the pair, then steady refreshes, each after one second of new trades of
   every symbol was stored; and whether both backends showed the same numbers (PostgreSQL is
   vacuumed and analysed after the bulk fill, as autovacuum would have done over a week of bars);
4. bytes per stored trade, indexes included: PostgreSQL's ``trade_rows`` partitions
   (``pg_total_relation_size``), SQLite's whole file (and its trade table), for the ingested and
   the imported trades; where PostgreSQL misses its budget, heap and index bytes per trade and the
   primary key's leaf density, so the cost of each part is plain.

Budgets (PostgreSQL): one shard >= 40,000 trades/s, four shards >= 2.5x one shard, a refresh
< 250 ms, <= 100 bytes per trade. Each line says "within budget" or "MISSED budget"; the exit status
is 1 only when a count is wrong (a trade lost or stored twice), never for a budget. Where no
PostgreSQL server binaries exist it says why and exits 0.
"""
from __future__ import annotations

# First, as under `streamlit run`: the dashboard package pins OpenBLAS to one thread before numpy loads.
import pairdesk.dashboard  # noqa: F401

# isort: split
import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench import bench_dashboard
from bench.bench_import import Run, run_measured, write_spot_trades
from bench.bench_ingest import peak_rss_mb, start_exchange, stop, stored_bytes
from pairdesk import store
from pairdesk.dashboard import data
from tests import pg_server

ROOT = Path(__file__).resolve().parents[1]
INGEST_SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "LINKUSDT")
SHARDS = 4
# 12.5 model trades per second and symbol, as bench_ingest.py's 25 over two; no requotes (a blast sends none)
EXCHANGE_OPTIONS = ("--rate", str(12.5 * len(INGEST_SYMBOLS)), "--quote-rate", "0")
POLL_S = 0.02
INGEST_DEADLINE_S = 300
DASH_SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "LINKUSDT", "LTCUSDT",
                "DOTUSDT")  # the pair charted is bench_dashboard.SETTINGS': BTCUSDT / ETHUSDT
DASH_FIRST_MS = 1_722_470_400_000  # 2024-08-01 00:00 UTC
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
NEW_TRADES_PER_SECOND = 20  # per symbol, in each second of new trades before a refresh
SEED = 20240801
BUDGET_ONE_SHARD = 40_000
BUDGET_SHARD_SPEEDUP = 2.5
BUDGET_REFRESH_MS = 250.0
BUDGET_BYTES = 100.0


def verdict(ok: bool) -> str:
    return "within budget" if ok else "MISSED budget"


# --------------------------------------------------------------------------- 1. ingest


@dataclass
class IngestRun:
    """One ingest measurement: trades sent and stored, the committed rate, the largest ingestor's peak RSS."""

    label: str
    expected: int
    stored: int = 0
    rate: float = 0.0
    span_s: float = 0.0
    peak_rss_mb: float = 0.0
    cores: dict[str, float] | None = None  # CPU used over the span, in cores: ingestors, exchanges, server
    error: str = ""

    @property
    def exact(self) -> bool:
        return self.stored == self.expected


class Committed:
    """Trades committed so far, counted cheaply while ingestors write: per symbol, the rows above the
    highest id seen at the last poll (exact here: each symbol has one writer, and a blast without
    faults delivers its trades in id order, so committed ids always form a prefix)."""

    def __init__(self) -> None:
        self.seen: dict[int, tuple[int, int]] = {}  # sym_id -> (count, highest trade id)

    def poll(self, conn) -> int:
        for (sym_id,) in conn.execute("SELECT sym_id FROM symbols").fetchall():
            count, top = self.seen.get(sym_id, (0, -1))
            new, new_top = conn.execute("SELECT count(*), max(trade_id) FROM trade_rows WHERE sym_id = ? AND "
                                        "trade_id > ?", (sym_id, top)).fetchone()
            if new:
                self.seen[sym_id] = (count + new, new_top)
        return sum(count for count, _top in self.seen.values())


def cpu_seconds(pid: int, children: bool = False) -> float:
    """CPU time a live process used so far (with ``children``: also its children that ended)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:  # it ended meanwhile
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(postmaster: int | None) -> float:
    """CPU time of a PostgreSQL server so far: the postmaster, its ended children and its live ones."""
    if postmaster is None:
        return 0.0
    live = [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()
            and _parent(int(entry.name)) == postmaster]
    return cpu_seconds(postmaster, children=True) + sum(cpu_seconds(pid) for pid in live)


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, IndexError, ValueError):
        return None


class CpuMeter:
    """CPU used by the ingestors, the exchanges and the server between ``start()`` and ``stop()``, in cores."""

    def __init__(self, ingestors: list[int], exchanges: list[int], postmaster: int | None) -> None:
        self.groups = {"ingestors": lambda: sum(cpu_seconds(pid) for pid in ingestors),
                       "exchanges": lambda: sum(cpu_seconds(pid) for pid in exchanges),
                       "server": lambda: server_cpu_seconds(postmaster)}
        self.started: dict[str, float] = {}
        self.started_at = 0.0

    def start(self) -> None:
        self.started_at = time.monotonic()
        self.started = {name: read() for name, read in self.groups.items()}

    def stop(self) -> dict[str, float]:
        span = max(1e-9, time.monotonic() - self.started_at)
        return {name: (read() - self.started[name]) / span for name, read in self.groups.items()}


def count_trades(db: str) -> int:
    conn = store.open_reader(db)
    try:
        return conn.execute("SELECT count(*) FROM trade_rows").fetchone()[0]
    finally:
        conn.close()


def start_ingestor(db: str, port: int, shards: int, log: Path) -> subprocess.Popen:
    argv = [sys.executable, str(ROOT / "data_ingestor.py"), "--db", db, "--symbols", ",".join(INGEST_SYMBOLS),
            "--ws-url", f"ws://127.0.0.1:{port}", "--rest-url", f"http://127.0.0.1:{port}", "--log-level", "WARNING"]
    if shards > 1:
        argv += ["--shards", str(shards)]
    with open(log, "w") as err:
        return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)


def last_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no output)"


def ingest(label: str, db: str, per_symbol: int, shards: int, workdir: Path, postmaster: int | None = None
           ) -> IngestRun:
    """Blast ``per_symbol`` trades of every symbol into ``shards`` ingestors writing ``db`` (one
    exchange each, started together); the rate from the first committed trade to the last, and the
    CPU used meanwhile (``postmaster``: the PostgreSQL server's, None on SQLite)."""
    run = IngestRun(label, per_symbol * len(INGEST_SYMBOLS))
    with ThreadPoolExecutor(shards) as pool:  # each exchange pre-generates its tape before it listens
        exchanges = list(pool.map(lambda _k: start_exchange(per_symbol, INGEST_SYMBOLS, EXCHANGE_OPTIONS),
                                  range(shards)))
    logs = [workdir / f"{label.replace(' ', '_')}_{k}.log" for k in range(shards)]
    ingestors = [start_ingestor(db, port, shards, logs[k])
                 for k, (_proc, port) in enumerate(exchanges)]
    meter = CpuMeter([proc.pid for proc in ingestors], [proc.pid for proc, _port in exchanges], postmaster)
    try:
        committed, conn = Committed(), None
        first_at = first_count = None
        count, deadline = 0, time.monotonic() + INGEST_DEADLINE_S
        while time.monotonic() < deadline:
            dead = [k for k, proc in enumerate(ingestors) if proc.poll() is not None]
            if dead:
                run.error = f"ingestor {dead[0]} exited with status {ingestors[dead[0]].returncode}: " \
                            f"{last_line(logs[dead[0]])}"
                return run
            if conn is None:
                try:
                    conn = store.open_reader(db)
                except store.StoreError:  # no schema yet
                    time.sleep(POLL_S)
                    continue
            count = committed.poll(conn)
            now = time.monotonic()
            if count and first_at is None:
                first_at, first_count = now, count
                meter.start()
            if count >= run.expected:
                break
            time.sleep(POLL_S)
        else:
            run.error = f"timed out after {INGEST_DEADLINE_S} s with {count:,} of {run.expected:,} trades committed"
        done_at = time.monotonic()
        if first_at is not None:
            run.cores = meter.stop()
        if conn is not None:
            conn.close()
        run.peak_rss_mb = max(peak_rss_mb(proc.pid) for proc in ingestors)
    finally:
        for proc in ingestors:
            stop(proc)
        for proc, _port in exchanges:
            stop(proc)
    run.stored = count_trades(db)
    if first_at is not None:
        run.span_s = done_at - first_at
        run.rate = (count - first_count) / max(1e-9, run.span_s)
    return run


def print_ingest(per_symbol: int, runs: list[IngestRun]) -> None:
    sqlite, one, four = runs
    print(f"\n1. ingest: loopback exchange (blast) -> data_ingestor.py, {len(INGEST_SYMBOLS)} symbols x "
          f"{per_symbol:,} trades = {sqlite.expected:,} trades per run")
    print(f"  {'':28}{'trades/s':>10}{'over s':>8}{'stored':>10}  exactly once  peak RSS MB  "
          f"CPU in cores: ingestors + exchanges + server")
    for run in runs:
        if run.error:
            print(f"  {run.label:<28}not measured: {run.error}")
            continue
        cores = run.cores or {}
        print(f"  {run.label:<28}{run.rate:>10,.0f}{run.span_s:>8.1f}{run.stored:>10,}  "
              f"{'yes' if run.exact else 'NO':<12}  {run.peak_rss_mb:>11.0f}  "
              + " + ".join(f"{value:.2f}" for value in cores.values()) + f" = {sum(cores.values()):.2f}")
    if not one.error:
        print(f"  PostgreSQL one shard: {one.rate:,.0f} trades/s, {verdict(one.rate >= BUDGET_ONE_SHARD)} "
              f"(>= {BUDGET_ONE_SHARD:,})")
        if not sqlite.error:
            print(f"  trades/s, PostgreSQL / SQLite, one ingestor: {one.rate / sqlite.rate:.2f}x")
    if not one.error and not four.error:
        speedup = four.rate / one.rate
        print(f"  four shards / one shard: {speedup:.2f}x, {verdict(speedup >= BUDGET_SHARD_SPEEDUP)} "
              f"(>= {BUDGET_SHARD_SPEEDUP}x; {machine_cpus()} cores here for the exchanges, the ingestors "
              f"and the server)")


def machine_cpus() -> int:
    return len(os.sched_getaffinity(0))


def postmaster_pid(server: pg_server.Server) -> int:
    """The server's postmaster (the first line of its ``postmaster.pid``)."""
    return int((server.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])


# --------------------------------------------------------------------------- 2. import


def print_import(rows: int, dump: Path, runs: list[Run]) -> None:
    sqlite, pg = runs
    print(f"\n2. import: a {rows:,}-row spot trades dump ({dump.stat().st_size / 1e6:,.0f} MB), "
          f"data_ingestor.py import (validated, stored with its bars)")
    print(f"  {'':14}{'rows/s':>10}{'wall s':>9}{'peak RSS MB':>13}")
    for run in runs:
        print(f"  {run.name:<14}{run.rate:>10,.0f}{run.wall_s:>9.1f}{run.peak_rss_mb:>13.0f}")
    print(f"  rows/s, PostgreSQL / SQLite: {pg.rate / sqlite.rate:.2f}x (no budget; bench_import.py's for SQLite: "
          f">= 200,000)")
    print(f"  {pg.output}")


# --------------------------------------------------------------------------- 3. dashboard refresh


class Tape:
    """One-second bars of every DASH_SYMBOLS symbol over ``days``, the same at every run, handed out
    in time order an hour of every symbol at a time (so bar revisions grow with time across symbols,
    as under a live ingestor): prices on one shared random-walk factor plus noise of their own (the
    pairs stay cointegrated), 1 to 60 trades a second. Then seconds of new trades continuing them."""

    def __init__(self, days: int) -> None:
        self.days = days
        self.factor_rng = np.random.default_rng(SEED)
        self.rngs = [np.random.default_rng((SEED, n)) for n in range(len(DASH_SYMBOLS))]
        self.level = 0.0  # the factor at the end of the last hour handed out
        self.close = [100.0 * (n + 1) for n in range(len(DASH_SYMBOLS))]

    def hours(self) -> Iterator[list[tuple[str, list[tuple]]]]:
        """Each hour: (symbol, its 3,600 bar rows for ``store.store_bars``) of every symbol."""
        for hour in range(self.days * 24):
            ts = DASH_FIRST_MS + hour * HOUR_MS + np.arange(HOUR_MS // 1000, dtype=np.int64) * 1000
            factor = self.level + np.cumsum(self.factor_rng.normal(0, 1.2e-4, len(ts)))
            self.level = float(factor[-1])
            chunk = []
            for n, (symbol, rng) in enumerate(zip(DASH_SYMBOLS, self.rngs)):
                close = np.round(100.0 * (n + 1) * np.exp((1.0 - 0.05 * n) * factor + rng.normal(0, 2e-4, len(ts))), 4)
                opened = np.concatenate(([self.close[n]], close[:-1]))
                wick = np.abs(rng.normal(0, 1e-4, (2, len(ts))))
                high, low = np.maximum(opened, close) * (1 + wick[0]), np.minimum(opened, close) * (1 - wick[1])
                volume = np.round(rng.lognormal(0, 1, len(ts)), 5)
                trades = rng.integers(1, 61, len(ts))
                self.close[n] = float(close[-1])
                chunk.append((symbol, list(zip(ts.tolist(), opened.tolist(), high.tolist(), low.tolist(),
                                               close.tolist(), volume.tolist(), (volume * close).tolist(),
                                               trades.tolist()))))
            yield chunk

    def second_of_trades(self, k: int) -> list[tuple]:
        """The ``k``-th second of new trades after the bars: NEW_TRADES_PER_SECOND per symbol, ids from 1,
        prices walking on from each symbol's last close (the same for every call with this ``k``)."""
        rng = np.random.default_rng((SEED, len(DASH_SYMBOLS), k))
        second_ms = DASH_FIRST_MS + self.days * DAY_MS + k * 1000
        trades = []
        for n, symbol in enumerate(DASH_SYMBOLS):
            times = np.sort(rng.integers(0, 1000, NEW_TRADES_PER_SECOND))
            prices = np.round(self.close[n] * (1 + np.cumsum(rng.normal(0, 2e-5, NEW_TRADES_PER_SECOND))), 4)
            trades += [(symbol, k * NEW_TRADES_PER_SECOND + i + 1, second_ms + int(t), float(p), 0.01, bool(i % 2))
                       for i, (t, p) in enumerate(zip(times.tolist(), prices.tolist()))]
        return trades


def fill_bars(dbs: list[str], tape: Tape) -> list[float]:
    """The tape's bars into each database, one transaction per hour of every symbol; seconds each
    took. Every symbol's feed is then "live". On PostgreSQL the tables are vacuumed and analysed, as
    autovacuum would have done while a week of bars came in (not timed)."""
    writers = [store.open_writer(db, "spot", "trade") for db in dbs]
    took = [0.0] * len(dbs)
    try:
        for chunk in tape.hours():
            for k, conn in enumerate(writers):
                started = time.perf_counter()
                with store.transaction(conn):
                    for symbol, rows in chunk:
                        store.store_bars(conn, symbol, rows)
                took[k] += time.perf_counter() - started
        last_ms = DASH_FIRST_MS + tape.days * DAY_MS - 1000
        for conn in writers:
            with store.transaction(conn):
                for symbol in DASH_SYMBOLS:
                    store.upsert_status(conn, symbol, state="live", last_trade_ms=last_ms)
    finally:
        for conn in writers:
            conn.close()
    for db in dbs:
        if store.is_url(db):
            import psycopg

            with psycopg.connect(db, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
    return took


@dataclass
class Refreshes:
    """One backend's refreshes: the first load, then steady ones (total and data layer, ms)."""

    name: str
    first_ms: float
    first_data_ms: float
    steady_ms: list[float]
    data_ms: list[float]
    view: data.PairView


def time_refreshes(name: str, db: str, tape: Tape, refreshes: int) -> Refreshes:
    """The first load of the pair (its caches empty), then ``refreshes`` steady refreshes, each after
    one second of new trades of every symbol was stored."""
    handle = data.describe_database(db)
    first: list[tuple[float, float]] = []
    started = time.perf_counter()
    bench_dashboard.incremental_refresh(handle, bench_dashboard.SETTINGS, first)
    first_ms = (time.perf_counter() - started) * 1000
    steady, parts = [], []
    for k in range(refreshes):
        store.write_trades(db, tape.second_of_trades(k))
        started = time.perf_counter()
        view, _payload = bench_dashboard.incremental_refresh(handle, bench_dashboard.SETTINGS, parts)
        steady.append((time.perf_counter() - started) * 1000)
    return Refreshes(name, first_ms, first[0][0], steady, [part[0] for part in parts], view)


def warm_up(workdir: Path) -> None:
    """One refresh on a tiny database, so the first load measured is the read, not Python's first calls."""
    db = str(workdir / "warm.db")
    for _hour, chunk in zip(range(2), Tape(1).hours()):
        for symbol, rows in chunk:
            if symbol in bench_dashboard.SETTINGS.pair:
                store.write_bars(db, symbol, rows)
    bench_dashboard.incremental_refresh(data.describe_database(db), bench_dashboard.SETTINGS)


def same_numbers(a: data.PairView, b: data.PairView) -> bool:
    """Whether two views charted the same panel and candles (equal times, values within 1e-9)."""
    frames = [(a.panel, b.panel)] + [(a.candles[s], b.candles[s]) for s in a.settings.pair]
    for left, right in frames:
        if list(left.columns) != list(right.columns) or len(left) != len(right):
            return False
        for column in left.columns:
            x, y = left[column].to_numpy("float64"), right[column].to_numpy("float64")
            if not np.allclose(x, y, rtol=1e-9, atol=0, equal_nan=True):
                return False
    return True


def print_refreshes(days: int, fill_s: list[float], runs: list[Refreshes]) -> None:
    s = bench_dashboard.SETTINGS
    bars = days * DAY_MS // 1000 * len(DASH_SYMBOLS)
    print(f"\n3. dashboard refresh, server side: {days} days x {len(DASH_SYMBOLS)} symbols of 1 s bars "
          f"({bars:,} bars, written in {fill_s[0]:.0f} s to SQLite, {fill_s[1]:.0f} s to PostgreSQL); "
          f"{'/'.join(s.pair)}, {s.timeframe} bars, {s.lookback} lookback, {s.hedge_label}")
    print(f"  {'':12}{'first load ms':>14}{'(data layer)':>14}{'steady median ms':>18}{'(data layer)':>14}"
          f"{'worst ms':>10}")
    for run in runs:
        median = statistics.median(run.steady_ms)
        print(f"  {run.name:<12}{run.first_ms:>14.0f}{run.first_data_ms:>14.0f}{median:>18.1f}"
              f"{statistics.median(run.data_ms):>14.1f}{max(run.steady_ms):>10.1f}   a refresh "
              f"{verdict(median < BUDGET_REFRESH_MS)} (< {BUDGET_REFRESH_MS:.0f} ms; the first load has none, "
              "as in bench_dashboard.py)")
    sqlite, pg = runs
    print(f"  ({len(pg.steady_ms)} steady refreshes, each after one second of {NEW_TRADES_PER_SECOND} trades x "
          f"{len(DASH_SYMBOLS)} symbols was stored; data layer = data.load_view, the rest is figures + JSON; "
          f"the first load reads the pair's last 26 h of bars)")
    ratio = statistics.median(pg.steady_ms) / statistics.median(sqlite.steady_ms)
    print(f"  steady refresh time, PostgreSQL / SQLite: {ratio:.2f}x; same numbers on both backends: "
          f"{'yes' if same_numbers(sqlite.view, pg.view) else 'NO'}")


# --------------------------------------------------------------------------- 4. bytes per trade


@dataclass
class PgBytes:
    """Bytes of PostgreSQL's trade_rows partitions per stored trade, and what they are made of."""

    trades: int
    total: float
    heap: float
    index: float
    leaf_density: float | None  # percent, the primary key's leaf pages (pgstattuple), None without it
    bars: float  # bar_rows with its indexes, per trade


def pg_bytes(url: str) -> PgBytes:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        trades = conn.execute("SELECT count(*) FROM trade_rows").fetchone()[0]
        total, heap, index = conn.execute(
            "SELECT sum(pg_total_relation_size(inhrelid)), sum(pg_table_size(inhrelid)), "
            "sum(pg_indexes_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'trade_rows'::regclass").fetchone()
        bars = conn.execute("SELECT pg_total_relation_size('bar_rows')").fetchone()[0]
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
            density = conn.execute(
                "SELECT sum(s.avg_leaf_density * s.leaf_pages) / sum(s.leaf_pages) FROM pg_inherits i "
                "JOIN pg_index x ON x.indrelid = i.inhrelid AND x.indisprimary, "
                "LATERAL pgstatindex(x.indexrelid) s WHERE i.inhparent = 'trade_rows'::regclass "
                "AND s.leaf_pages > 0").fetchone()[0]  # not the empty days created ahead (their density: NaN)
        except psycopg.Error:  # contrib not installed
            density = None
    return PgBytes(trades, total / trades, heap / trades, index / trades,
                   None if density is None else float(density), bars / trades)


def print_bytes(cases: list[tuple[str, dict, PgBytes]]) -> None:
    print("\n4. bytes per stored trade, indexes included")
    missed = []
    for label, sqlite, pg in cases:
        print(f"  {label}: SQLite {sqlite['bytes_per_trade_file']:.1f} (whole file, bars included; trade table "
              f"{sqlite['bytes_per_trade_table']:.1f}); PostgreSQL {pg.total:.1f} (trade_rows partitions; bars "
              f"another {pg.bars:.1f}), {verdict(pg.total <= BUDGET_BYTES)} (<= {BUDGET_BYTES:.0f})")
        if pg.total > BUDGET_BYTES:
            missed.append((label, pg))
    for label, pg in missed:
        density = f", primary key leaf pages {pg.leaf_density:.0f} % full" if pg.leaf_density is not None else ""
        print(f"  PostgreSQL breakdown, {label.split(' (')[0]}: heap {pg.heap:.1f} + primary key {pg.index:.1f} bytes "
              f"per trade{density} (a heap row is 64 bytes + a 4-byte line pointer; a key entry 32 + 4)")


# --------------------------------------------------------------------------- the run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades-per-symbol", type=int, default=40_000, help="ingest: trades blasted per symbol")
    parser.add_argument("--import-rows", type=int, default=3_000_000, help="import: rows in the dump")
    parser.add_argument("--days", type=int, default=7, help="dashboard: days of one-second bars per symbol")
    parser.add_argument("--refreshes", type=int, default=20, help="dashboard: steady refreshes timed per backend")
    args = parser.parse_args(argv)
    reason = pg_server.missing_reason()
    if reason:
        print(f"bench_postgres: not run: {reason}")
        return 0
    logging.getLogger("streamlit").setLevel(logging.ERROR)  # no "missing ScriptRunContext" noise outside a page
    started = time.perf_counter()
    server = pg_server.start_server(durable=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            print(f"PostgreSQL 15, a throwaway server on 127.0.0.1:{server.port}, fsync and synchronous_commit on "
                  f"(every commit flushed: honest numbers); SQLite in WAL mode, synchronous=NORMAL, as the product "
                  f"runs it; {machine_cpus()} cores")

            ingest_dbs = [str(workdir / "ingest.db"), server.create_database("ingest1"),
                          server.create_database("ingest4")]
            postmaster = postmaster_pid(server)
            runs = [ingest("SQLite, one ingestor", ingest_dbs[0], args.trades_per_symbol, 1, workdir),
                    ingest("PostgreSQL, one shard", ingest_dbs[1], args.trades_per_symbol, 1, workdir, postmaster),
                    ingest("PostgreSQL, four shards", ingest_dbs[2], args.trades_per_symbol, SHARDS, workdir,
                           postmaster)]
            print_ingest(args.trades_per_symbol, runs)

            dump = write_spot_trades(workdir / "BTCUSDT-trades-2025-01-01.csv", args.import_rows)
            import_dbs = [str(workdir / "import.db"), server.create_database("import")]
            imports = [run_measured(name, args.import_rows, [sys.executable, str(ROOT / "data_ingestor.py"), "import",
                                                             "--db", db, str(dump)])
                       for name, db in zip(("SQLite", "PostgreSQL"), import_dbs)]
            print_import(args.import_rows, dump, imports)

            warm_up(workdir)
            dash_dbs = [str(workdir / "dashboard.db"), server.create_database("dashboard")]
            tape = Tape(args.days)
            fill_s = fill_bars(dash_dbs, tape)
            refreshes = [time_refreshes(name, db, tape, args.refreshes)
                         for name, db in zip(("SQLite", "PostgreSQL"), dash_dbs)]
            print_refreshes(args.days, fill_s, refreshes)

            cases = [(f"imported ({args.import_rows:,} trades, 1 symbol)", stored_bytes(Path(import_dbs[0])),
                      pg_bytes(import_dbs[1]))]
            if not runs[0].error and not runs[1].error:
                cases.insert(0, (f"ingested ({runs[1].stored:,} trades, {len(INGEST_SYMBOLS)} symbols, one shard)",
                                 stored_bytes(Path(ingest_dbs[0])), pg_bytes(ingest_dbs[1])))
            print_bytes(cases)
    finally:
        server.stop()
    print(f"\nbench_postgres: {time.perf_counter() - started:.0f} s")
    return 0 if all(run.exact for run in runs if not run.error) else 1


if __name__ == "__main__":
    sys.exit(main())
