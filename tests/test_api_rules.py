"""Alert rules through the API as on the page: edit (PUT), enable / disable (PATCH), acknowledge a
rule's alerts or alerts by id, on copies of the recorded-trades database. The API and the page's
data layer (``pairdesk.dashboard.alerts_data``) write through the same repository functions, so
each sees what the other wrote."""
from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest

from pairdesk import store
from pairdesk.api.routes.alerts import rule_out
from pairdesk.dashboard import alerts_data
from test_api import MIDNIGHT_MS, client_for, file_digest  # noqa: F401
from test_api import db_copy, recorded_db  # noqa: F401  (fixtures)

ZSCORE = {"kind": "zscore", "symbols": ["BTCUSDT", "ETHUSDT"], "params": {"threshold": 2.5}, "window": 30}
PRICE = {"kind": "price_cross", "symbols": "ETHUSDT", "name": "ETH 2700", "params": {"threshold": 2700}}


def add_rule(client, spec: dict) -> dict:
    response = client.post("/api/alerts", json=spec)
    assert response.status_code == 201, response.text
    return response.json()


def store_events(path: Path, rule_ids: list[int]) -> None:
    """One stored alert per rule id in ``rule_ids`` (as the monitor stores them)."""
    events = [{"ts_ms": MIDNIGHT_MS + n * 1000, "rule_id": rule_id, "rule_name": f"rule {rule_id}", "kind": "zscore",
               "symbols": "BTCUSDT/ETHUSDT", "timeframe": "1s", "value": 2.6, "threshold": 2.5, "direction": "UP",
               "message": f"event {n}"} for n, rule_id in enumerate(rule_ids)]
    with closing(store.open_writer(path, "spot", "trade")) as conn, store.transaction(conn):
        store.save_alert_progress(conn, events, {})


def page_rules(path: Path) -> dict[int, dict]:
    """The rules as the page's data layer reads them (with when each last fired), as API bodies."""
    fired = alerts_data.read_firings(str(path))
    return {rule.rule_id: rule_out(rule, fired) for rule in alerts_data.read_rules(str(path))}


def unacknowledged_ids(path: Path) -> list[int]:
    events = alerts_data.read_history(str(path), alerts_data.HistoryFilter(unacknowledged=True))
    return sorted(events["event_id"].tolist())


def test_put_replaces_a_rules_definition_and_the_page_sees_it(db_copy):
    """PUT stores the full new spec (defaults filled in, as POST does); GET and the page read it back."""
    client = client_for(db_copy)
    rule = add_rule(client, ZSCORE)
    edited = client.put(f"/api/alerts/{rule['rule_id']}",
                        json={**ZSCORE, "params": {"threshold": 3.0, "side": "up"}, "window": 60, "name": "wide"})
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["rule_id"], body["name"], body["window"]) == (rule["rule_id"], "wide", 60)
    assert body["params"] == {"threshold": 3.0, "hysteresis": 0.5, "side": "up", "lookback": 300}
    assert client.get("/api/alerts").json()["rules"] == [body]
    assert page_rules(db_copy) == {rule["rule_id"]: body}


def test_the_page_edits_a_rule_and_the_api_reads_the_same(db_copy):
    """A rule saved through the page's save_rule reads back identically through GET /api/alerts."""
    client = client_for(db_copy)
    rule = add_rule(client, ZSCORE)
    alerts_data.save_rule(str(db_copy), {**ZSCORE, "params": {"threshold": 2.0}}, rule["rule_id"])
    assert client.get("/api/alerts").json()["rules"] == list(page_rules(db_copy).values())
    assert client.get("/api/alerts").json()["rules"][0]["params"]["threshold"] == 2.0


@pytest.mark.parametrize("spec, words", [
    ({**ZSCORE, "symbols": ["BTCUSDT", "XRPUSDT"]}, "unknown symbol 'XRPUSDT'"),
    ({**ZSCORE, "params": {}}, "threshold is required"),
    ({**ZSCORE, "window": 1}, "window must be at least 2"),
    ({**ZSCORE, "hedge": "ols_insample"}, "cannot drive an alert"),
    ({"kind": "zscore", "symbols": ["BTCUSDT", "ETHUSDT"]}, "request body params"),
])
def test_a_bad_edit_is_422_and_changes_nothing(db_copy, spec, words):
    """An edit alerts.validate_rule refuses is a 422 saying what to fix; the stored rule is untouched."""
    client = client_for(db_copy)
    rule = add_rule(client, ZSCORE)
    before = file_digest(db_copy)
    response = client.put(f"/api/alerts/{rule['rule_id']}", json=spec)
    assert response.status_code == 422 and words in response.json()["detail"], response.text
    assert file_digest(db_copy) == before and client.get("/api/alerts").json()["rules"] == [rule]


@pytest.mark.parametrize("method, path, body", [
    ("put", "/api/alerts/99", ZSCORE),
    ("patch", "/api/alerts/99", {"enabled": False}),
    ("post", "/api/alerts/99/acknowledge", None),
])
def test_an_unknown_rule_is_404(db_copy, method, path, body):
    """Editing, switching or acknowledging a rule that does not exist is a 404 naming it; nothing is written."""
    client = client_for(db_copy)
    before = file_digest(db_copy)
    response = client.request(method, path, json=body)
    assert response.status_code == 404 and "no alert rule 99" in response.json()["detail"], response.text
    assert file_digest(db_copy) == before


def test_patch_switches_a_rule_off_and_on_as_the_page_does(db_copy):
    """PATCH {"enabled": false} / true switches the rule; the page and the API read the same flag both ways."""
    client = client_for(db_copy)
    rule = add_rule(client, ZSCORE)
    off = client.patch(f"/api/alerts/{rule['rule_id']}", json={"enabled": False})
    assert off.status_code == 200 and off.json() == {**rule, "enabled": False}
    assert page_rules(db_copy)[rule["rule_id"]]["enabled"] is False
    alerts_data.set_rule_enabled(str(db_copy), rule["rule_id"], True)  # the page's switch
    assert client.get("/api/alerts").json()["rules"][0]["enabled"] is True
    assert client.patch(f"/api/alerts/{rule['rule_id']}", json={"enabled": True}).json() == rule


@pytest.mark.parametrize("body", [{}, {"enabled": "maybe"}, {"enabled": True, "name": "x"}])
def test_a_bad_switch_is_422(db_copy, body):
    """A PATCH body other than {"enabled": true|false} is a 422."""
    client = client_for(db_copy)
    rule = add_rule(client, ZSCORE)
    assert client.patch(f"/api/alerts/{rule['rule_id']}", json=body).status_code == 422


def test_acknowledging_a_rules_alerts_leaves_the_other_rules(db_copy):
    """POST /api/alerts/{id}/acknowledge marks that rule's alerts only, once; the page's history agrees."""
    client = client_for(db_copy)
    first, second = add_rule(client, ZSCORE)["rule_id"], add_rule(client, PRICE)["rule_id"]
    store_events(db_copy, [first, second, first, second, first])
    response = client.post(f"/api/alerts/{first}/acknowledge")
    assert response.status_code == 200 and response.json() == {"rule_id": first, "acknowledged": 3}
    events = client.get("/api/alerts/triggered").json()["events"]
    assert {e["rule_id"] for e in events if e["acknowledged_ms"] is not None} == {first}
    assert unacknowledged_ids(db_copy) == sorted(e["event_id"] for e in events if e["rule_id"] == second)
    assert client.post(f"/api/alerts/{first}/acknowledge").json()["acknowledged"] == 0


def test_acknowledging_alerts_by_id_as_the_page_does(db_copy):
    """POST /api/alerts/triggered/acknowledge marks the given events; the page's acknowledge and the API
    agree on what is left; unknown or repeated ids count nothing."""
    client = client_for(db_copy)
    rule = add_rule(client, ZSCORE)["rule_id"]
    store_events(db_copy, [rule] * 4)
    ids = unacknowledged_ids(db_copy)
    response = client.post("/api/alerts/triggered/acknowledge", json={"event_ids": ids[:2] + [10_000]})
    assert response.status_code == 200 and response.json() == {"rule_id": None, "acknowledged": 2}
    assert unacknowledged_ids(db_copy) == ids[2:]
    assert alerts_data.acknowledge(str(db_copy), ids[1:3]) == 1  # the page's button: one of them was new
    unacknowledged = client.get("/api/alerts/triggered").json()["events"]
    assert [e["event_id"] for e in unacknowledged if e["acknowledged_ms"] is None] == ids[3:]
    assert client.post("/api/alerts/triggered/acknowledge", json={"event_ids": ids}).json()["acknowledged"] == 1
    assert client.post("/api/alerts/triggered/acknowledge", json={"event_ids": ["x"]}).status_code == 422
