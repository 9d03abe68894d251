"""The desk on PostgreSQL as a user meets it, in headless Chromium: ``run_all.py --demo --db postgresql://...
--shards 2`` shows every live number, a feed light per symbol (each written by its own shard) and no
traceback; a screenshot is taken (artifacts/postgres_shards.png, docs/postgres_shards.png for the README)."""
from __future__ import annotations

import subprocess
import sys

import pytest
from playwright.sync_api import expect

from browser import CHARTS, EXCEPTION_BOXES, chromium_page, require_chromium
from conftest import REPO_ROOT
from test_demo_browser import SHOT_VIEWPORT, SHOTS, _answers, metric_value, numeric
from test_end_to_end import stop_tree
from test_ingestor import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_the_sharded_demo_on_postgresql_shows_every_live_number(pg_url, unused_port):
    require_chromium()
    demo = subprocess.Popen([sys.executable, str(REPO_ROOT / "run_all.py"), "--demo", "--db", pg_url, "--shards", "2",
                             "--no-scan", "--port", str(unused_port)], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        with chromium_page() as page:
            page.set_viewport_size(SHOT_VIEWPORT)
            wait_until(lambda: _answers(page, unused_port), 90)
            wait_until(lambda: all(numeric(metric_value(page, label)) for label in
                                   ("BTCUSDT", "ETHUSDT", "Hedge ratio", "Spread", "z-score", "Correlation")),
                       90, lambda: page.locator("body").inner_text()[:2000])
            expect(page.locator(CHARTS).first).to_be_attached()
            expect(page.locator(EXCEPTION_BOXES)).to_have_count(0)
            wait_until(lambda: page.locator("body").inner_text().count("live") >= 2, 60,
                       lambda: page.locator("body").inner_text()[:2000])  # both feeds green
            text = page.locator("body").inner_text()
            shot = SHOTS / "postgres_shards.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), animations="disabled")
    finally:
        stopped = stop_tree(demo, 20.0)
    assert "Traceback" not in text and "postgresql://postgres@" in text  # the page names the database
    assert stopped.code == 0, stopped.output
    assert "2 ingestor shards" in stopped.output
