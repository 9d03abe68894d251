"""The alerts UI in a real browser: the real page (``streamlit run app.py``) in headless Chromium, a clean stop."""
from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from pairdesk.alerts import repository
from pairdesk import store
from browser import Browser, chromium_binary
from conftest import REPO_ROOT
from test_end_to_end import ARTIFACTS, alive, descendants

T0_MS = 1_723_161_600_000  # 2024-08-09 00:00 UTC
SECONDS = 900
RULE_NAME = "e2e spread watch"
STOP_WITHIN_S = 10.0

FOCUS_JS = """((label) => {
  const input = document.querySelector(`input[aria-label="${label}"]`);
  if (!input) return false;
  input.focus();
  input.select();
  return true;
})(%s)"""
CLICK_JS = """((text, selector) => {
  const target = [...document.querySelectorAll(selector)].find(el => el.innerText.trim().endsWith(text));
  if (!target) return false;
  target.click();
  return true;
})(%s, %s)"""
SCROLL_JS = """((text) => {
  const heading = [...document.querySelectorAll('h3')].find(h => h.innerText.trim().startsWith(text));
  if (heading) heading.scrollIntoView();
  return !!heading;
})(%s)"""


def pair_trades() -> list[tuple]:
    """15 minutes of a cointegrated BTCUSDT / ETHUSDT pair, two trades a second each (seeded)."""
    rng = np.random.default_rng(11)
    factor = np.cumsum(rng.normal(0, 2e-4, SECONDS * 2))
    trades = []
    for symbol, base, beta, first_id in (("BTCUSDT", 60_000.0, 1.0, 1_000), ("ETHUSDT", 2_600.0, 0.9, 5_000)):
        noise = rng.normal(0, 1e-4, SECONDS * 2)
        prices = np.round(base * np.exp(beta * factor + noise), 2)
        trades += [(symbol, first_id + i, T0_MS + i * 500, float(p), 0.01, bool(i % 2)) for i, p in enumerate(prices)]
    return trades


def stored_rules(db: Path) -> list:
    conn = store.open_reader(db)
    try:
        return repository.list_rules(conn)
    finally:
        conn.close()


def store_event(db: Path, message: str) -> None:
    """One alert event as the ingestor's monitor stores it (at the newest bar)."""
    conn = store.open_writer(db, "spot", "trade")
    try:
        with store.transaction(conn):
            store.save_alert_progress(conn, [{
                "ts_ms": T0_MS + (SECONDS - 1) * 1000, "rule_id": 1, "rule_name": RULE_NAME, "kind": "zscore",
                "symbols": "BTCUSDT/ETHUSDT", "timeframe": "1s", "value": 2.61, "threshold": 2.5, "direction": "UP",
                "message": message}], {})
    finally:
        conn.close()


async def type_into(page: Browser, label: str, text: str) -> None:
    """Type ``text`` into the input labelled ``label`` as a user does: focus, select all, type, leave the field."""
    assert await page.evaluate(FOCUS_JS % json.dumps(label)), f"no input labelled {label!r}"
    await page.send("Input.insertText", text=text)
    await page.evaluate("document.activeElement.blur()")


def wait_for_http(port: int, server: subprocess.Popen, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stdout.read()
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the dashboard did not answer within 30 s")


@pytest.mark.skipif(chromium_binary() is None, reason="needs Debian's chromium (make test installs it)")
def test_rule_created_in_the_browser_appears_and_a_new_alert_pops_up(tmp_path, unused_port):
    """Create a rule through the form in Chromium: stored and listed; a new alert toasts; no traceback, no orphan."""
    db = tmp_path / "ticks.db"
    store.write_trades(db, pair_trades())
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app.py"), "--server.headless", "true",
         "--server.port", str(unused_port), "--server.address", "127.0.0.1", "--", "--db", str(db)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_http(unused_port, server)

        async def use_the_page() -> str:
            async with Browser() as page:
                await page.goto(f"http://127.0.0.1:{unused_port}/")
                await page.wait_for("document.body.innerText.includes('New rule')", 60)
                await page.wait_for("document.querySelector('input[aria-label=\"Rule name\"]') !== null", 30)
                assert await page.evaluate(SCROLL_JS % json.dumps("Alerts"))
                await type_into(page, "Rule name", RULE_NAME)
                await type_into(page, "Threshold", "2.5")
                assert await page.evaluate(CLICK_JS % (json.dumps("Save rule"), json.dumps("button")))
                await page.wait_for(f"document.body.innerText.includes('#1 {RULE_NAME}')", 30)
                await page.wait_for("document.querySelector('input[aria-label=\"Rule name\"]').value === ''", 10)
                await asyncio.sleep(1)  # let the toast and the table settle for the screenshot
                ARTIFACTS.mkdir(exist_ok=True)
                await page.evaluate(SCROLL_JS % json.dumps("Alerts"))
                await page.screenshot(ARTIFACTS / "dashboard_alert_rules.png")

                store_event(db, "BTCUSDT/ETHUSDT z-score 2.61 crossed +2.50 UP (1s, window 60, OLS)")
                await page.wait_for("[...document.querySelectorAll('[data-testid=\"stToast\"]')]"
                                    ".some(t => t.innerText.includes('crossed +2.50 UP'))", 30)
                assert await page.evaluate(CLICK_JS % (json.dumps("History"), json.dumps("[role=tab]")))
                await page.wait_for("document.body.innerText.includes('Acknowledge all 1 shown')", 30)
                assert await page.evaluate(CLICK_JS % (json.dumps("Symbols the ingestor follows"),
                                                       json.dumps("summary")))
                await page.wait_for("document.body.innerText.includes('No list stored yet')", 30)
                await asyncio.sleep(1)  # the expander's animation
                await page.evaluate(SCROLL_JS % json.dumps("Alerts"))
                await page.screenshot(ARTIFACTS / "dashboard_alert_history.png")
                errors = await page.evaluate("document.querySelectorAll('[data-testid=\"stException\"]').length")
                assert errors == 0
                return await page.text()

        text = asyncio.run(use_the_page())
        assert "Traceback" not in text
        (rule,) = stored_rules(db)
        assert (rule.name, rule.kind, rule.symbols, rule.params["threshold"]) == (
            RULE_NAME, "zscore", ("BTCUSDT", "ETHUSDT"), 2.5)
        children = descendants(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(STOP_WITHIN_S)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    output = server.stdout.read()
    assert code == 0, output
    assert "Traceback" not in output, output
    time.sleep(0.2)
    assert [pid for pid in children | {server.pid} if alive(pid)] == []
