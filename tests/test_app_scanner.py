"""The dashboard's Scanner section under AppTest on stored scan results: the ranked table is the
stored scan's rows, filtered by significance and half-life; the caption says when and how it ran; a
pair opens in the main view with the scan's timeframe; a rescan is recorded; without a scan a note;
beyond loopback without the token the rescan button is locked."""
from __future__ import annotations

import time

import pytest

from pairdesk import scanner, store
from pairdesk.dashboard import write_access
from pairdesk.dashboard.scanner_view import scanner_table
from scan_universe import simulate_universe
from test_app import fresh_caches, run_page, table_with, texts  # noqa: F401 (fresh_caches: autouse)


def _scanned(path):
    for symbol, bars in simulate_universe(8, 2, 1_500, seed=9).bars.items():
        store.write_bars(path, symbol, bars.itertuples(index=False, name=None))
    scanner.run_scan(path, scanner.ScanSettings(lookback_ms=1_500 * 60_000, workers=1))
    return path


@pytest.fixture(scope="module")
def scanned_db(tmp_path_factory):
    return _scanned(tmp_path_factory.mktemp("app_scanner") / "ticks.db")


def _stored_rows(path) -> list[dict]:
    conn = store.open_reader(path)
    try:
        return scanner.read_latest_rows(conn).rows
    finally:
        conn.close()


def test_the_table_is_the_stored_scan(monkeypatch, scanned_db):
    """Every pair of the latest scan, by rank, with the caption of its settings."""
    page = run_page(monkeypatch, scanned_db)
    assert "Scanner" in texts(page, "subheader")
    shown = table_with(page, "q-value")
    expected = scanner_table(_stored_rows(scanned_db))
    assert len(shown) == 28 and shown["Rank"].tolist() == list(range(1, 29))
    assert shown[["A", "B"]].values.tolist() == expected[["A", "B"]].values.tolist()
    caption = next(c for c in texts(page, "caption") if c.startswith("Scan 1 of 8 symbols"))
    assert "(28 pairs) at 1m bars over 1.04167 days" in caption and "false discovery rate 0.05" in caption


def test_filters_narrow_the_table(monkeypatch, scanned_db):
    """Significant only and a half-life range show exactly the matching rows."""
    page = run_page(monkeypatch, scanned_db, scanner_significant=True, scanner_half_life_min=1.0,
                    scanner_half_life_max=500.0)
    shown = table_with(page, "q-value")
    rows = _stored_rows(scanned_db)
    expected = [r for r in rows if r["significant"] and r["half_life"] is not None and 1 <= r["half_life"] <= 500]
    assert shown[["A", "B"]].values.tolist() == [[r["symbol_a"], r["symbol_b"]] for r in expected]
    assert len(expected) >= 2 and shown["Significant"].all()


def test_a_pair_opens_in_the_main_view(monkeypatch, scanned_db):
    """Choosing a pair and Open sets the sidebar's pair and the scan's timeframe, z window, hedge and
    hedge window, and the URL's a / b / tf."""
    page = run_page(monkeypatch, scanned_db)
    best = tuple(_stored_rows(scanned_db)[0][k] for k in ("symbol_a", "symbol_b"))
    page.selectbox(key="scanner_pair").set_value(best)
    page.button(key="scanner_open").click()
    page.run()
    assert not page.exception
    assert (page.session_state["symbol_a"], page.session_state["symbol_b"]) == best
    assert page.session_state["timeframe"] == "1m"
    assert (page.session_state["window"], page.session_state["hedge"], page.session_state["hedge_window"]) == \
        (60, "rolling", 300)
    assert page.selectbox(key="symbol_a").value == best[0] and page.selectbox(key="symbol_b").value == best[1]
    query = dict(page.query_params)  # every setting is in the URL; the scan's pair and timeframe among them
    assert (query["a"], query["b"], query["tf"]) == (best[0], best[1], "1m")


def test_rescan_records_a_scan_that_finishes(monkeypatch, tmp_path):
    """Rescan starts a scan with the last scan's settings; it is recorded at once and finishes in its own process."""
    path = _scanned(tmp_path / "ticks.db")
    page = run_page(monkeypatch, path)
    page.button(key="scanner_rescan").click()
    page.run()
    assert not page.exception and not page.error
    conn = store.open_reader(path)
    scans = store.read_scans(conn)
    assert len(scans) == 2 and scans[0]["params"] == scans[1]["params"]
    deadline = time.monotonic() + 60
    while store.read_scans(conn, scan_id=scans[0]["scan_id"])[0]["status"] == "running" \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.latest_scan(conn)["scan_id"] == scans[0]["scan_id"]
    conn.close()


def test_without_a_scan_the_section_says_how_to_get_one(monkeypatch, tmp_path):
    """A database never scanned: one note, no table, no exception."""
    path = tmp_path / "ticks.db"
    for symbol, bars in simulate_universe(2, 1, 50, seed=1).bars.items():
        store.write_bars(path, symbol, bars.itertuples(index=False, name=None))
    page = run_page(monkeypatch, path)
    assert any(note.startswith("No pair scan stored yet") for note in texts(page, "info"))
    assert not [frame for frame in page.dataframe if "q-value" in frame.value.columns]


def test_rescan_is_locked_beyond_loopback_without_the_token(monkeypatch, scanned_db):
    """On a page reachable from the network without the token, Rescan is disabled with the reason."""
    monkeypatch.setattr(write_access, "listening_host", lambda: "0.0.0.0")
    monkeypatch.setenv("PAIRDESK_TOKEN", "s3cret")
    page = run_page(monkeypatch, scanned_db)
    assert page.button(key="scanner_rescan").disabled
    assert any("Writes need the desk's token" in caption for caption in texts(page, "caption"))
