"""The whole product as a user starts it: ``run_all.py --demo``, a real headless Chromium, a clean stop."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pairdesk import store
from browser import Browser, chromium_binary
from conftest import REPO_ROOT

ARTIFACTS = REPO_ROOT / "artifacts"
LIVE_WITHIN_S = 15.0
STOP_WITHIN_S = 5.0


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children in their own sessions included), from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def stored_trades(db: Path) -> int:
    try:
        conn = store.open_reader(db)
        try:
            return conn.execute("SELECT count(*) FROM trade_rows").fetchone()[0]
        finally:
            conn.close()
    except Exception:  # not created yet, or mid-migration
        return 0


@pytest.mark.skipif(chromium_binary() is None, reason="needs Debian's chromium (make test installs it)")
def test_demo_runs_live_in_a_real_browser_and_stops_cleanly(tmp_path, unused_port):
    """run_all --demo: trades within 15 s, status and charts in Chromium, no traceback, no orphan."""
    db = tmp_path / "demo.db"
    started = time.monotonic()
    run_all = subprocess.Popen([sys.executable, str(REPO_ROOT / "run_all.py"), "--demo", "--db", str(db),
                                "--port", str(unused_port)], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        while stored_trades(db) == 0:
            assert time.monotonic() - started < LIVE_WITHIN_S, "no trade stored within 15 s of starting"
            assert run_all.poll() is None, run_all.stdout.read()
            time.sleep(0.2)

        async def look() -> tuple[str, int]:
            async with Browser() as page:
                await page.goto(f"http://127.0.0.1:{unused_port}/")
                await page.wait_for("document.body.innerText.includes('Connectivity')", 60)
                await page.wait_for("document.querySelectorAll('.js-plotly-plot').length >= 3", 60)
                await asyncio.sleep(2)  # one live refresh more
                ARTIFACTS.mkdir(exist_ok=True)
                await page.screenshot(ARTIFACTS / "dashboard_demo.png")
                charts = await page.evaluate("document.querySelectorAll('.js-plotly-plot').length")
                errors = await page.evaluate("document.querySelectorAll('[data-testid=\"stException\"]').length")
                assert errors == 0
                return await page.text(), charts

        text, charts = asyncio.run(look())
        assert "Traceback" not in text and "Error" not in text.split("Connectivity")[0]
        assert "DEMO" in text
        assert "BTCUSDT" in text and "ETHUSDT" in text
        assert charts >= 3
        children = descendants(run_all.pid)
        assert len(children) >= 3  # exchange, ingestor, dashboard
    finally:
        children = descendants(run_all.pid)
        stop_started = time.monotonic()
        run_all.send_signal(signal.SIGTERM)
        try:
            code = run_all.wait(STOP_WITHIN_S + 5)
        except subprocess.TimeoutExpired:
            run_all.kill()
            raise
        stop_took = time.monotonic() - stop_started
    assert code == 0
    assert stop_took < STOP_WITHIN_S
    time.sleep(0.2)
    assert [pid for pid in children if alive(pid)] == []
    os.environ.get("KEEP_SCREENSHOT")  # the screenshot stays in artifacts/ (ignored by git) for a look
