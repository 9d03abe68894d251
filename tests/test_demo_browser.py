"""The demo as a new user meets it, in headless Chromium: every live panel has data within 15 s of
start (the local exchange's hour of history, fetched newest first), a restarted demo keeps adding
trades after the stored ones, and a screenshot of each panel is taken (artifacts/demo_*.png; the ones
in docs/ for the README come from this test)."""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from browser import CHARTS, EXCEPTION_BOXES, chromium_page, require_chromium, wait_until_drawn
from conftest import REPO_ROOT
from test_end_to_end import stop_tree, stored_trades
from test_ingestor import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]

EVERY_PANEL_WITHIN_S = 15.0
STOP_WITHIN_S = 20.0
SHOTS = REPO_ROOT / "artifacts"  # looked at, and copied to docs/ for the README
SHOT_VIEWPORT = {"width": 1400, "height": 1500}
PANELS = {"spread": "Spread & z-score", "prices": "Prices", "costs": "Quoted spread & cost",
          "correlation": "Correlation"}


def start_demo(db: Path, port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(REPO_ROOT / "run_all.py"), "--demo", "--db", str(db), "--port",
                             str(port)], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def metric_value(page: Page, label: str) -> str:
    """The value of the metric card whose label starts with ``label``."""
    card = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return card.locator('[data-testid="stMetricValue"]').inner_text().strip()


def numeric(text: str) -> bool:
    return bool(re.search(r"\d", text)) and "—" not in text


def open_tab(page: Page, label: str) -> None:
    page.get_by_role("tab", name=label, exact=True).click()
    expect(page.get_by_role("tab", name=label, exact=True)).to_have_attribute("aria-selected", "true")
    wait_until_drawn(page)


def test_every_panel_has_data_within_15_s_and_a_restart_continues(tmp_path, unused_port):
    require_chromium()
    db = tmp_path / "demo.db"
    started = time.monotonic()
    demo = start_demo(db, unused_port)
    try:
        with chromium_page() as page:
            page.set_viewport_size(SHOT_VIEWPORT)
            wait_until(lambda: _answers(page, unused_port), 60)
            # every live number is there: both prices, the hedge, the spread, the z-score, the correlation
            expect(page.locator('[data-testid="stMetric"]').filter(has_text="z-score")).to_be_visible()
            wait_until(lambda: all(numeric(metric_value(page, label)) for label in
                                   ("BTCUSDT", "ETHUSDT", "Hedge ratio", "Spread", "z-score", "Correlation")),
                       60, lambda: page.locator("body").inner_text()[:2000])
            expect(page.locator(CHARTS).first).to_be_attached()
            every_panel_s = time.monotonic() - started
            shots = {}
            for slug, label in PANELS.items():
                open_tab(page, label)
                expect(page.locator(EXCEPTION_BOXES)).to_have_count(0)
                assert page.locator(CHARTS).count() >= 1, f"{label}: no chart"
                shots[slug] = SHOTS / f"demo_{slug}.png"
                shots[slug].parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shots[slug]), animations="disabled")
            open_tab(page, PANELS["costs"])
            wait_until(lambda: numeric(metric_value(page, "Round trip")), 30,
                       lambda: page.locator("body").inner_text()[:2000])
            text = page.locator("body").inner_text()
        assert "Traceback" not in text
        assert every_panel_s < EVERY_PANEL_WITHIN_S, f"the live panels had data after {every_panel_s:.1f} s"
        assert all(path.stat().st_size > 20_000 for path in shots.values())
    finally:
        first = stop_tree(demo, STOP_WITHIN_S)
    assert first.code == 0, first.output
    before = stored_trades(db)
    demo = start_demo(db, unused_port)
    try:
        wait_until(lambda: stored_trades(db) > before + 20, 60)
        with chromium_page() as page:
            wait_until(lambda: _answers(page, unused_port), 60)
            caption = page.get_by_text("Charts:", exact=False).first
            expect(caption).to_be_visible()
            expect(caption).not_to_have_text(caption.inner_text())  # the charts keep moving: no freeze
    finally:
        second = stop_tree(demo, STOP_WITHIN_S)
    assert second.code == 0 and "continuing the demo tape of" in second.output, second.output


def _answers(page: Page, port: int) -> bool:
    """The page loaded and drew its live section."""
    try:
        page.goto(f"http://127.0.0.1:{port}/?tab=spread", timeout=5_000)
        expect(page.locator("body")).to_contain_text("Live pair", timeout=20_000)
        return True
    except Exception:  # not listening yet, or still starting
        return False
