"""The whole product as a user starts it: ``run_all.py --demo``, a real headless Chromium, a clean stop."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from pairdesk import store
import browser
from browser import CHARTS, EXCEPTION_BOXES, chromium_page, require_chromium, screenshot
from conftest import REPO_ROOT
from test_ingestor import wait_until

ARTIFACTS = REPO_ROOT / "artifacts"
LIVE_WITHIN_S = 15.0
STOP_WITHIN_S = 5.0
REAPED_WITHIN_S = 10.0  # children of a stopped process: gone (or zombies) within this deadline


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


def survivors(pids: set[int], within_s: float = REAPED_WITHIN_S) -> list[int]:
    """The processes of ``pids`` still alive once all have exited or ``within_s`` has passed."""
    try:
        wait_until(lambda: not any(alive(pid) for pid in pids), within_s)
    except AssertionError:
        pass  # the caller asserts on the list, which names them
    return sorted(pid for pid in pids if alive(pid))


@dataclass(frozen=True)
class Stopped:
    """How a process tree stopped: the exit code, how long SIGTERM took, and any process left behind."""

    code: int
    took_s: float
    left: list[int]
    output: str


def stop_tree(proc: subprocess.Popen, timeout_s: float) -> Stopped:
    """SIGTERM ``proc``, wait for it (killed past ``timeout_s``, which fails the test), then for its children."""
    children = descendants(proc.pid)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"pid {proc.pid} did not stop within {timeout_s} s of SIGTERM") from None
    took_s = time.monotonic() - started
    output = proc.stdout.read() if proc.stdout else ""
    return Stopped(code, took_s, survivors(children), output)


def stored_trades(db: Path) -> int:
    try:
        conn = store.open_reader(db)
        try:
            return conn.execute("SELECT count(*) FROM trade_rows").fetchone()[0]
        finally:
            conn.close()
    except Exception:  # not created yet, or mid-migration
        return 0


def chart_caption(page: Page) -> str:
    """The "Charts: 1s bars from ... to ..." line: its end moves at each live refresh that brings bars."""
    return page.get_by_text("Charts:", exact=False).first.inner_text()


@pytest.mark.browser
@pytest.mark.integration
def test_demo_runs_live_in_a_real_browser_and_stops_cleanly(tmp_path, unused_port):
    """run_all --demo: trades within 15 s, status and charts in Chromium, no traceback, no orphan."""
    require_chromium()
    db = tmp_path / "demo.db"
    started = time.monotonic()
    run_all = subprocess.Popen([sys.executable, str(REPO_ROOT / "run_all.py"), "--demo", "--db", str(db),
                                "--port", str(unused_port)], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: stored_trades(db) > 0 or run_all.poll() is not None, LIVE_WITHIN_S,
                   lambda: "no trade stored within 15 s of starting")
        assert run_all.poll() is None, run_all.stdout.read()
        assert time.monotonic() - started < LIVE_WITHIN_S, "no trade stored within 15 s of starting"

        with chromium_page() as page:
            page.goto(f"http://127.0.0.1:{unused_port}/")
            expect(page.locator("body")).to_contain_text("Connectivity")
            expect(page.locator(CHARTS).nth(2)).to_be_attached()  # three charts or more (some in closed tabs)
            first_caption = chart_caption(page)
            expect(page.get_by_text("Charts:", exact=False).first).not_to_have_text(first_caption)  # one refresh more
            screenshot(page, ARTIFACTS / "dashboard_demo.png")
            charts = page.locator(CHARTS).count()
            expect(page.locator(EXCEPTION_BOXES)).to_have_count(0)
            text = page.locator("body").inner_text()

        assert "Traceback" not in text and "Error" not in text.split("Connectivity")[0]
        assert "DEMO" in text
        assert "BTCUSDT" in text and "ETHUSDT" in text
        assert charts >= 3
        children = descendants(run_all.pid)
        assert len(children) >= 3  # exchange, ingestor, dashboard
    finally:
        stopped = stop_tree(run_all, STOP_WITHIN_S + 5)
    assert stopped.code == 0, stopped.output
    assert stopped.took_s < STOP_WITHIN_S
    assert stopped.left == []


def test_without_chromium_the_browser_tests_fail_saying_how_to_install_it(monkeypatch, tmp_path):
    """No chromium at the expected path: a failed test whose message names the path and `make browser`."""
    monkeypatch.setattr(browser, "CHROMIUM_PATH", tmp_path / "no-chromium")
    with pytest.raises(pytest.fail.Exception, match=r"need Debian's chromium at .*no-chromium: run `make browser`"):
        with chromium_page():
            pass
