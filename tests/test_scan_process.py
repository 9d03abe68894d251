"""The scan in its own process: the real CLI, POST /api/scanner/run finishing in the background, the
scheduled scan process rescanning until SIGTERM, and a scan killed with kill -9 midway leaving the
previous results intact."""
from __future__ import annotations

import csv
import sqlite3
import os
import signal
import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient

from conftest import REPO_ROOT
from pairdesk import scanner, store
from pairdesk.api.main import create_app
from scan_universe import simulate_universe

WAIT_S = 90.0


def wait_for(condition, timeout_s: float = WAIT_S, poll_s: float = 0.02):
    """Poll ``condition`` until it returns something truthy (returned), failing after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll_s)
    pytest.fail(f"condition not met within {timeout_s} s")


def _scans(path, **kwargs) -> list[dict]:
    conn = store.open_reader(path)
    try:
        return store.read_scans(conn, **kwargs)
    finally:
        conn.close()


def _results(path, scan_id):
    conn = store.open_reader(path)
    try:
        return store.read_scan_results(conn, scan_id)
    finally:
        conn.close()


def _database(path, symbols: int, bars: int) -> None:
    for symbol, frame in simulate_universe(symbols, 2, bars, seed=10).bars.items():
        store.write_bars(path, symbol, frame.itertuples(index=False, name=None))


def _scanner(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pairdesk.scanner", *args], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_the_cli_scans_and_writes_the_csv(db_path, tmp_path):
    """python analytics_engine.py scan --db ... --timeframe 1m --lookback 7d --out scan.csv, as the issue writes it."""
    _database(db_path, 5, 600)
    out = tmp_path / "scan.csv"
    result = subprocess.run([sys.executable, str(REPO_ROOT / "analytics_engine.py"), "scan", "--db", str(db_path),
                             "--timeframe", "1m", "--lookback", "7d", "--out", str(out)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=WAIT_S)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 10 and rows[0]["rank"] == "1" and {"q_value", "significant", "zscore"} <= set(rows[0])


def test_post_run_finishes_in_the_background(db_path):
    """POST /api/scanner/run answers 202 with the scan's id at once; the scan finishes in its own process
    and becomes what GET /api/scanner serves."""
    _database(db_path, 6, 600)
    client = TestClient(create_app(db_path))
    response = client.post("/api/scanner/run", params={"lookback": "10h"})
    assert response.status_code == 202 and response.json()["status"] == "running"
    scan_id = response.json()["scan_id"]
    done = wait_for(lambda: (lambda r: r if r["status"] != "running" else None)(
        client.get(f"/api/scanner/runs/{scan_id}").json()))
    assert done["status"] == "done" and done["pairs"] == 15
    body = client.get("/api/scanner").json()
    assert body["scan"]["scan_id"] == scan_id and body["count"] == 15


def test_a_scan_killed_midway_leaves_the_previous_results(db_path):
    """kill -9 while a scan runs (780 pairs of a week of bars: seconds): the scan stays recorded as
    running, never done; the newest finished scan and its rows are the previous ones, unchanged."""
    _database(db_path, 40, 10_080)
    first = scanner.run_scan(db_path, scanner.ScanSettings(symbols=("P00A", "P00B", "R00"), workers=1))
    before = _results(db_path, first)
    proc = _scanner("once", "--db", str(db_path), "--workers", "1")
    try:
        running = wait_for(lambda: [s for s in _scans(db_path, status="running") if s["pid"] == proc.pid])
        assert proc.poll() is None, "the scan ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    scan = _scans(db_path, scan_id=running[0]["scan_id"])[0]
    assert scan["status"] == "running" and scan["finished_ms"] is None
    conn = store.open_reader(db_path)
    assert store.latest_scan(conn)["scan_id"] == first
    conn.close()
    assert len(_results(db_path, running[0]["scan_id"])) == 0
    assert _results(db_path, first).equals(before)


def test_the_scheduled_process_rescans_until_sigterm(db_path):
    """``schedule --every 1s`` stores a scan, then another, and stops on SIGTERM with exit 0, at low priority."""
    _database(db_path, 4, 400)
    proc = _scanner("schedule", "--db", str(db_path), "--every", "1s", "--first-after", "0s", "--lookback", "1d")
    try:
        wait_for(lambda: len(_scans(db_path, status="done")) >= 2)
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert all(scan["pairs"] == 6 for scan in _scans(db_path, status="done"))


def test_the_scheduled_process_waits_for_data(db_path):
    """Started before the database has two symbols, it logs why it skipped and keeps going."""
    _database(db_path, 4, 400)
    conn = store.open_writer_as_recorded(db_path)
    with store.atomic(conn):
        store.replace_watchlist(conn, ["P00A"])
    conn.close()
    proc = _scanner("schedule", "--db", str(db_path), "--every", "1s", "--log-level", "WARNING")
    try:
        wait_for(lambda: len(_scans(db_path, status="failed")) >= 2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "scan skipped: a scan needs at least two symbols" in proc.stderr.read()


def test_run_all_starts_the_scheduled_scanner_beside_the_ingestor(tmp_path, unused_port):
    """run_all.py --demo starts the scan process: a scan of the demo's pair is stored while the ingestor
    runs, and Ctrl+C (SIGTERM) stops it with everything else, nothing left behind."""
    from test_end_to_end import stop_tree

    db = tmp_path / "demo.db"
    proc = subprocess.Popen([sys.executable, str(REPO_ROOT / "run_all.py"), "--demo", "--db", str(db), "--port",
                             str(unused_port), "--scan-every", "2s"], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        done = wait_for(lambda: db.exists() and _scans_or_none(db, status="done"), 120)
    finally:
        stopped = stop_tree(proc, 15)
    assert stopped.code == 0 and not stopped.left, stopped.output
    assert done[0]["symbols"] == ["BTCUSDT", "ETHUSDT"] and done[0]["pairs"] == 1


def test_run_all_refuses_a_bad_scan_interval():
    """--scan-every that is not a duration: one line, exit 2, nothing started."""
    result = subprocess.run([sys.executable, str(REPO_ROOT / "run_all.py"), "--demo", "--scan-every", "often"],
                            capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert result.returncode == 2 and result.stderr.strip().startswith("run_all: error: --scan-every: ")
    assert len(result.stderr.strip().splitlines()) == 1


def _scans_or_none(path, **kwargs) -> list[dict]:
    """``_scans`` while the database may still lack the scan tables or be mid-creation (then nothing)."""
    try:
        return _scans(path, **kwargs)
    except (store.StoreError, sqlite3.Error):
        return []
