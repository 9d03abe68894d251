"""The same trades on SQLite and on PostgreSQL give the same numbers: every read endpoint of the API,
its CSV exports, the dashboard's data layer and the analytics CLI, compared exactly.

Both databases hold the recorded real BTCUSDT / ETHUSDT spot trades (test_api.py's), plus the
same gap, alert rule, alert event and watchlist rows written through the store.
"""
from __future__ import annotations

import math

import pandas as pd
import pytest
from conftest import binance_file
from scan_universe import simulate_universe
from test_api import MIDNIGHT_MS, PAIR, TOKEN, build_recorded_db, client_for

from pairdesk import analytics_cli, scanner, store
from pairdesk.dashboard import data as dashboard_data
from pairdesk.dashboard import downloads

READS = [
    ("/api/symbols", {}),
    ("/api/ticks/BTCUSDT", {"limit": 500}),
    ("/api/ticks/ETHUSDT", {"start": MIDNIGHT_MS - 60_000, "end": MIDNIGHT_MS + 60_000, "limit": 100_000}),
    ("/api/prices", {}),
    ("/api/ohlc/BTCUSDT", {"timeframe": "1s", "limit": 100_000}),
    ("/api/ohlc/ETHUSDT", {"timeframe": "1m", "limit": 100_000}),
    ("/api/stats/ETHUSDT", {"timeframe": "5s", "window": 20}),
    ("/api/spread", {"symbols": PAIR, "timeframe": "1s", "window": 60, "hedge_window": 50}),
    ("/api/spread", {"symbols": PAIR, "timeframe": "5s", "window": 20, "hedge": "kalman"}),
    ("/api/correlation", {"symbols": PAIR, "timeframe": "5s", "window": 20}),
    ("/api/cointegration", {"symbols": PAIR, "rows": 300, "hedge_window": 20}),
    ("/api/alerts", {}),
    ("/api/alerts/triggered", {}),
    ("/api/watchlist", {}),
    ("/api/backtest", {"symbols": PAIR, "timeframe": "1s", "window": 60, "hedge_window": 50}),
    ("/api/export/spread.csv", {"symbols": PAIR, "timeframe": "1s", "window": 60, "hedge_window": 50}),
    ("/api/export/ticks.csv", {"symbol": "BTCUSDT"}),
    ("/api/export/ohlc.csv", {"symbol": "ETHUSDT", "timeframe": "10s"}),
]


def _add_desk_rows(db: str) -> None:
    with store.write_session(db) as conn:
        store.open_gap(conn, "BTCUSDT", 10, 20, "test gap")
        store.replace_watchlist(conn, ["BTCUSDT", "ETHUSDT"])
        rule = {"name": "z over 2", "kind": "zscore", "symbols": "BTCUSDT/ETHUSDT", "timeframe": "1s", "window": 60,
                "hedge": "rolling", "params": {"threshold": 2.0, "hysteresis": 1.0, "lookback": 300},
                "cooldown_s": 60.0, "notify": [], "enabled": True}
        rule_id = store.insert_alert_rule(conn, rule)
        store.save_alert_progress(conn, [{"ts_ms": MIDNIGHT_MS, "rule_id": rule_id, "rule_name": "z over 2",
                                          "kind": "zscore", "symbols": "BTCUSDT/ETHUSDT", "timeframe": "1s",
                                          "value": 2.5, "threshold": 2.0, "direction": "UP", "message": "z 2.5"}], {})


@pytest.fixture(scope="module")
def both(tmp_path_factory, pg_server) -> dict[str, str]:
    sqlite_db = str(build_recorded_db(tmp_path_factory.mktemp("parity") / "ticks.db"))
    pg_db = build_recorded_db(pg_server.create_database("parity"))
    for db in (sqlite_db, pg_db):
        _add_desk_rows(db)
    return {"sqlite": sqlite_db, "postgresql": pg_db}


def _without_clock(body):
    """A response with the wall-clock fields (when rows were written) taken out: they differ by run."""
    if isinstance(body, dict):
        return {k: _without_clock(v) for k, v in body.items()
                if k not in ("created_ms", "updated_ms", "detected_ms", "found_ms", "data_ms")}
    if isinstance(body, list):
        return [_without_clock(v) for v in body]
    return body


@pytest.mark.parametrize(("path", "params"), READS, ids=[f"{p}?{sorted(q.items())}" for p, q in READS])
def test_every_read_endpoint_answers_the_same_on_both_backends(both, path, params) -> None:
    answers = []
    for db in both.values():
        response = client_for(db, TOKEN).get(path, params=params, headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.text
        answers.append(response.content if path.endswith(".csv") else _without_clock(response.json()))
    assert answers[0] == answers[1]
    assert answers[0] not in (b"", {}, [])


def test_the_dashboard_data_layer_computes_the_same_view(both) -> None:
    settings = dashboard_data.Settings("BTCUSDT", "ETHUSDT", "1s", "1 h", 60, 2.0, "rolling", "UTC", None,
                                       hedge_window=40)
    views = [dashboard_data.load_view(dashboard_data.describe_database(db), settings) for db in both.values()]
    first, second = views
    assert first.panel["zscore"].notna().sum() > 50
    pd.testing.assert_frame_equal(first.panel, second.panel, check_exact=True)
    for symbol in settings.pair:
        pd.testing.assert_frame_equal(first.candles[symbol], second.candles[symbol], check_exact=True)
        pd.testing.assert_frame_equal(first.bars_1s[symbol], second.bars_1s[symbol], check_exact=True)
    assert (first.start_ms, first.end_ms, first.symbols) == (second.start_ms, second.end_ms, second.symbols)
    pd.testing.assert_frame_equal(first.gaps.drop(columns="found_ms"), second.gaps.drop(columns="found_ms"))
    trades = [downloads.trades_csv(db, settings.pair, first.start_ms, first.end_ms + 1000, "UTC") for db in both.values()]
    assert trades[0] == trades[1] and len(trades[0]) > 1000


def test_the_analytics_cli_writes_the_same_csv(both, tmp_path) -> None:
    outputs = []
    for name, db in both.items():
        out = tmp_path / f"{name}.csv"
        analytics_cli.main(["--db", db, "--symbols", PAIR, "--hedge-window", "40", "--out", str(out)])
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert not math.isnan(pd.read_csv(tmp_path / "sqlite.csv")["zscore"].dropna().iloc[-1])


def test_an_imported_dump_is_the_same_on_both_backends(tmp_path, pg_url) -> None:
    """The real spot aggTrades dump imported (twice: the second adds nothing) reads back the same."""
    from pairdesk.history.importer import import_file

    sample = binance_file("HJB-PDE-TEAM-PROJECT/BTCUSDT-aggTrades-2026-01-01.csv")
    results = []
    for db in (str(tmp_path / "ticks.db"), pg_url):
        first = import_file(db, sample, "spot", "aggTrade")
        assert first.new_rows == first.rows > 0
        assert import_file(db, sample, "spot", "aggTrade").new_rows == 0
        conn = store.open_reader(db)
        try:
            results.append((store.read_trades(conn, "BTCUSDT"), store.read_bars_1s(conn, "BTCUSDT")))
        finally:
            conn.close()
    for left, right in zip(*results):
        pd.testing.assert_frame_equal(left, right, check_exact=True)


def test_a_scan_finds_the_same_pairs_on_both_backends(tmp_path, pg_url) -> None:
    """A scan of a planted universe of one-minute bars (read through read_closes, whose SQL differs by
    dialect) stores the same rows on both backends."""
    universe = simulate_universe(8, 2, 1_500, seed=3)
    results = []
    for db in (str(tmp_path / "ticks.db"), pg_url):
        for symbol, bars in universe.bars.items():
            store.write_bars(db, symbol, bars.itertuples(index=False, name=None))
        scan_id = scanner.run_scan(db, scanner.ScanSettings(lookback_ms=1_500 * 60_000, workers=1))
        conn = store.open_reader(db)
        try:
            results.append(store.read_scan_results(conn, scan_id))
        finally:
            conn.close()
    pd.testing.assert_frame_equal(results[0], results[1], check_exact=True)
    assert results[0]["significant"].sum() >= 2  # the planted pairs, found on both


def test_the_page_shows_the_same_figures_on_both_backends(monkeypatch, both) -> None:
    """The dashboard (AppTest) on each backend: no exception, the same titles, metrics and captions (but
    the one naming the database)."""
    import streamlit as st

    from test_app import run_page, texts

    shown = []
    for db in both.values():
        st.cache_data.clear()
        st.cache_resource.clear()
        page = run_page(monkeypatch, db, errors_ok=True, hedge_window=40)
        shown.append((texts(page, "title"), [(m.label, m.value) for m in page.metric],
                      [c for c in texts(page, "caption") if store.display_name(db) not in c]))  # the rest
    assert shown[0] == shown[1]
    assert shown[0][0] == ["Pairs desk · BTCUSDT / ETHUSDT"] and len(shown[0][1]) >= 6


def test_writes_through_the_api_land_the_same_on_both_backends(tmp_path, pg_server) -> None:
    """An upload of older trades, a rule added, switched off and on, a watchlist saved, events
    acknowledged: the API writes the same rows on both backends, and reads them back the same."""
    from test_api import recorded_trades
    from test_api_rules import PRICE, ZSCORE, add_rule
    from test_api_writes import AUTH, spot_trades_csv, upload

    stored = recorded_trades("BTCUSDT").head(100)
    older = pd.DataFrame({"trade_id": stored["trade_id"].min() - 50 + pd.RangeIndex(50),
                          "ts_ms": stored["ts_ms"].min() - 60_000 + 100 * pd.RangeIndex(50),
                          "price": 61_000.5, "qty": 0.25, "is_buyer_maker": False})
    reads = []
    for db in (str(build_recorded_db(tmp_path / "ticks.db")), build_recorded_db(pg_server.create_database("w"))):
        client = client_for(db, TOKEN)
        response = upload(client, "BTCUSDT-trades-2024-08-08.csv", spot_trades_csv(pd.concat([older, stored])))
        assert (response.status_code, response.json()["stored"]) == (200, 50), response.text
        rule = add_rule(client, ZSCORE)
        add_rule(client, PRICE)
        for enabled in (False, True):
            assert client.patch(f"/api/alerts/{rule['rule_id']}", json={"enabled": enabled}).status_code == 200
        assert client.put("/api/watchlist", json={"symbols": ["ethusdt", "BTCUSDT"]}, headers=AUTH).status_code == 200
        reads.append([_without_clock(client.get(path, params=params, headers=AUTH).json()) for path, params in (
            ("/api/ticks/BTCUSDT", {"limit": 200}), ("/api/ohlc/BTCUSDT", {"timeframe": "1m", "limit": 100}),
            ("/api/alerts", {}), ("/api/watchlist", {}), ("/api/symbols", {}))])
    assert reads[0] == reads[1]
    assert len(reads[0][2]["rules"]) == 2  # both rules
