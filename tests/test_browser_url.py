"""Settings in the URL, in a real headless Chromium against ``streamlit run app.py`` on the recorded BTC/ETH
trades: settings changed on the page survive a reload, and a link with settings opens the page with them."""
from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect

from browser import EXCEPTION_BOXES, chromium_page, require_chromium, screenshot, wait_until_drawn
from conftest import REPO_ROOT
from test_app import build_real_db
from test_end_to_end import stop_tree
from test_ingestor import wait_until

START_WITHIN_S = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def dashboard(db: Path, tmp_path: Path) -> Iterator[str]:
    """``streamlit run app.py`` on ``db`` (loopback, a free port) until it answers; its base URL. Stopped on exit."""
    port = free_port()
    log = (tmp_path / "streamlit.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
                             "--server.port", str(port), "--server.headless", "true",
                             "--browser.gatherUsageStats", "false", "--", "--db", str(db)],
                            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: proc.poll() is not None or answers(port), START_WITHIN_S)
        assert proc.poll() is None, (tmp_path / "streamlit.log").read_text()
        yield f"http://127.0.0.1:{port}"
    finally:
        stopped = stop_tree(proc, 10)
        log.close()
        assert stopped.left == []


def query(page: Page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(page.url).query).items()}


def test_settings_survive_a_reload_and_a_link_applies_them(tmp_path):
    """Timeframe and tab changed by clicks are in the URL and still chosen after a reload; a link with settings
    (ETHUSDT/BTCUSDT, 5s, window 30, Prices tab) opens on them, with no warning and no traceback."""
    require_chromium()
    db = build_real_db(tmp_path / "ticks.db")
    with dashboard(db, tmp_path) as base, chromium_page() as page:
        page.goto(f"{base}/")
        expect(page.get_by_text("Live pair")).to_be_visible()
        sidebar = page.locator('[data-testid="stSidebar"]')
        wait_until_drawn(page)
        sidebar.get_by_role("radio", name="1m", exact=True).click()
        page.wait_for_function("() => location.search.includes('tf=1m')")
        wait_until_drawn(page)  # a click during the rerun would be drawn over by it
        page.get_by_role("tab", name="Correlation", exact=True).click()
        page.wait_for_function("() => location.search.includes('tab=correlation')")
        wait_until_drawn(page)
        page.reload()
        expect(page.get_by_text("Live pair")).to_be_visible()
        expect(page.get_by_role("tab", name="Correlation", exact=True)).to_have_attribute("aria-selected", "true")
        expect(sidebar.get_by_role("radio", name="1m", exact=True)).to_have_attribute("aria-checked", "true")
        assert query(page)["tf"] == "1m" and query(page)["tab"] == "correlation"
        expect(page.get_by_text("Charts: 1m bars", exact=False)).to_be_visible()

        page.goto(f"{base}/?a=ETHUSDT&b=BTCUSDT&tf=5s&window=30&corr=prices&tab=prices")
        expect(page.get_by_text("Pairs desk · ETHUSDT / BTCUSDT")).to_be_visible()
        expect(page.get_by_role("tab", name="Prices", exact=True)).to_have_attribute("aria-selected", "true")
        expect(page.get_by_text("Charts: 5s bars", exact=False)).to_be_visible()
        expect(page.get_by_text("Correlation of price levels").first).to_be_visible()
        expect(sidebar.get_by_role("spinbutton", name="Rolling window (bars)")).to_have_value("30")
        wait_until_drawn(page)
        assert query(page)["a"] == "ETHUSDT" and query(page)["tf"] == "5s" and query(page)["window"] == "30"
        expect(page.locator(EXCEPTION_BOXES)).to_have_count(0)
        assert "The link's" not in page.locator("body").inner_text()

        page.goto(f"{base}/?a=DOGEUSDT&tf=7s")
        expect(page.get_by_text("The link's a=DOGEUSDT is not in the database")).to_be_visible()
        expect(page.get_by_text("The link's tf=7s is not a timeframe")).to_be_visible()
        expect(page.get_by_text("Charts: 1s bars", exact=False)).to_be_visible()
        screenshot(page, REPO_ROOT / "docs" / "url_settings.png")
        expect(page.locator(EXCEPTION_BOXES)).to_have_count(0)
