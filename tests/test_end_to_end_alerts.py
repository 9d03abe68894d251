"""The alerts UI in a real browser: the real page (``streamlit run app.py``) in headless Chromium, a clean stop."""
from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from pairdesk.alerts import repository
from pairdesk import store
from browser import EXCEPTION_BOXES, chromium_page, require_chromium, screenshot
from conftest import REPO_ROOT
from test_end_to_end import ARTIFACTS, descendants, stop_tree, survivors
from test_ingestor import wait_until

T0_MS = 1_723_161_600_000  # 2024-08-09 00:00 UTC
SECONDS = 900
RULE_NAME = "e2e spread watch"
STOP_WITHIN_S = 10.0
HTTP_WITHIN_S = 60.0  # a cold Streamlit start on a busy machine


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


def alerts_heading(page: Page):
    """The "Alerts" section's heading (an h3 that starts with the word)."""
    return page.locator("h3").filter(has_text=re.compile(r"^\s*Alerts")).first


def type_into(page: Page, label: str, text: str) -> None:
    """Type ``text`` into the input labelled ``label`` as a user does: focus, replace, leave the field."""
    field = page.locator(f'input[aria-label="{label}"]')
    expect(field).to_have_count(1)
    field.fill(text)
    field.blur()


def dashboard_answers(port: int, server: subprocess.Popen) -> bool:
    """True once Streamlit's health endpoint answers; fails at once if the server died."""
    assert server.poll() is None, server.stdout.read()
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).read()
        return True
    except OSError:
        return False


def use_the_page(page: Page, port: int, db: Path) -> str:
    """Create the rule through the form, see it listed, see a new alert toast, open the history; the page text."""
    body = page.locator("body")
    page.goto(f"http://127.0.0.1:{port}/")
    expect(body).to_contain_text("New rule")
    alerts_heading(page).scroll_into_view_if_needed()
    type_into(page, "Rule name", RULE_NAME)
    type_into(page, "Threshold", "2.5")
    page.get_by_role("button", name=re.compile(r"Save rule$")).click()
    expect(body).to_contain_text(f"#1 {RULE_NAME}")
    expect(page.locator('input[aria-label="Rule name"]')).to_have_value("")
    alerts_heading(page).scroll_into_view_if_needed()
    screenshot(page, ARTIFACTS / "dashboard_alert_rules.png")

    store_event(db, "BTCUSDT/ETHUSDT z-score 2.61 crossed +2.50 UP (1s, window 60, OLS)")
    expect(page.locator('[data-testid="stToast"]').filter(has_text="crossed +2.50 UP")).to_be_visible()
    page.get_by_role("tab", name=re.compile(r"History$")).click()
    expect(body).to_contain_text("Acknowledge all 1 shown")
    page.locator("summary").filter(has_text=re.compile(r"Symbols the ingestor follows$")).click()
    expect(page.get_by_text("No list stored yet")).to_be_visible()
    alerts_heading(page).scroll_into_view_if_needed()
    screenshot(page, ARTIFACTS / "dashboard_alert_history.png")
    expect(page.locator(EXCEPTION_BOXES)).to_have_count(0)
    return body.inner_text()


@pytest.mark.browser
@pytest.mark.integration
def test_rule_created_in_the_browser_appears_and_a_new_alert_pops_up(tmp_path, unused_port):
    """Create a rule through the form in Chromium: stored and listed; a new alert toasts; no traceback, no orphan."""
    require_chromium()
    db = tmp_path / "ticks.db"
    store.write_trades(db, pair_trades())
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app.py"), "--server.headless", "true",
         "--server.port", str(unused_port), "--server.address", "127.0.0.1", "--", "--db", str(db)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: dashboard_answers(unused_port, server), HTTP_WITHIN_S,
                   lambda: f"the dashboard did not answer within {HTTP_WITHIN_S:g} s")
        with chromium_page() as page:
            text = use_the_page(page, unused_port, db)
        assert "Traceback" not in text
        (rule,) = stored_rules(db)
        assert (rule.name, rule.kind, rule.symbols, rule.params["threshold"]) == (
            RULE_NAME, "zscore", ("BTCUSDT", "ETHUSDT"), 2.5)
        children = descendants(server.pid)
    finally:
        stopped = stop_tree(server, STOP_WITHIN_S)
    assert stopped.code == 0, stopped.output
    assert "Traceback" not in stopped.output, stopped.output
    assert stopped.left == [] and survivors(children | {server.pid}) == []
