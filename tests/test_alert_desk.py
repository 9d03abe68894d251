"""Rules as a desk keeps them, through the repository and the API: identical enabled rules refused (409),
when each rule last fired, destinations masked in answers and kept when sent back masked, the
send-test endpoints against a real local receiver, and migration 8 (webhook_url -> notify)."""
from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from pairdesk import alerts, store
from pairdesk.alerts import repository
from pairdesk.dashboard import alerts_data
from test_alert_monitor import Recorder
from test_api import MIDNIGHT_MS, client_for, file_digest  # noqa: F401
from test_api import db_copy, recorded_db  # noqa: F401  (fixtures)

PAIR = ["BTCUSDT", "ETHUSDT"]
ZSCORE = {"kind": "zscore", "symbols": PAIR, "params": {"threshold": 2.5}, "window": 30}
TOKEN_URL = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654321"


def add(client, spec: dict, status: int = 201) -> dict:
    response = client.post("/api/alerts", json=spec)
    assert response.status_code == status, response.text
    return response.json()


def writer_conn(path: Path):
    return closing(store.open_writer(path, "spot", "trade"))


# --------------------------------------------------------------------------- identical rules


def test_the_repository_refuses_an_identical_enabled_rule_and_writes_nothing(db_copy):
    """Same kind, symbols, timeframe, window, hedge and params (defaults filled in) as an enabled rule:
    DuplicateRule naming it, in one line, nothing written; a disabled twin or another name/cooldown/URL is no excuse."""
    first = alerts.validate_rule(ZSCORE, PAIR)
    twin = alerts.validate_rule({**ZSCORE, "name": "again", "cooldown_s": 5, "notify": ["json://127.0.0.1:9/x"],
                                 "params": {"threshold": 2.5, "hysteresis": 0.5}}, PAIR)
    with writer_conn(db_copy) as conn:
        with store.transaction(conn):
            first_id = repository.insert_rule(conn, first)
        before = file_digest(db_copy)
        with pytest.raises(repository.DuplicateRule) as refused, store.transaction(conn):
            repository.insert_rule(conn, twin)
        assert str(refused.value) == (
            f"an identical enabled rule exists: #{first_id} “{first.name}” (same kind, symbols, timeframe, window, "
            f"hedge and parameters); change one of them, or switch #{first_id} off first")
        assert isinstance(refused.value, alerts.RuleError) and len(repository.list_rules(conn)) == 1
        assert file_digest(db_copy) == before
        with store.transaction(conn):  # a disabled twin may be stored, but not switched on
            twin_id = repository.insert_rule(conn, alerts.validate_rule({**ZSCORE, "enabled": False}, PAIR))
        with pytest.raises(repository.DuplicateRule), store.transaction(conn):
            repository.set_enabled(conn, twin_id, True)
        with store.transaction(conn):  # another window is another rule; an edit into a twin is refused
            other_id = repository.insert_rule(conn, alerts.validate_rule({**ZSCORE, "window": 31}, PAIR))
        with pytest.raises(repository.DuplicateRule), store.transaction(conn):
            repository.update_rule(conn, other_id, first)
        with store.transaction(conn):  # a rule may be saved again as itself
            assert repository.update_rule(conn, first_id, first)
    assert [(r.window, r.enabled) for r in read_rules(db_copy)] == [(30, True), (30, False), (31, True)]


def read_rules(path: Path) -> list[alerts.AlertRule]:
    return alerts_data.read_rules(str(path))


def test_the_api_answers_409_with_the_message_for_an_identical_enabled_rule(db_copy):
    """POST, PUT and PATCH that would make two identical enabled rules are 409 with the one-line message."""
    client = client_for(db_copy)
    first = add(client, ZSCORE)
    refused = add(client, {**ZSCORE, "name": "copy"}, status=409)
    assert refused["detail"].startswith(f"an identical enabled rule exists: #{first['rule_id']}")
    off = add(client, {**ZSCORE, "enabled": False})
    switched = client.patch(f"/api/alerts/{off['rule_id']}", json={"enabled": True})
    assert switched.status_code == 409 and "identical enabled rule" in switched.json()["detail"]
    other = add(client, {**ZSCORE, "window": 40})
    before = file_digest(db_copy)
    edited = client.put(f"/api/alerts/{other['rule_id']}", json=ZSCORE)
    assert edited.status_code == 409 and file_digest(db_copy) == before
    assert [r["enabled"] for r in client.get("/api/alerts").json()["rules"]] == [True, False, True]


# --------------------------------------------------------------------------- last fired


def store_events(path: Path, rule_id: int, seconds: list[int]) -> None:
    events = [{"ts_ms": MIDNIGHT_MS + s * 1000, "rule_id": rule_id, "rule_name": "r", "kind": "zscore",
               "symbols": "BTCUSDT/ETHUSDT", "timeframe": "1s", "value": 2.6, "threshold": 2.5, "direction": "UP",
               "message": f"event {s}"} for s in seconds]
    with writer_conn(path) as conn, store.transaction(conn):
        store.save_alert_progress(conn, events, {})


def test_get_alerts_says_when_each_rule_last_fired_and_how_often(db_copy):
    """last_fired_ms is the bar of the rule's newest alert; events counts them; a new rule that reuses a deleted
    rule's id does not inherit its alerts."""
    client = client_for(db_copy)
    first, second = add(client, ZSCORE), add(client, {**ZSCORE, "window": 40})
    assert (first["last_fired_ms"], first["events"]) == (None, 0)
    store_events(db_copy, first["rule_id"], [5, 30, 12])
    rules = {r["rule_id"]: r for r in client.get("/api/alerts").json()["rules"]}
    assert (rules[first["rule_id"]]["last_fired_ms"], rules[first["rule_id"]]["events"]) == (MIDNIGHT_MS + 30_000, 3)
    assert (rules[second["rule_id"]]["last_fired_ms"], rules[second["rule_id"]]["events"]) == (None, 0)
    assert client.patch(f"/api/alerts/{first['rule_id']}", json={"enabled": False}).json()["events"] == 3
    client.delete(f"/api/alerts/{second['rule_id']}")
    store_events(db_copy, second["rule_id"], [40])  # an alert of the deleted rule, stored late
    reborn = add(client, {**ZSCORE, "window": 50})
    assert reborn["rule_id"] == second["rule_id"]  # SQLite reuses the highest id
    assert {r["rule_id"]: r["events"] for r in client.get("/api/alerts").json()["rules"]}[reborn["rule_id"]] == 0


# --------------------------------------------------------------------------- destinations in answers


def test_destinations_are_masked_in_answers_and_a_masked_url_sent_back_keeps_the_saved_one(db_copy):
    """GET shows tokens masked; a PUT of what GET showed keeps the real URL; a masked URL that matches
    nothing saved is a 422; the older webhook_url field is accepted and shown (masked)."""
    client = client_for(db_copy)
    rule = add(client, {**ZSCORE, "notify": [TOKEN_URL], "webhook_url": "https://example.com/hooks/abcdef123456"})
    assert rule["notify"] == ["tgram://12…aw/98…21", "https://example.com/ho…ks/ab…56"]
    assert rule["webhook_url"] == "https://example.com/ho…ks/ab…56"
    assert "AAHdqTcv" not in client.get("/api/alerts").text
    shown = {k: rule[k] for k in ("kind", "symbols", "params", "window", "notify")}
    assert client.put(f"/api/alerts/{rule['rule_id']}", json={**shown, "name": "kept"}).status_code == 200
    (stored,) = read_rules(db_copy)
    assert stored.name == "kept" and stored.notify == (TOKEN_URL, "https://example.com/hooks/abcdef123456")
    wrong = client.put(f"/api/alerts/{rule['rule_id']}", json={**shown, "notify": ["tgram://12…zz/98…21"]})
    assert wrong.status_code == 422 and "is masked: type the full URL again" in wrong.json()["detail"]
    bad = add(client, {**ZSCORE, "window": 44, "notify": ["slack://nope"]}, status=422)
    assert "notify URL 'slack://nope' is not one apprise can send to" in bad["detail"]


# --------------------------------------------------------------------------- send a test


def test_the_test_endpoints_deliver_to_a_local_receiver_and_report_per_url(db_copy, unused_port):
    """POST /api/alerts/{id}/test sends the rule's test message (with the pair's link) to each URL, as its
    alerts travel; POST /api/alerts/test does the same for a list; per URL: sent or failed: reason."""
    client = client_for(db_copy)
    with Recorder() as server:
        port = server.server_address[1]
        good, dead = f"json://127.0.0.1:{port}/tested", f"json://127.0.0.1:{unused_port}/dead"
        rule = add(client, {**ZSCORE, "notify": [good, dead]})
        answer = client.post(f"/api/alerts/{rule['rule_id']}/test")
        assert answer.status_code == 200, answer.text
        first, second = answer.json()["results"]
        assert first == {"url": f"json://127.0.0.1:{port}/te…ed", "outcome": "sent"}
        assert second["outcome"].startswith("failed: ") and answer.json()["rule_id"] == rule["rule_id"]
        listed = client.post("/api/alerts/test", json={"notify": [server.url], "symbols": ["ethusdt"]})
        assert listed.json() == {"rule_id": None, "results": [{"url": server.url, "outcome": "sent"}]}
    rule_message, list_body = server.bodies
    assert "direction: TEST" in rule_message["message"]
    assert "?a=BTCUSDT&b=ETHUSDT&tf=1s&tab=spread" in rule_message["message"]
    assert list_body["direction"] == "TEST" and list_body["link"].endswith("/?a=ETHUSDT&tf=1s&tab=prices")
    assert len(store_read_events(db_copy)) == 0  # a test stores nothing


def store_read_events(path: Path):
    with closing(store.open_reader(path)) as conn:
        return store.read_alert_events(conn)


@pytest.mark.parametrize(("path", "body", "status", "words"), [
    ("/api/alerts/test", {"notify": ["foo://bar"]}, 422, "is not one apprise can send to"),
    ("/api/alerts/test", {"notify": []}, 422, "notify lists no URL to test"),
    ("/api/alerts/test", {"notify": ["json://127.0.0.1:9/x"], "symbols": ["DOGEUSDT"]}, 422, "unknown symbol"),
    ("/api/alerts/99/test", None, 404, "no alert rule 99"),
])
def test_a_test_that_cannot_be_sent_says_why(db_copy, path, body, status, words):
    """Bad URLs, no URL, an unknown symbol or rule: a one-line error, nothing sent."""
    response = client_for(db_copy).post(path, json=body)
    assert response.status_code == status and words in response.json()["detail"], response.text


def test_a_rule_without_destinations_cannot_be_tested(db_copy):
    """POST /api/alerts/{id}/test of a rule with no notify URL: 422 saying to add one."""
    client = client_for(db_copy)
    rule = add(client, ZSCORE)
    response = client.post(f"/api/alerts/{rule['rule_id']}/test")
    assert response.status_code == 422 and "has no notify URL to test" in response.json()["detail"]


# --------------------------------------------------------------------------- migration 8


def test_migration_8_turns_each_webhook_url_into_the_rules_notify_list(db_path):
    """A database at schema 6 with one rule with a webhook and one without: after opening, notify holds the
    webhook (or nothing), webhook_url is gone, and the rules read back as before."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    for number, migration in enumerate(store.MIGRATIONS[:6]):
        with store.transaction(conn):
            migration(conn)
            conn.execute(f"PRAGMA user_version = {number + 1}")
    conn.execute("INSERT INTO meta VALUES ('market', 'spot'), ('stream', 'trade'), ('source', 'binance')")
    for name, url in (("hooked", " https://example.com/hook "), ("quiet", None)):
        conn.execute("INSERT INTO alert_rules (name, kind, symbols, timeframe, window, hedge, params, cooldown_s, "
                     "webhook_url, enabled, created_ms, updated_ms) VALUES (?, 'price_cross', 'BTCUSDT', '1s', 1, "
                     "'rolling', '{\"threshold\": 100.0, \"hysteresis\": 0.05}', 60, ?, 1, 1, 1)", (name, url))
    conn.close()
    store.write_trades(db_path, [("BTCUSDT", 1, MIDNIGHT_MS, 100.0, 1.0, False)])
    with closing(store.open_reader(db_path)) as reader:
        columns = [row[1] for row in reader.execute("PRAGMA table_info(alert_rules)")]
        rules = repository.list_rules(reader)
    assert "notify" in columns and "webhook_url" not in columns
    assert [(r.name, r.notify, r.webhook_url) for r in rules] == [
        ("hooked", ("https://example.com/hook",), "https://example.com/hook"), ("quiet", (), None)]
