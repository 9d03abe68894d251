"""GET /api/scanner serves the stored scan's rows (the CLI's rows) with its filters; POST
/api/scanner/run refuses what cannot run and, beyond loopback, a request without the token."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pairdesk import scanner, store
from pairdesk.api.main import create_app
from scan_universe import simulate_universe


@pytest.fixture(scope="module")
def scanned_db(tmp_path_factory):
    """8 symbols (2 planted pairs) of 1,500 one-minute bars, scanned once."""
    path = tmp_path_factory.mktemp("scanner") / "ticks.db"
    for symbol, bars in simulate_universe(8, 2, 1_500, seed=9).bars.items():
        store.write_bars(path, symbol, bars.itertuples(index=False, name=None))
    scanner.run_scan(path, scanner.ScanSettings(lookback_ms=1_500 * 60_000, workers=1))
    return path


def test_scanner_answers_the_latest_scan_with_the_cli_rows(scanned_db):
    """The rows are scanner.scan_rows of the stored scan (JSON null for NaN), with the scan's record."""
    body = TestClient(create_app(scanned_db)).get("/api/scanner", params={"limit": 1000}).json()
    conn = store.open_reader(scanned_db)
    expected = scanner.scan_rows(store.read_scan_results(conn, store.latest_scan(conn)["scan_id"]))
    conn.close()
    assert body["count"] == 28 and body["rows"] == expected
    assert body["scan"]["status"] == "done" and body["scan"]["params"]["lookback_ms"] == 1_500 * 60_000
    assert body["newest"]["scan_id"] == body["scan"]["scan_id"] and "pid" not in body["scan"]


def test_scanner_filters(scanned_db):
    """significant, half_life_min / half_life_max and limit narrow the rows, best first."""
    client = TestClient(create_app(scanned_db))
    every = client.get("/api/scanner", params={"limit": 1000}).json()["rows"]
    chosen = client.get("/api/scanner", params={"significant": True, "half_life_min": 1, "half_life_max": 500}).json()
    expected = [r for r in every if r["significant"] and r["half_life"] is not None and 1 <= r["half_life"] <= 500]
    assert chosen["rows"] == expected and len(expected) >= 2
    assert client.get("/api/scanner", params={"limit": 3}).json()["rows"] == every[:3]


def test_scanner_without_a_scan_is_empty(db_path):
    """Before any scan: no record, no rows."""
    store.write_bars(db_path, "AUSDT", [(0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1)])
    body = TestClient(create_app(db_path)).get("/api/scanner").json()
    assert body == {"scan": None, "newest": None, "count": 0, "rows": []}


@pytest.mark.parametrize("params, words", [
    ({"lookback": "later"}, "positive duration"), ({"symbols": "P00A,NOPEUSDT"}, "no bars for NOPEUSDT"),
    ({"symbols": "P00A"}, "at least two symbols"), ({"timeframe": "7m"}, "timeframe"),
])
def test_run_refuses_a_scan_that_cannot_run(scanned_db, params, words):
    """A bad lookback, an unknown or a single symbol, a bad timeframe: 422 naming it, nothing recorded."""
    client = TestClient(create_app(scanned_db))
    before = client.get("/api/scanner").json()["newest"]["scan_id"]
    response = client.post("/api/scanner/run", params=params)
    assert response.status_code == 422 and words in response.text
    assert client.get("/api/scanner").json()["newest"]["scan_id"] == before


def test_run_beyond_loopback_needs_the_token(scanned_db):
    """On a server listening on the network a scan request without the token is refused (401), and
    without a token configured at all (403)."""
    assert TestClient(create_app(scanned_db, "s3cret", "0.0.0.0")).post("/api/scanner/run").status_code == 401
    assert TestClient(create_app(scanned_db, None, "0.0.0.0")).post("/api/scanner/run").status_code == 403


def test_run_of_an_unknown_scan_is_404(scanned_db):
    """GET /api/scanner/runs/{id} of a scan never recorded is a 404."""
    assert TestClient(create_app(scanned_db)).get("/api/scanner/runs/999").status_code == 404


def test_run_while_a_scan_runs_is_409(scanned_db):
    """While a scan of the database is running (its process alive: here this one), another is refused
    with 409 naming it; once that process is gone (a scan killed midway) scans may start again."""
    import os

    conn = store.open_writer_as_recorded(scanned_db)
    scan_id = store.begin_scan(conn, "1m", 60_000, {}, os.getpid())
    response = TestClient(create_app(scanned_db)).post("/api/scanner/run")
    assert response.status_code == 409 and f"scan {scan_id} is still running" in response.json()["detail"]
    store.claim_scan(conn, scan_id, 2 ** 22 + 12_345)  # beyond pid_max: no such process
    assert scanner.running_scan(conn) is None
    store.fail_scan(conn, scan_id, "test over")
    conn.close()
