"""Safe by default, in a real headless Chromium against ``run_all.py --demo --api``: the page and the API
docs render with every request outside loopback blocked (and none is attempted); started on this
machine's network address, a write without the token is refused (page and API) and works with it."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from browser import CHARTS, EXCEPTION_BOXES, chromium_page, require_chromium, screenshot, wait_until_drawn
from conftest import REPO_ROOT
from pairdesk import access, store
from pairdesk.ingest.backfill import HISTORY_REASON
from test_end_to_end import stop_tree, stored_trades
from test_ingestor import wait_until

ARTIFACTS = REPO_ROOT / "artifacts"
START_WITHIN_S = 60.0
TOKEN = "browser-s3cret"
RULE = {"kind": "price_cross", "symbols": ["BTCUSDT"], "params": {"threshold": 1_000_000}}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def network_address() -> str:
    """This machine's first IPv4 address beyond loopback (``hostname -I``), or a failed test saying so."""
    found = [a for a in subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
             if "." in a and not a.startswith("127.")]
    if not found:
        pytest.fail("this machine has no IPv4 address beyond loopback to listen on (hostname -I)", pytrace=False)
    return found[0]


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def desk(tmp_path: Path, *extra: str) -> Iterator[tuple[int, int, Path]]:
    """``run_all.py --demo --api`` with ``extra`` flags, on fresh ports and database, until trades are stored
    and both servers answer; stopped (no process left) on exit. Yields (dashboard port, API port, db)."""
    require_chromium()
    port, api_port, db = free_port(), free_port(), tmp_path / "demo.db"
    host = extra[extra.index("--host") + 1] if "--host" in extra else "127.0.0.1"
    env = {k: v for k, v in os.environ.items() if k not in (access.TOKEN_ENV, access.LEGACY_TOKEN_ENV)}
    log = (tmp_path / "run_all.log").open("w")
    proc = subprocess.Popen([sys.executable, str(REPO_ROOT / "run_all.py"), "--demo", "--api", "--db", str(db),
                             "--port", str(port), "--api-port", str(api_port), *extra],
                            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        wait_until(lambda: proc.poll() is not None or (stored_trades(db) > 0 and answers(host, port)
                                                       and answers(host, api_port)), START_WITHIN_S)
        assert proc.poll() is None, (tmp_path / "run_all.log").read_text()
        yield port, api_port, db
    finally:
        stopped = stop_tree(proc, 10)
        log.close()
        assert stopped.left == []


@contextmanager
def offline(page: Page) -> Iterator[list[str]]:
    """Every request of ``page`` to a host beyond loopback is aborted and listed in the yielded list."""
    blocked: list[str] = []

    def handle(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).hostname not in LOOPBACK_HOSTS:
            blocked.append(url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", handle)
    yield blocked


@pytest.mark.browser
def test_page_and_api_docs_render_with_no_request_leaving_loopback(tmp_path):
    """Dashboard (status, live cards, charts), /docs (Swagger UI) and /redoc (ReDoc) render fully while
    every request beyond loopback would be blocked: none is attempted."""
    with desk(tmp_path) as (port, api_port, _db), chromium_page() as page, offline(page) as blocked:
        page.goto(f"http://127.0.0.1:{port}/")
        expect(page.locator("body")).to_contain_text("Connectivity")
        expect(page.locator("body")).to_contain_text("Live pair")
        expect(page.locator(CHARTS).nth(2)).to_be_attached()
        wait_until_drawn(page)
        expect(page.locator(EXCEPTION_BOXES)).to_have_count(0)
        screenshot(page, ARTIFACTS / "dashboard_offline.png")
        page.goto(f"http://127.0.0.1:{api_port}/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Pairs desk REST API")
        expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "api_docs_offline.png"))
        redoc = page.goto(f"http://127.0.0.1:{api_port}/redoc")
        expect(page.locator("h1").first).to_contain_text("Pairs desk REST API")
        # ReDoc's bundle shows Redocly's logo from its CDN: the docs pages' policy keeps it from leaving
        assert "img-src 'self' data:" in redoc.headers["content-security-policy"]
        assert blocked == []


def history_fetched(db: Path) -> bool:
    """The ingestor's start-up history fetch is complete for every symbol it began one for."""
    try:
        conn = store.open_reader(db)
    except store.StoreError:
        return False
    try:
        gaps = store.read_gaps(conn)
    finally:
        conn.close()
    history = gaps[gaps["reason"] == HISTORY_REASON]
    return len(history) >= 2 and (history["status"] == "filled").all()


@pytest.mark.browser
def test_from_the_network_a_write_needs_the_token(tmp_path):
    """run_all --host <this machine's address> --token: through that address the page's write controls
    are locked and the API refuses an unauthenticated write (401); with the token both write, and the
    watchlist answer names the refused symbol with its reason."""
    host = network_address()
    with desk(tmp_path, "--host", host, "--token", TOKEN) as (port, api_port, db):
        api = f"http://{host}:{api_port}"
        assert httpx.post(f"{api}/api/alerts", json=RULE).status_code == 401
        assert httpx.get(f"{api}/api/alerts").status_code == 200
        created = httpx.post(f"{api}/api/alerts", json=RULE, headers={"Authorization": f"Bearer {TOKEN}"})
        assert created.status_code == 201, created.text
        assert not answers("127.0.0.1", port)  # bound to the network address only, as asked
        # the demo's start-up history fetch keeps the local exchange busy for a few seconds; the page's
        # quick listing check (2 s) is asked once it is done, so that the refusal can come back at once
        wait_until(lambda: history_fetched(db), 120)

        with chromium_page() as page:
            page.goto(f"http://{host}:{port}/")
            expect(page.locator("body")).to_contain_text("Connectivity")
            sidebar = page.locator('[data-testid="stSidebar"]')
            sidebar.get_by_text("Symbols the ingestor follows").click()
            save = sidebar.get_by_role("button", name="Save watchlist")
            expect(save).to_be_disabled()
            expect(sidebar).to_contain_text("Writes need the desk's token")
            token = sidebar.get_by_label("Desk token", exact=True).and_(sidebar.locator("input"))
            token.fill("wrong")
            token.press("Enter")
            wait_until_drawn(page)
            expect(save).to_be_disabled()
            token.fill(TOKEN)
            token.press("Enter")
            expect(save).to_be_enabled()
            expect(sidebar).to_contain_text("Token accepted")
            box = sidebar.locator("textarea[aria-label=\"Symbols, separated by commas or spaces\"]")
            box.fill("BTCUSDT, ETHUSDT, NOPEUSDT")
            box.press("Control+Enter")
            wait_until_drawn(page)
            save.click()
            expect(sidebar).to_contain_text("Refused: not trading on spot (1): NOPEUSDT")
            screenshot(page, ARTIFACTS / "dashboard_write_access.png")
            expect(page.locator(EXCEPTION_BOXES)).to_have_count(0)
        conn = store.open_reader(db)
        try:
            assert [s for s, _ in store.read_watchlist(conn)] == ["BTCUSDT", "ETHUSDT"]
        finally:
            conn.close()
