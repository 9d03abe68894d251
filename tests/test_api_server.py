"""``python api.py`` as a user starts it: a real uvicorn server on a loopback port, its one-line
start-up errors, the token from the environment, and a clean stop on SIGTERM."""
from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import REPO_ROOT
from test_api import TOKEN, build_recorded_db

START_TIMEOUT_S = 30


def run_api(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(REPO_ROOT / "api.py"), *args], cwd=REPO_ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})


def wait_for_banner(proc: subprocess.Popen) -> str:
    """The line api.py prints once it listens (fails if the process dies first)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if line.startswith("REST API"):
                return line
        assert proc.poll() is None, proc.stderr.read()
    raise AssertionError("api.py did not start")


def wait_until_serving(url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answers at {url}")


def listening_addresses(port: int) -> set[str]:
    """Local IPv4 addresses with a socket listening on ``port`` (from /proc/net/tcp, Linux)."""
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs /proc/net/tcp")
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


@pytest.fixture
def served(db_path, unused_port):
    """api.py serving the recorded database on a free loopback port, token from $API_TOKEN."""
    build_recorded_db(db_path)
    proc = run_api("--db", str(db_path), "--port", str(unused_port), env={"API_TOKEN": TOKEN})
    try:
        banner = wait_for_banner(proc)
        url = f"http://127.0.0.1:{unused_port}"
        wait_until_serving(f"{url}/api/status")
        yield proc, url, banner
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_serves_the_api_on_loopback_only(served, unused_port):
    """Default host 127.0.0.1: the banner says where, the API answers there, nothing listens elsewhere."""
    proc, url, banner = served
    assert f"http://127.0.0.1:{unused_port}" in banner and "/docs" in banner
    assert httpx.get(f"{url}/api/symbols").json()["symbols"][0]["symbol"] == "BTCUSDT"
    assert listening_addresses(unused_port) == {"127.0.0.1"}


def test_the_token_comes_from_the_environment(served):
    """API_TOKEN enables the watchlist; without the header it is 401."""
    _proc, url, banner = served
    assert "endpoints on" in banner
    assert httpx.get(f"{url}/api/watchlist").status_code == 401
    assert httpx.get(f"{url}/api/watchlist", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_sigterm_stops_the_server_cleanly(served):
    """SIGTERM: uvicorn finishes and the process exits 0."""
    proc, _url, _banner = served
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0


def test_a_missing_database_is_a_one_line_error(tmp_path):
    """No database file: one line on stderr saying what to do, exit status 2, nothing served."""
    result = subprocess.run([sys.executable, str(REPO_ROOT / "api.py"), "--db", str(tmp_path / "nope.db")],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no such database" in result.stderr and "--db" in result.stderr


def test_a_port_in_use_is_a_one_line_error(db_path, unused_port):
    """Another server on the port: one line naming host and port, exit status 2."""
    build_recorded_db(db_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", unused_port))
        taken.listen()
        result = subprocess.run([sys.executable, str(REPO_ROOT / "api.py"), "--db", str(db_path), "--port",
                                 str(unused_port)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and f"127.0.0.1:{unused_port}" in result.stderr
    assert "in use" in result.stderr


def test_help_documents_every_option():
    """--help lists --db, --host, --port, --token and --log-level with their defaults."""
    result = subprocess.run([sys.executable, str(REPO_ROOT / "api.py"), "--help"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for option in ("--db", "--host", "--port", "--token", "--log-level", "127.0.0.1", "8000", "API_TOKEN"):
        assert option in result.stdout, option


OLD_CALLS = [  # (the old systems' call, the desk's own call): same answer on a running server
    ("/api/stats?symbol=btcusdt", "/api/stats/BTCUSDT"),
    ("/api/prices_v2?symbol=ETHUSDT&limit=50", "/api/ohlc/ETHUSDT?timeframe=1s&limit=50"),
    ("/api/export/price?symbol=BTCUSDT", "/api/export/ohlc.csv?symbol=BTCUSDT"),
    ("/api/export/spread?symbols=BTCUSDT,ETHUSDT&window=20", "/api/export/spread.csv?symbols=BTCUSDT,ETHUSDT&window=20"),
    ("/api/export/BTCUSDT?format=csv", "/api/export/ticks.csv?symbol=BTCUSDT"),
    ("/api/spread?symbols=btcusdt,ethusdt&window=20", "/api/spread?symbols=BTCUSDT,ETHUSDT&window=20"),
]


@pytest.mark.parametrize(("old", "own"), OLD_CALLS)
def test_the_old_systems_calls_answer_as_the_desks_own_on_a_running_server(served, old, own):
    """An old Flask / platform call against the real server returns exactly the desk's own endpoint's body."""
    _proc, url, _banner = served
    old_answer, own_answer = httpx.get(url + old, timeout=30), httpx.get(url + own, timeout=30)
    assert old_answer.status_code == own_answer.status_code == 200, old_answer.text
    assert old_answer.content == own_answer.content


def test_the_old_calls_refuse_what_the_desk_refuses_on_a_running_server(served):
    """Unknown symbols are 404 and bad parameters 422 through the aliases, as through the desk's routes."""
    _proc, url, _banner = served
    assert httpx.get(url + "/api/stats?symbol=DOGEUSDT", timeout=30).status_code == 404
    assert httpx.get(url + "/api/export/BTCUSDT?format=xlsx", timeout=30).status_code == 422
