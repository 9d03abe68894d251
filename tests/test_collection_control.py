"""Collection control: the store's pause / resume rule, its light, and POST /api/stop, /api/start."""
from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pairdesk import health, store
from pairdesk.api.main import create_app

TOKEN = "test-token-1234"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def followed_db(db_path: Path) -> Path:
    """A database whose watchlist follows BTCUSDT, ETHUSDT and SOLUSDT."""
    conn = store.open_writer(db_path, "spot", "trade")
    with store.transaction(conn):
        store.replace_watchlist(conn, ["BTCUSDT", "ETHUSDT", "SOLUSDT"])
    conn.close()
    return db_path


def change(db: Path, symbols, paused: bool, backfill: bool = False) -> list[str]:
    with store.write_session(db) as conn:
        return store.set_collection(conn, symbols, paused, backfill)


def rows(db: Path) -> dict[str, store.CollectionRow]:
    with store.write_session(db) as conn:
        return {row.symbol: row for row in store.read_collection(conn)}


def test_pause_some_then_all_then_resume_with_backfill(followed_db):
    """Pausing names the symbols it changed; none named means every followed one; a resume keeps its backfill flag."""
    assert change(followed_db, ["ethusdt"], True) == ["ETHUSDT"]
    assert change(followed_db, ["ETHUSDT"], True) == []  # already paused
    assert change(followed_db, None, True) == ["BTCUSDT", "SOLUSDT"]
    first = rows(followed_db)
    assert all(row.paused and row.paused_ms for row in first.values())
    assert change(followed_db, "BTCUSDT,SOLUSDT", False, backfill=True) == ["BTCUSDT", "SOLUSDT"]
    after = rows(followed_db)
    assert not after["BTCUSDT"].paused and after["BTCUSDT"].backfill and after["ETHUSDT"].paused
    assert after["BTCUSDT"].paused_ms == first["BTCUSDT"].paused_ms  # when it was paused is kept
    assert min(r.changed_ms for r in after.values() if not r.paused) > max(r.changed_ms for r in first.values())
    with store.write_session(followed_db) as conn:
        assert store.paused_symbols(conn) == ["ETHUSDT"]


@pytest.mark.parametrize("symbols, message", [
    (["DOGEUSDT"], "DOGEUSDT not followed"),
    (["BTC-USDT"], "is not a symbol"),
])
def test_a_symbol_not_followed_or_malformed_is_refused_and_nothing_is_written(followed_db, symbols, message):
    """Only followed, well-formed symbols can be paused; a refusal writes nothing."""
    with pytest.raises(store.CollectionError, match=message):
        change(followed_db, ["BTCUSDT", *symbols], True)
    assert rows(followed_db) == {}


def test_nothing_can_be_paused_before_anything_is_followed(db_path):
    """With no watchlist stored, pausing says what to do first."""
    store.open_writer(db_path, "spot", "trade").close()
    with pytest.raises(store.CollectionError, match="no symbols are followed yet"):
        change(db_path, None, True)


def test_a_paused_feed_is_grey_not_red():
    """A paused feed with a fresh heartbeat is its own light; stale heartbeat is still red; all paused is grey."""
    now = 1_000_000
    paused = health.feed_health("BTCUSDT", {"state": "paused", "updated_ms": now - 500}, now)
    assert (paused.colour, paused.label) == ("grey", "paused")
    assert health.feed_health("BTCUSDT", {"state": "paused", "updated_ms": now - 60_000}, now).colour == "red"
    live = health.FeedHealth("ETHUSDT", "green", "streaming")
    assert health.overall_colour([paused, live]) == "green"
    assert health.overall_colour([paused]) == "grey"


def test_paused_gap_is_recorded_as_paused_and_never_listed_for_backfill(followed_db):
    """A paused gap is in the gaps log with status "paused" and not among the open gaps the ingestor fills."""
    with store.write_session(followed_db) as conn:
        store.record_paused_gap(conn, "BTCUSDT", 10, 20, "collection paused")
        assert store.list_open_gaps(conn) == []
        gaps = store.read_gaps(conn, "BTCUSDT")
    assert list(gaps["status"]) == ["paused"] and list(gaps["to_id"]) == [20]


def test_stop_and_start_need_the_token(followed_db):
    """Without a token configured the routes are off (403); with one, a wrong or missing token is 401."""
    assert TestClient(create_app(followed_db)).post("/api/stop").status_code == 403
    client = TestClient(create_app(followed_db, TOKEN))
    assert client.post("/api/stop").status_code == 401
    assert client.post("/api/start", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert rows(followed_db) == {}


def test_stop_and_start_through_the_api_write_the_same_rows_as_the_store(followed_db):
    """POST /api/stop pauses all (or the named) symbols; POST /api/start?backfill=true resumes with backfill."""
    client = TestClient(create_app(followed_db, TOKEN))
    stopped = client.post("/api/stop", params={"symbols": "ethusdt"}, headers=AUTH)
    assert stopped.status_code == 200, stopped.text
    assert stopped.json() == {"changed": ["ETHUSDT"], "paused": ["ETHUSDT"], "backfill": False}
    assert client.post("/api/stop", headers=AUTH).json()["paused"] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    started = client.post("/api/start", params={"symbols": "BTCUSDT", "backfill": "true"}, headers=AUTH).json()
    assert started == {"changed": ["BTCUSDT"], "paused": ["ETHUSDT", "SOLUSDT"], "backfill": True}
    assert rows(followed_db)["BTCUSDT"].backfill
    assert client.post("/api/start", headers=AUTH).json() == {"changed": ["ETHUSDT", "SOLUSDT"], "paused": [],
                                                               "backfill": False}


@pytest.mark.parametrize("params", [{"symbols": "DOGEUSDT"}, {"symbols": "BTC USDT"}, {"backfill": "maybe"}])
def test_bad_symbols_or_flag_are_a_one_line_422(followed_db, params):
    """A symbol not followed, a malformed one, or a bad backfill flag: 422 with one line, nothing written."""
    response = TestClient(create_app(followed_db, TOKEN)).post("/api/start", params=params, headers=AUTH)
    assert response.status_code == 422 and "\n" not in response.json()["detail"]
    assert rows(followed_db) == {}


def test_status_shows_a_paused_feed_as_paused(followed_db):
    """/api/status reports a feed the ingestor wrote as paused with verdict grey and label paused."""
    with store.write_session(followed_db) as conn:
        store.upsert_status(conn, "BTCUSDT", state="paused")
    body = TestClient(create_app(followed_db)).get("/api/status").json()
    feed = next(f for f in body["feeds"] if f["symbol"] == "BTCUSDT")
    assert (feed["verdict"], feed["label"], feed["state"]) == ("grey", "paused", "paused")
    assert body["verdict"] == "grey"


def test_the_routes_are_documented_with_their_parameters(followed_db):
    """OpenAPI lists POST /api/stop (symbols) and POST /api/start (symbols, backfill)."""
    schema = TestClient(create_app(followed_db, TOKEN)).get("/openapi.json").json()["paths"]
    assert [p["name"] for p in schema["/api/stop"]["post"]["parameters"]] == ["symbols"]
    assert sorted(p["name"] for p in schema["/api/start"]["post"]["parameters"]) == ["backfill", "symbols"]
