"""Headless Chromium for the end-to-end tests, through Playwright (test helper).

Playwright drives Debian's ``chromium`` (``make browser`` installs it); it never downloads a browser of
its own, so ``playwright install`` is never needed. Every wait is a Playwright condition
(``expect(...)``, ``wait_for_*``) with a generous deadline; closing the browser waits for its process
to exit, so nothing is left behind when a test ends, passed or failed.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM_PATH = Path("/usr/bin/chromium")  # Debian's package; CI installs it before the tests
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions"]
WAIT_MS = 60_000  # the deadline of every Playwright wait: a cold Streamlit start on a busy 2-core machine fits
VIEWPORT = {"width": 1400, "height": 2400}
EXCEPTION_BOXES = '[data-testid="stException"]'  # Streamlit's traceback element
CHARTS = ".js-plotly-plot"
LOADING = '[data-testid="stSkeleton"], [data-testid="stStatusWidgetRunningIcon"]'  # placeholders, "Running..."

expect.set_options(timeout=WAIT_MS)  # expect(...) polls its condition until this deadline (Playwright's default: 5 s)


def require_chromium() -> Path:
    """Debian's chromium, or a failed test that says how to install it (the browser tests never skip)."""
    if not CHROMIUM_PATH.exists():
        pytest.fail(f"the browser tests need Debian's chromium at {CHROMIUM_PATH}: run `make browser` "
                    "(apt-get install chromium)", pytrace=False)
    return CHROMIUM_PATH


@contextmanager
def chromium_page() -> Iterator[Page]:
    """``with chromium_page() as page:`` one page in a fresh headless Chromium, closed (process gone) on exit."""
    executable = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(WAIT_MS)
            yield page
        finally:
            browser.close()


def wait_until_drawn(page: Page) -> None:
    """Until a moment when Streamlit runs no script and no element is a loading placeholder."""
    expect(page.locator(LOADING)).to_have_count(0)


def screenshot(page: Page, path: Path) -> Path:
    """The whole page as a PNG once it is drawn, animations stopped (a toast or an expander is drawn at rest)."""
    wait_until_drawn(page)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path
