"""Safe by default: the write-access rule (``pairdesk.access``) in the API and on the page, the offline
docs, and the watchlist checked against the exchange's listing (per symbol followed / pending / refused)."""
from __future__ import annotations

import json
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import streamlit as st
from conftest import REPO_ROOT
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from pairdesk import access, binance, launcher, store, watchlist
from pairdesk.api.main import create_app
from pairdesk.dashboard import data, header, write_access

TOKEN = "s3cret-desk"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LAN_HOST = "192.0.2.7"  # TEST-NET-1: an address beyond loopback (never bound: the rule reads the setting)
RULE = {"kind": "price_cross", "symbols": ["BTCUSDT"], "params": {"threshold": 50_000}}
LISTED = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


@pytest.fixture
def spot_db(tmp_path: Path) -> Path:
    """A spot trade database with a few BTCUSDT / ETHUSDT trades and a followed BTCUSDT feed."""
    path = tmp_path / "ticks.db"
    trades = [binance.Trade(symbol, 1 + i, 1_723_161_255_000 + 1_000 * i, price + i, 0.5, False)
              for symbol, price in (("BTCUSDT", 61_000.0), ("ETHUSDT", 2_600.0)) for i in range(5)]
    store.write_trades(path, trades, market="spot", stream="trade")
    with store.write_session(path) as conn:
        store.upsert_status(conn, "BTCUSDT", state="live")
    return path


@contextmanager
def listing_server(symbols=LISTED) -> Iterator[str]:
    """A real HTTP server on a free loopback port answering /api/v3/exchangeInfo with ``symbols`` (TRADING)
    and one BREAK symbol; yields its base URL."""
    body = json.dumps({"symbols": [*({"symbol": s, "status": "TRADING"} for s in symbols),
                                   {"symbol": "HALTUSDT", "status": "BREAK"}]}).encode()

    class Listing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            found = self.path.startswith("/api/v3/exchangeInfo")
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body if found else b"{}")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Listing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def record_exchange(db: Path, url: str) -> None:
    with store.write_session(db) as conn:
        store.record_rest_url(conn, url)


def watchlist_rows(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [s for (s,) in conn.execute("SELECT symbol FROM watchlist ORDER BY symbol")]


def rule_count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM alert_rules").fetchone()[0]


# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize("host, beyond", [
    ("127.0.0.1", False), ("127.3.2.1", False), ("::1", False), ("[::1]", False), ("localhost", False),
    ("LOCALHOST", False), ("0.0.0.0", True), ("::", True), ("", True), (None, True), (LAN_HOST, True),
    ("desk.example.org", True)])
def test_only_loopback_addresses_count_as_this_machine(host, beyond):
    """Loopback addresses and names are this machine; every interface, a LAN address or any other name is not."""
    assert access.listens_beyond_loopback(host) is beyond


def test_the_token_comes_from_the_flag_then_the_shared_variable_then_the_api_s_old_one(monkeypatch):
    """--token wins over $PAIRDESK_TOKEN, which wins over $API_TOKEN; empty values count as unset."""
    monkeypatch.setenv(access.LEGACY_TOKEN_ENV, "old")
    assert access.configured_token() == "old"
    monkeypatch.setenv(access.TOKEN_ENV, "shared")
    assert access.configured_token() == "shared" and access.configured_token("flag") == "flag"
    monkeypatch.setenv(access.TOKEN_ENV, "")
    monkeypatch.delenv(access.LEGACY_TOKEN_ENV)
    assert access.configured_token() is None and access.configured_token("") is None


def test_a_write_beyond_loopback_needs_the_configured_token():
    """On loopback anything goes; beyond it only the configured token, and nothing without one configured."""
    assert access.write_refusal("127.0.0.1", None, None) is None
    assert access.write_refusal(LAN_HOST, TOKEN, TOKEN) is None
    assert "missing or wrong" in access.write_refusal(LAN_HOST, TOKEN, None)
    assert "missing or wrong" in access.write_refusal(LAN_HOST, TOKEN, TOKEN + "x")
    assert "no token is set" in access.write_refusal("0.0.0.0", None, "anything")
    assert not access.token_matches("", "") and not access.token_matches(None, None)


# --------------------------------------------------------------------------- the API


WRITES = [("post", "/api/alerts", RULE), ("delete", "/api/alerts/1", None), ("patch", "/api/alerts/1", {"enabled": False}),
          ("post", "/api/alerts/1/acknowledge", None), ("post", "/api/alerts/triggered/acknowledge", {"event_ids": [1]}),
          ("put", "/api/watchlist", {"symbols": ["BTCUSDT"]}), ("post", "/api/stop", None), ("post", "/api/start", None)]


@pytest.mark.parametrize("method, url, body", WRITES)
def test_api_beyond_loopback_refuses_every_write_without_the_token(spot_db, method, url, body):
    """Listening on a network address, every write route answers 401 without the token and changes nothing."""
    client = TestClient(create_app(spot_db, TOKEN, LAN_HOST))
    before = (rule_count(spot_db), watchlist_rows(spot_db))
    response = client.request(method, url, json=body)
    assert response.status_code == 401 and "token" in response.json()["detail"]
    assert (rule_count(spot_db), watchlist_rows(spot_db)) == before


def test_api_beyond_loopback_writes_with_the_token_and_reads_without(spot_db):
    """With the token a rule is created, edited, deleted; reads need no token there either."""
    client = TestClient(create_app(spot_db, TOKEN, LAN_HOST))
    created = client.post("/api/alerts", json=RULE, headers=AUTH)
    assert created.status_code == 201
    rule_id = created.json()["rule_id"]
    assert client.patch(f"/api/alerts/{rule_id}", json={"enabled": False}, headers=AUTH).status_code == 200
    assert client.get("/api/alerts").status_code == 200 and client.get("/api/status").status_code == 200
    assert client.delete(f"/api/alerts/{rule_id}", headers=AUTH).status_code == 200


def test_api_upload_beyond_loopback_needs_the_token(spot_db):
    """A history upload is a write: 401 without the token, stored with it."""
    client = TestClient(create_app(spot_db, TOKEN, LAN_HOST))
    bars = "time,open,high,low,close,volume\n1723161600000,1,2,0.5,1.5,10\n"
    files = {"file": ("SOLUSDT-bars.csv", bars, "text/csv")}
    refused = client.post("/api/upload", files=files, data={"symbol": "SOLUSDT"})
    assert refused.status_code == 401
    assert "SOLUSDT" not in store.list_symbols(store.open_reader(spot_db))
    assert client.post("/api/upload", files=files, data={"symbol": "SOLUSDT"}, headers=AUTH).status_code == 200


def test_api_beyond_loopback_without_a_token_refuses_every_write(spot_db):
    """Exposed with no token configured, writes are off (403 saying how to turn them on)."""
    response = TestClient(create_app(spot_db, None, "0.0.0.0")).post("/api/alerts", json=RULE, headers=AUTH)
    assert response.status_code == 403 and "no token is set" in response.json()["detail"]
    assert rule_count(spot_db) == 0


def test_api_on_loopback_keeps_its_open_writes(spot_db):
    """On 127.0.0.1 alert rules need no token, as before; the watchlist still does."""
    client = TestClient(create_app(spot_db, TOKEN))
    assert client.post("/api/alerts", json=RULE).status_code == 201
    assert client.put("/api/watchlist", json={"symbols": ["BTCUSDT"]}).status_code == 401


def test_the_listening_address_decides_not_a_forwarded_header(spot_db):
    """A client that claims to be local (X-Forwarded-For, Host) is still refused on an exposed server."""
    client = TestClient(create_app(spot_db, TOKEN, LAN_HOST))
    forged = {"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1", "Host": "127.0.0.1"}
    assert client.post("/api/alerts", json=RULE, headers=forged).status_code == 401


@pytest.mark.parametrize("page, script", [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")])
def test_docs_pages_load_their_assets_from_the_api_itself(spot_db, page, script):
    """/docs and /redoc reference only local assets (no CDN, no Google Fonts), and those assets are served."""
    client = TestClient(create_app(spot_db))
    html = client.get(page).text
    assert f"/static-offline-docs/{script}" in html
    assert "cdn.jsdelivr" not in html and "fonts.googleapis" not in html and "unpkg" not in html
    asset = client.get(f"/static-offline-docs/{script}")
    assert asset.status_code == 200 and len(asset.content) > 100_000


# --------------------------------------------------------------------------- the watchlist's answers


def test_symbol_states_followed_pending_refused():
    """The shared rule: followed beats everything; a listing refuses what it lacks; without one, only
    the ingestor's own refusals are refused and the rest is pending; an empty listing refuses nothing."""
    states = watchlist.symbol_states(["BTCUSDT", "SOLUSDT", "NOPEUSDT"], "spot", {"BTCUSDT"}, set(LISTED))
    assert states == {"BTCUSDT": "followed", "SOLUSDT": "pending", "NOPEUSDT": "refused: not trading on spot"}
    unknown = watchlist.symbol_states(["SOLUSDT", "NOPEUSDT"], "futures", (), None, {"NOPEUSDT"})
    assert unknown == {"SOLUSDT": "pending", "NOPEUSDT": "refused: not trading on futures"}
    assert watchlist.symbol_states(["NOPEUSDT"], "spot", (), set()) == {"NOPEUSDT": "pending"}
    assert watchlist.accepted(states) == ["BTCUSDT", "SOLUSDT"]


def test_put_watchlist_checks_the_listing_and_says_per_symbol(spot_db):
    """Against the exchange the ingestor recorded: a symbol not trading (absent, or in BREAK) is refused
    and not stored; the rest is stored, followed or pending; the refusal is kept for GET."""
    client = TestClient(create_app(spot_db, TOKEN))
    with listing_server() as url:
        record_exchange(spot_db, url)
        answer = client.put("/api/watchlist", json={"symbols": ["btcusdt", "SOLUSDT", "NOPEUSDT", "HALTUSDT"]},
                            headers=AUTH).json()
    assert answer["symbols"] == ["BTCUSDT", "SOLUSDT"] == watchlist_rows(spot_db)
    assert answer["refused"] == ["NOPEUSDT", "HALTUSDT"]
    assert answer["states"] == {"BTCUSDT": "followed", "SOLUSDT": "pending",
                                "NOPEUSDT": "refused: not trading on spot", "HALTUSDT": "refused: not trading on spot"}
    assert client.get("/api/watchlist", headers=AUTH).json()["states"]["NOPEUSDT"] == "refused: not trading on spot"


def test_put_watchlist_of_only_refused_symbols_is_a_422_and_changes_nothing(spot_db):
    """Nothing left to follow: one line naming the symbols and the reason; the stored list stays."""
    client = TestClient(create_app(spot_db, TOKEN))
    with listing_server() as url:
        record_exchange(spot_db, url)
        client.put("/api/watchlist", json={"symbols": ["BTCUSDT"]}, headers=AUTH)
        response = client.put("/api/watchlist", json={"symbols": ["NOPEUSDT"]}, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"] == "NOPEUSDT: refused: not trading on spot; the watchlist is unchanged"
    assert watchlist_rows(spot_db) == ["BTCUSDT"]


def test_put_watchlist_with_the_exchange_unreachable_answers_pending(spot_db, unused_port):
    """No listing within the timeout (nothing listens there): every new symbol is stored as pending."""
    record_exchange(spot_db, f"http://127.0.0.1:{unused_port}")
    answer = TestClient(create_app(spot_db, TOKEN)).put(
        "/api/watchlist", json={"symbols": ["SOLUSDT", "NOPEUSDT"]}, headers=AUTH).json()
    assert answer["states"] == {"SOLUSDT": "pending", "NOPEUSDT": "pending"} and answer["refused"] == []


# --------------------------------------------------------------------------- the page


@pytest.fixture
def listening(monkeypatch):
    """Set Streamlit's server.address for the test (as --server.address would), restored afterwards."""
    before = st.get_option("server.address")

    def listen(host: str) -> None:
        st.config.set_option("server.address", host)

    yield listen
    st.config.set_option("server.address", before)


def run_page(monkeypatch, db: Path) -> AppTest:
    monkeypatch.setattr(sys, "argv", ["app.py", "--db", str(db)])
    monkeypatch.delenv(header.DB_ENV_VAR, raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    page = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=30)
    page.run()
    assert not page.exception, [e.value for e in page.exception]
    return page


WRITE_BUTTONS = ("watchlist_save", "collection_pause", "collection_resume", "rf_save", "rf_test")


def test_page_on_loopback_writes_freely(monkeypatch, spot_db):
    """The default (127.0.0.1): no token field, every write control enabled."""
    assert st.get_option("server.address") == "127.0.0.1"  # .streamlit/config.toml
    with store.write_session(spot_db) as conn:
        store.replace_watchlist(conn, ["BTCUSDT", "ETHUSDT"])  # something to pause
    page = run_page(monkeypatch, spot_db)
    assert write_access.TOKEN_KEY not in [t.key for t in page.text_input]
    assert not any(page.button(key=key).disabled for key in WRITE_BUTTONS)
    assert write_access.writes_allowed() == (True, "")


def test_page_beyond_loopback_locks_writes_until_the_token_is_entered(monkeypatch, spot_db, listening):
    """Exposed: the write controls are disabled with the reason (a wrong token leaves them so); the right
    token in the sidebar field unlocks them and the write goes through."""
    monkeypatch.setenv(access.TOKEN_ENV, TOKEN)
    listening("0.0.0.0")
    page = run_page(monkeypatch, spot_db)
    assert all(page.button(key=key).disabled for key in WRITE_BUTTONS)
    assert any("enter it under “Write access”" in c.value for c in page.caption)
    with pytest.raises(Exception, match="disabled"):  # a browser cannot click it either
        page.button(key="watchlist_save").click()
    page.text_input(key=write_access.TOKEN_KEY).set_value("wrong").run()
    assert page.button(key="watchlist_save").disabled
    page.text_input(key=write_access.TOKEN_KEY).set_value(TOKEN).run()
    assert not page.button(key="watchlist_save").disabled
    page.text_area(key="watchlist_text").set_value("BTCUSDT, SOLUSDT")
    page.button(key="watchlist_save").click().run()
    assert watchlist_rows(spot_db) == ["BTCUSDT", "SOLUSDT"]


def test_page_beyond_loopback_without_a_token_set_says_how_to_set_one(monkeypatch, spot_db, listening):
    """No token configured: every write stays off, and the reason says how to start the page."""
    monkeypatch.delenv(access.TOKEN_ENV, raising=False)
    monkeypatch.delenv(access.LEGACY_TOKEN_ENV, raising=False)
    listening(LAN_HOST)
    page = run_page(monkeypatch, spot_db)
    assert page.button(key="watchlist_save").disabled
    assert any("no token is set" in c.value and "--token" in c.value for c in page.caption)


def test_every_page_write_path_goes_through_the_guard(monkeypatch, spot_db, listening):
    """``data.writer`` (rules, acknowledgements, watchlist, pause / resume) refuses beyond loopback without
    the token, before any connection is opened."""
    monkeypatch.setenv(access.TOKEN_ENV, TOKEN)
    listening(LAN_HOST)
    with pytest.raises(write_access.WriteRefused, match="token"):
        data.writer(str(spot_db))
    from pairdesk.dashboard import alerts_data
    with pytest.raises(write_access.WriteRefused):
        alerts_data.save_rule(str(spot_db), RULE)
    assert rule_count(spot_db) == 0


def test_sidebar_watchlist_says_per_symbol_what_became_of_it(monkeypatch, spot_db):
    """Saving checks the listing: the refused symbol is not stored and the panel names it with the reason."""
    with listing_server() as url:
        record_exchange(spot_db, url)
        page = run_page(monkeypatch, spot_db)
        page.text_area(key="watchlist_text").set_value("btcusdt solusdt nopeusdt")
        page.button(key="watchlist_save").click().run()
    assert watchlist_rows(spot_db) == ["BTCUSDT", "SOLUSDT"]
    captions = [c.value for c in page.caption]
    assert "Followed (1): BTCUSDT" in captions and "Pending (1): SOLUSDT" in captions
    assert "Refused: not trading on spot (1): NOPEUSDT" in captions
    assert not page.exception


def test_sidebar_watchlist_of_only_refused_symbols_is_one_line(monkeypatch, spot_db):
    """All refused: one error line, nothing stored."""
    with listing_server() as url:
        record_exchange(spot_db, url)
        page = run_page(monkeypatch, spot_db)
        page.text_area(key="watchlist_text").set_value("NOPEUSDT")
        page.button(key="watchlist_save").click().run()
    assert watchlist_rows(spot_db) == []
    assert [e.value for e in page.error] == ["Not saved: NOPEUSDT: refused: not trading on spot."]


# --------------------------------------------------------------------------- run_all


def test_run_all_keeps_the_dashboard_on_loopback_unless_told():
    """--server.address is 127.0.0.1 by default and --host otherwise; --api-token is the same setting as --token."""
    default = launcher.Supervisor(launcher.parse_args([])).dashboard_argv()
    assert default[default.index("--server.address") + 1] == "127.0.0.1"
    args = launcher.parse_args(["--host", LAN_HOST, "--api-token", TOKEN])
    exposed = launcher.Supervisor(args).dashboard_argv()
    assert exposed[exposed.index("--server.address") + 1] == LAN_HOST and args.token == TOKEN
    assert TOKEN not in " ".join(exposed)  # the token travels in the environment, not on the command line
