"""run_all.py supervising real processes: port in use, a crashed ingestor, an unreachable Binance."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

from pairdesk import store
from conftest import REPO_ROOT
from test_end_to_end import Stopped, alive, descendants, stop_tree
from test_ingestor import wait_until

pytestmark = pytest.mark.integration

STARTED_WITHIN_S = 60.0  # generous deadlines: a busy 2-core machine starts Python processes slowly
STOP_WITHIN_S = 15.0


def start_run_all(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(REPO_ROOT / "run_all.py"), *args], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop_run_all(proc: subprocess.Popen) -> Stopped:
    """SIGTERM run_all; its exit code, its output and the children still alive once they had time to exit."""
    return stop_tree(proc, STOP_WITHIN_S)


def test_port_in_use_is_a_one_line_error():
    """The dashboard port taken by something else: one line, exit 2, nothing started."""
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, str(REPO_ROOT / "run_all.py"), "--demo", "--port", str(port)],
                                capture_output=True, text=True, timeout=STARTED_WITHIN_S, cwd=REPO_ROOT)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"run_all: error: port {port} is in use; stop what uses it or pass --port N"]


def ingestor_pids(run_all_pid: int) -> list[int]:
    """The ingestors run_all started: its own children running data_ingestor.py (not a process an
    ingestor forks for a moment, which carries the same command line until it execs)."""
    pids = []
    for pid in descendants(run_all_pid):
        if not alive(pid):  # a killed one not yet reaped
            continue
        try:
            parent = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
            if parent == run_all_pid and b"data_ingestor.py" in open(f"/proc/{pid}/cmdline", "rb").read():
                pids.append(pid)
        except OSError:
            pass
    return pids


def test_crashed_ingestor_is_restarted_and_everything_stops_cleanly(tmp_path, unused_port):
    """kill -9 of the ingestor: run_all starts a new one, trades keep arriving, then a clean stop."""
    db = tmp_path / "demo.db"
    run_all = start_run_all("--demo", "--db", str(db), "--port", str(unused_port))
    try:
        wait_until(lambda: len(ingestor_pids(run_all.pid)) == 1, STARTED_WITHIN_S)
        first = ingestor_pids(run_all.pid)[0]
        wait_until(lambda: db.exists(), STARTED_WITHIN_S)
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: any(pid != first for pid in ingestor_pids(run_all.pid)), STARTED_WITHIN_S)

        def trades() -> int:
            try:
                conn = store.open_reader(db)
                return conn.execute("SELECT count(*) FROM trade_rows").fetchone()[0]
            except Exception:  # mid-creation
                return 0

        before = trades()
        wait_until(lambda: trades() > before, STARTED_WITHIN_S)
    finally:
        stopped = stop_run_all(run_all)
    assert "ingestor exited with code -9; restarting in 1 s" in stopped.output
    assert stopped.code == 0 and stopped.left == []


def test_unreachable_binance_is_reported_and_suggests_demo(tmp_path, unused_port):
    """No exchange answering: the log suggests --demo and the status says disconnected (red)."""
    db = tmp_path / "ticks.db"
    proc = subprocess.Popen([sys.executable, str(REPO_ROOT / "data_ingestor.py"), "--db", str(db),
                             "--ws-url", f"ws://127.0.0.1:{unused_port}", "--rest-url",
                             f"http://127.0.0.1:{unused_port}"], cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True)

    def status_says_disconnected() -> bool:
        try:
            status = store.read_feed_status(store.open_reader(db))
        except Exception:
            return False
        return len(status) == 2 and set(status["state"]) == {"disconnected"} and \
            status["last_error"].str.startswith("connection failed").all()

    try:
        wait_until(status_says_disconnected, STARTED_WITHIN_S)
    finally:
        stopped = stop_tree(proc, STOP_WITHIN_S)
    log = proc.stderr.read()
    assert stopped.code == 0 and stopped.left == []
    assert "is Binance reachable? Without internet, try: python run_all.py --demo" in log


def stored_trades(db) -> dict[str, tuple[int, int, int]]:
    """{symbol: (trades, first id, last id)} of a database (empty while it is being created)."""
    try:
        conn = store.open_reader(db)
    except store.StoreError:
        return {}
    try:
        return {s: n for s, *n in conn.execute(
            "SELECT symbol, count(*), min(trade_id), max(trade_id) FROM trades GROUP BY symbol")}
    except Exception:  # mid-creation
        return {}
    finally:
        conn.close()


def test_demo_starts_with_an_hour_of_history_and_a_restart_continues_the_tape(tmp_path, unused_port):
    """The first refresh already has history (the local exchange's hour behind its tape, fetched by the
    ingestor's start-up catch-up); a second demo on the same database goes on after the stored ids,
    every id once, no freeze; a database of another market is moved aside, saying so."""
    db = tmp_path / "demo.db"
    run_all = start_run_all("--demo", "--db", str(db), "--port", str(unused_port))
    try:
        wait_until(lambda: all(n > 20_000 for n, _, _ in stored_trades(db).values()) and len(stored_trades(db)) == 2,
                   STARTED_WITHIN_S)
    finally:
        first = stop_run_all(run_all)
    assert first.code == 0, first.output
    before = stored_trades(db)
    run_all = start_run_all("--demo", "--db", str(db), "--port", str(unused_port))
    try:
        def continued_and_whole() -> bool:  # new trades after the stored ones, and a history cut short resumed
            now = stored_trades(db)
            return all(now[s][2] > before[s][2] + 20 and now[s][0] == now[s][2] - now[s][1] + 1 for s in before)

        wait_until(continued_and_whole, STARTED_WITHIN_S * 2)
    finally:
        second = stop_run_all(run_all)
    assert second.code == 0 and "continuing the demo tape of" in second.output, second.output
    after = stored_trades(db)
    for symbol, (count, first_id, last_id) in after.items():
        assert first_id == before[symbol][1] and count == last_id - first_id + 1  # contiguous: every id once
    assert "already stored" not in second.output
    run_all = start_run_all("--demo", "--market", "futures", "--db", str(db), "--port", str(unused_port))
    try:
        wait_until(lambda: list(tmp_path.glob("demo.db.*.old")) and stored_trades(db) and
                   all(n > 100 for n, _, _ in stored_trades(db).values()), STARTED_WITHIN_S)
    finally:
        third = stop_run_all(run_all)
    assert "cannot be continued (it holds spot trades and this demo runs futures): moved it to" in third.output
    assert third.code == 0 and store.read_metadata(store.open_reader(db))["market"] == "futures"


def test_shards_split_the_watchlist_across_ingestors_on_postgresql(pg_url, unused_port):
    """``--shards 2`` on a PostgreSQL database: two ingestors, each writing its own symbol; a shard killed
    is restarted and takes its symbol back; a clean stop. On a SQLite file --shards is refused."""
    run_all = start_run_all("--demo", "--db", pg_url, "--shards", "2", "--no-scan", "--port", str(unused_port))

    def symbols_with_trades() -> set[str]:
        try:
            conn = store.open_reader(pg_url)
        except store.StoreError:
            return set()
        try:
            return {s for s in store.list_symbols(conn) if store.last_trade_id(conn, s) is not None}
        finally:
            conn.close()

    try:
        wait_until(lambda: len(ingestor_pids(run_all.pid)) == 2, STARTED_WITHIN_S)
        wait_until(lambda: symbols_with_trades() == {"BTCUSDT", "ETHUSDT"}, STARTED_WITHIN_S)
        victim = ingestor_pids(run_all.pid)[0]
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: len(ingestor_pids(run_all.pid)) == 2 and victim not in ingestor_pids(run_all.pid),
                   STARTED_WITHIN_S)
    finally:
        stopped = stop_run_all(run_all)
    assert stopped.code == 0, stopped.output
    assert "2 ingestor shards" in stopped.output
    assert "ingestor 1/2" in stopped.output or "ingestor 2/2" in stopped.output  # the restart was announced
    assert stopped.left == []
    refused = subprocess.run([sys.executable, str(REPO_ROOT / "run_all.py"), "--demo", "--shards", "2", "--db",
                              "x.db", "--port", str(unused_port)], capture_output=True, text=True, timeout=60,
                             cwd=REPO_ROOT)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "run_all: error: --shards needs a PostgreSQL database (--db postgresql://...): a SQLite file has one writer"]


def test_a_demo_on_postgresql_restarted_continues_its_tape(pg_url, unused_port):
    """``run_all.py --demo --db postgresql://...`` twice: the second exchange continues the stored tape
    (ids after the stored ones) instead of starting a new one, as on a SQLite file."""
    def last_ids() -> dict[str, int]:
        try:
            conn = store.open_reader(pg_url)
        except store.StoreError:
            return {}
        try:
            return {s: store.last_trade_id(conn, s) for s in store.list_symbols(conn)}
        finally:
            conn.close()

    first = start_run_all("--demo", "--db", pg_url, "--no-scan", "--port", str(unused_port))
    try:
        wait_until(lambda: len(last_ids()) == 2, STARTED_WITHIN_S)
    finally:
        assert stop_run_all(first).code == 0
    before = last_ids()
    second = start_run_all("--demo", "--db", pg_url, "--no-scan", "--port", str(unused_port))
    try:
        wait_until(lambda: all(last_ids().get(s, 0) > last for s, last in before.items()), STARTED_WITHIN_S)
    finally:
        stopped = stop_run_all(second)
    assert stopped.code == 0
    assert "continuing the demo tape of postgresql://" in stopped.output, stopped.output[-2000:]
