"""What the REST API writes, through FastAPI's TestClient on copies of the recorded-trades database:
history uploads, hourly summaries, the ingestor's watchlist (token-protected)."""
from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from pairdesk import analytics, store
from pairdesk.api.main import create_app
from pairdesk.watchlist import WatchlistError, check_watchlist
from test_api import (MIDNIGHT_MS, PAIR, TOKEN, build_recorded_db, client_for, file_digest,  # noqa: F401
                      recorded_db, recorded_trades)

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def db_copy(recorded_db, db_path) -> Path:
    """A private copy of the recorded database (these tests write)."""
    db_path.write_bytes(recorded_db.read_bytes())
    return db_path


def rows_of(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
        return conn.execute(sql, params).fetchall()


def spot_trades_csv(trades: pd.DataFrame) -> str:
    """Trades in Binance's spot trades dump layout (no header): id,price,qty,quoteQty,time,isBuyerMaker,isBestMatch."""
    return "".join(f"{t.trade_id},{t.price!r},{t.qty!r},{t.price * t.qty!r},{t.ts_ms},{t.is_buyer_maker},True\n"
                   for t in trades.itertuples())


def upload(client, name: str, text: str, symbol: str | None = None):
    return client.post("/api/upload", files={"file": (name, text.encode(), "text/csv")},
                       data={} if symbol is None else {"symbol": symbol})


# --------------------------------------------------------------------------- uploads


def test_upload_adds_history_and_never_overwrites_stored_trades(db_copy):
    """Trades already stored keep their values; only the new, older trades are added (and their bars)."""
    trades = recorded_trades("BTCUSDT")
    stored = trades.head(100)
    clash = stored.assign(price=stored["price"] * 2)  # same ids, other prices: must not win
    older = pd.DataFrame({"trade_id": stored["trade_id"].min() - 50 + pd.RangeIndex(50),
                          "ts_ms": stored["ts_ms"].min() - 60_000 + 100 * pd.RangeIndex(50),
                          "price": 61_000.5, "qty": 0.25, "is_buyer_maker": False})
    client = client_for(db_copy)
    response = upload(client, "BTCUSDT-trades-2024-08-08.csv", spot_trades_csv(pd.concat([older, clash])))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["format"], body["kind"], body["symbol"]) == ("spot trades", "trade", "BTCUSDT")
    assert (body["rows"], body["stored"], body["already_stored"]) == (150, 50, 100)
    ticks = client.get("/api/ticks/BTCUSDT", params={"end": int(stored["ts_ms"].iloc[-1]) + 1,
                                                     "limit": 100_000}).json()["ticks"]
    ticks = ticks[:150]  # (later trades of the last one's millisecond follow)
    assert [t["trade_id"] for t in ticks] == older["trade_id"].tolist() + stored["trade_id"].tolist()
    assert [t["price"] for t in ticks[50:]] == stored["price"].tolist()
    first_second = int(stored["ts_ms"].min()) // 1000 * 1000
    bars = client.get("/api/ohlc/BTCUSDT", params={"timeframe": "1s", "end": first_second}).json()
    assert sum(b["trades"] for b in bars["bars"]) == 50


@pytest.mark.parametrize("name, text, words", [
    ("BTCUSDT-aggTrades-2024-08-08.csv", "26129,0.01633102,4.70443515,27781,27781,1498793709153,True,True\n",
     "line 1: this is a spot aggTrades file (aggregate trade ids) but the database stores spot trade data"),
    ("BTCUSDT-trades-2024-08-08.csv", "id,price,qty,quote_qty,time,is_buyer_maker\n"
                                      "1,61000.1,0.5,30500.05,1723161600000,true\n",
     "line 1: this is a futures trades file but the database stores spot trade data"),
    ("BTCUSDT-trades-2024-08-08.csv", "\n\n7,61000.1,0.5,30500.05,1723161600000,true\n",
     "line 3: this is a futures trades file"),
    ("BTCUSDT-trades-2024-08-08.csv", "1,61000.1,0.5,30500.05,1723161600000,True,True\n"
                                      "2,61000.2,0.5,30500.1,1723161600001,False,True\n"
                                      "3,abc,0.5,30500.1,1723161600002,False,True\n",
     "line 3: price 'abc' is not a number"),
    ("prices.csv", "time,open,high,low,close,volume\n2024-08-09T00:00:00Z,1,2,0.5,1.5,10\n",
     "no symbol"),
    ("BTCUSDT-trades-2024-08-08.csv", "", "no data rows"),
])
def test_upload_refuses_a_bad_or_foreign_file_naming_the_problem_and_line(db_copy, name, text, words):
    """A file of the wrong kind for the database, or with a bad line, is a 422 and nothing is stored."""
    before = file_digest(db_copy)
    response = upload(client_for(db_copy), name, text)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert words in detail and detail.endswith("Nothing was stored.") and detail.startswith(name)
    assert file_digest(db_copy) == before


def test_upload_of_bars_fills_only_seconds_without_a_bar(db_copy):
    """Simple-format bars land where no bar exists; a bar built from trades is never replaced."""
    client = client_for(db_copy)
    kept = client.get("/api/ohlc/BTCUSDT", params={"timeframe": "1s", "start": MIDNIGHT_MS,
                                                   "end": MIDNIGHT_MS + 1000}).json()["bars"]
    assert len(kept) == 1
    text = ("time,open,high,low,close,volume\n"
            "2024-08-08T23:00:00Z,60000,60010,59990,60005,1.5\n"
            "2024-08-08T23:00:01Z,60005,60006,60004,60006,0.5\n"
            f"{MIDNIGHT_MS},1,2,0.5,1.5,10\n")
    body = upload(client, "my-bars.csv", text, symbol="btcusdt").json()
    assert (body["format"], body["symbol"], body["rows"], body["stored"]) == ("simple bars", "BTCUSDT", 3, 2)
    again = client.get("/api/ohlc/BTCUSDT", params={"timeframe": "1s", "start": MIDNIGHT_MS,
                                                    "end": MIDNIGHT_MS + 1000}).json()["bars"]
    assert again == kept
    early = client.get("/api/ohlc/BTCUSDT", params={"timeframe": "1m", "end": "2024-08-08T23:01:00Z"}).json()
    assert [(b["open"], b["close"], b["volume"]) for b in early["bars"]] == [(60000, 60006, 2.0)]


def test_upload_of_a_new_symbol_makes_it_known(db_copy):
    """Trades of a symbol the database did not hold become readable through every endpoint."""
    trades = recorded_trades("ETHUSDT").head(30)
    client = client_for(db_copy)
    assert client.get("/api/ticks/SOLUSDT").status_code == 404
    assert upload(client, "SOLUSDT-trades-2024-08-08.csv", spot_trades_csv(trades)).json()["stored"] == 30
    assert client.get("/api/ticks/SOLUSDT").json()["count"] == 30
    assert "SOLUSDT" in [s["symbol"] for s in client.get("/api/symbols").json()["symbols"]]


def test_upload_and_reads_share_the_symbol_rule_of_2_to_30_characters(db_copy):
    """A 30-character symbol uploaded is then readable (it was accepted by upload and refused by every
    read); a 31-character one is refused by the upload (422) and stores nothing."""
    long_symbol = "A" * 26 + "USDT"
    trades = spot_trades_csv(recorded_trades("ETHUSDT").head(5))
    client = client_for(db_copy)
    assert upload(client, "history.csv", trades, symbol=long_symbol.lower()).json()["stored"] == 5
    assert client.get(f"/api/ticks/{long_symbol}").json()["count"] == 5
    assert client.get(f"/api/stats/{long_symbol.lower()}").status_code == 200
    before = file_digest(db_copy)
    refused = upload(client, "history.csv", trades, symbol=long_symbol + "X")
    assert refused.status_code == 422 and "request body symbol" in refused.json()["detail"]
    assert file_digest(db_copy) == before


def test_upload_keeps_the_databases_source(db_path):
    """An upload into a demo database leaves it labelled DEMO (the writer reuses the recorded source)."""
    client = client_for(build_recorded_db(db_path, source="local"))
    upload(client, "SOLUSDT-trades-2024-08-08.csv", spot_trades_csv(recorded_trades("ETHUSDT").head(3)))
    assert client.get("/api/status").json()["source_label"] == "DEMO"


# --------------------------------------------------------------------------- token endpoints


TOKEN_CALLS = [("post", f"/api/admin/hourly?symbols={PAIR}", None), ("get", "/api/watchlist", None),
               ("put", "/api/watchlist", {"symbols": ["BTCUSDT"]})]


@pytest.mark.parametrize("method, url, body", TOKEN_CALLS)
def test_token_endpoints_are_off_without_a_start_up_token(db_copy, method, url, body):
    """Started without a token, admin and watchlist endpoints answer 403 saying how to set one."""
    response = client_for(db_copy).request(method, url, json=body, headers=AUTH)
    assert response.status_code == 403
    assert "--token" in response.json()["detail"] and "PAIRDESK_TOKEN" in response.json()["detail"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
@pytest.mark.parametrize("method, url, body", TOKEN_CALLS)
def test_token_endpoints_need_the_token(db_copy, method, url, body, headers):
    """With a token configured, a request without it (or with another) is 401 and writes nothing."""
    before = file_digest(db_copy)
    response = client_for(db_copy, TOKEN).request(method, url, json=body, headers=headers)
    assert response.status_code == 401 and "Bearer" in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"
    assert file_digest(db_copy) == before


# --------------------------------------------------------------------------- hourly summaries


def test_hourly_summaries_are_computed_stored_and_listed(db_copy):
    """POST /api/admin/hourly stores analytics_engine.hourly_summary's rows; GET lists them."""
    client = client_for(db_copy, TOKEN)
    params = {"symbols": "ethusdt,btcusdt", "timeframe": "5s", "window": 24, "hedge": "rolling"}
    response = client.post("/api/admin/hourly", params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    with closing(store.open_reader(db_copy)) as conn:
        bars = [store.read_bars_1s(conn, s) for s in ("ETHUSDT", "BTCUSDT")]
    expected = analytics.hourly_summary(analytics.pair_panel(*bars, "5s", 24, "rolling"))
    assert body["count"] == len(expected) == 2  # 23:xx and 00:xx UTC
    for got, want in zip(body["summaries"], expected.to_dict("records")):
        assert (got["symbols"], got["timeframe"], got["hour_ms"]) == ("ETHUSDT,BTCUSDT", "5s", want["hour_start_ms"])
        assert got["stats"]["window"] == 24 and got["stats"]["hedge"] == "rolling"
        for name, value in want.items():
            if name != "hour_start_ms":
                assert got["stats"][name] == pytest.approx(value, rel=1e-12, nan_ok=True) or value != value, name
    listed = client.get("/api/summary/hourly", params={"symbols": "ETHUSDT,BTCUSDT"}).json()
    assert listed == body
    assert client.get("/api/summary/hourly", params={"start": MIDNIGHT_MS}).json()["count"] == 1
    assert client.get("/api/summary/hourly", params={"timeframe": "1m"}).json()["count"] == 0


def test_hourly_summaries_replace_the_same_hours(db_copy):
    """Computing again with another window overwrites the pair / timeframe / hour rows, adds none."""
    client = client_for(db_copy, TOKEN)
    for window in (60, 30):
        assert client.post("/api/admin/hourly", params={"symbols": PAIR, "window": window},
                           headers=AUTH).status_code == 200
    stored = rows_of(db_copy, "SELECT symbols, timeframe, hour_ms, stats FROM hourly_summaries ORDER BY hour_ms")
    assert [(s, tf) for s, tf, _, _ in stored] == [(PAIR, "1s")] * 2
    assert {json.loads(stats)["window"] for *_, stats in stored} == {30}


def test_hourly_summary_of_an_unknown_pair_is_404(db_copy):
    """The pair is checked like everywhere else."""
    response = client_for(db_copy, TOKEN).post("/api/admin/hourly", params={"symbols": "BTCUSDT,XRPUSDT"},
                                               headers=AUTH)
    assert response.status_code == 404 and "XRPUSDT" in response.json()["detail"]


# --------------------------------------------------------------------------- watchlist


def test_watchlist_is_stored_normalised_and_read_back(db_copy):
    """PUT replaces the list (upper case, duplicates dropped), reports the change; GET reads it back."""
    client = client_for(db_copy, TOKEN)
    assert client.get("/api/watchlist", headers=AUTH).json() == {"symbols": [], "updated_ms": None, "states": {}}
    first = client.put("/api/watchlist", json={"symbols": ["ethusdt", "BTCUSDT", " ETHUSDT "]}, headers=AUTH).json()
    assert first["symbols"] == ["BTCUSDT", "ETHUSDT"] and first["added"] == ["BTCUSDT", "ETHUSDT"]
    second = client.put("/api/watchlist", json={"symbols": ["SOLUSDT", "BTCUSDT"]}, headers=AUTH).json()
    assert (second["added"], second["removed"]) == (["SOLUSDT"], ["ETHUSDT"])
    assert second["updated_ms"] > first["updated_ms"]  # grows with every write: what the ingestor polls
    assert rows_of(db_copy, "SELECT symbol FROM watchlist ORDER BY symbol") == [("BTCUSDT",), ("SOLUSDT",)]
    followed = {symbol for (symbol,) in rows_of(db_copy, "SELECT symbol FROM feed_status")}
    states = {s: "followed" if s in followed else "pending" for s in ("BTCUSDT", "SOLUSDT")}
    assert client.get("/api/watchlist", headers=AUTH).json() == {"symbols": ["BTCUSDT", "SOLUSDT"],
                                                                 "updated_ms": second["updated_ms"], "states": states}


def test_watchlist_is_checked_by_the_shared_watchlist_rule(db_copy):
    """PUT /api/watchlist stores exactly what pairdesk.watchlist.check_watchlist makes of the list
    (a 30-character symbol included), and refuses what it refuses with its one-line message."""
    client = client_for(db_copy, TOKEN)
    given = [" solusdt", "A" * 30, "SOLUSDT", "btcusdt"]
    response = client.put("/api/watchlist", json={"symbols": given}, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["symbols"] == sorted(check_watchlist(given))
    with pytest.raises(WatchlistError) as refused:
        check_watchlist(["BTCUSDT", "A" * 31])
    detail = client.put("/api/watchlist", json={"symbols": ["BTCUSDT", "A" * 31]}, headers=AUTH).json()["detail"]
    assert str(refused.value) in detail and "\n" not in detail


def test_watchlist_takes_up_to_1024_symbols(db_copy):
    """1024 symbols is the limit Binance allows on one connection: accepted."""
    symbols = [f"SYM{n:04d}USDT" for n in range(1024)]
    response = client_for(db_copy, TOKEN).put("/api/watchlist", json={"symbols": symbols}, headers=AUTH)
    assert response.status_code == 200 and len(response.json()["symbols"]) == 1024


@pytest.mark.parametrize("body, words", [
    ({"symbols": []}, "at least 1 item"),
    ({"symbols": ["BTC-USDT"]}, "'BTC-USDT' is not a symbol"),
    ({"symbols": ["BTCUSDT", "B"]}, "request body symbols[1]"),
    ({"symbols": ["A" * 31]}, "not a symbol: use 2 to 30 letters and digits"),
    ({"symbols": [f"S{n:05d}" for n in range(1025)]}, "at most 1024 items"),
    ({"symbols": "BTCUSDT"}, "valid list"),
    ({"symbols": [7]}, "valid string"),
    ({}, "request body symbols: Field required"),
    (None, "Field required"),
])
def test_watchlist_refuses_bad_lists(db_copy, body, words):
    """Bad symbols, an empty or oversized list, a wrong shape: 422 naming the problem; nothing written."""
    client = client_for(db_copy, TOKEN)
    client.put("/api/watchlist", json={"symbols": ["BTCUSDT"]}, headers=AUTH)
    before = file_digest(db_copy)
    response = client.put("/api/watchlist", json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    assert words in response.json()["detail"]
    assert file_digest(db_copy) == before


# --------------------------------------------------------------------------- alerts


def test_alert_rules_are_added_listed_and_deleted(db_copy):
    """POST validates and stores a rule (defaults filled in), GET lists it, DELETE removes it once."""
    client = client_for(db_copy)
    assert client.get("/api/alerts").json() == {"rules": []}
    response = client.post("/api/alerts", json={"kind": "zscore", "symbols": ["btcusdt", "ETHUSDT"],
                                                "params": {"threshold": 2.5}, "window": 30})
    assert response.status_code == 201, response.text
    rule = response.json()
    assert (rule["kind"], rule["symbols"], rule["window"], rule["timeframe"], rule["hedge"]) == (
        "zscore", ["BTCUSDT", "ETHUSDT"], 30, "1s", "rolling")
    assert rule["params"]["threshold"] == 2.5 and rule["params"]["lookback"] == 150 and rule["enabled"] is True
    second = client.post("/api/alerts", json={"kind": "price_cross", "symbols": "ETHUSDT", "name": "ETH 2700",
                                              "params": {"threshold": 2700}, "cooldown_s": 5,
                                              "webhook_url": "https://example.com/hook"}).json()
    assert [r["rule_id"] for r in client.get("/api/alerts").json()["rules"]] == [rule["rule_id"], second["rule_id"]]
    assert client.get("/api/alerts").json()["rules"][0] == rule
    assert client.delete(f"/api/alerts/{rule['rule_id']}").json() == {"rule_id": rule["rule_id"], "deleted": True}
    missing = client.delete(f"/api/alerts/{rule['rule_id']}")
    assert missing.status_code == 404 and "no alert rule" in missing.json()["detail"]
    assert [r["name"] for r in client.get("/api/alerts").json()["rules"]] == ["ETH 2700"]


@pytest.mark.parametrize("spec, words", [
    ({"kind": "zscore", "symbols": ["BTCUSDT", "XRPUSDT"], "params": {"threshold": 2}}, "unknown symbol 'XRPUSDT'"),
    ({"kind": "zscore", "symbols": ["BTCUSDT", "ETHUSDT"], "params": {}}, "threshold is required"),
    ({"kind": "zscore", "symbols": ["BTCUSDT", "ETHUSDT"], "params": {"threshold": 2, "speed": 1}},
     "unknown parameter 'speed'"),
    ({"kind": "price_cross", "symbols": ["BTCUSDT", "ETHUSDT"], "params": {"threshold": 1}}, "needs 1 symbol"),
    ({"kind": "zscore", "symbols": ["BTCUSDT", "ETHUSDT"], "params": {"threshold": 2}, "window": 1},
     "window must be at least 2"),
    ({"kind": "teleport", "symbols": ["BTCUSDT"], "params": {"threshold": 1}}, "request body kind"),
    ({"kind": "zscore", "symbols": ["BTCUSDT", "ETHUSDT"], "params": {"threshold": 2}, "timeframe": "2s"},
     "request body timeframe"),
    ({"kind": "zscore", "symbols": ["BTCUSDT", "ETHUSDT"], "threshold": 2}, "request body threshold"),
    ({"kind": "price_cross", "symbols": ["BTCUSDT"], "params": {"threshold": 1}, "webhook_url": "ftp://x"},
     "webhook_url must be an http"),
])
def test_bad_alert_rules_are_422_and_store_nothing(db_copy, spec, words):
    """A rule alerts.validate_rule refuses (or a body of the wrong shape) is a 422 saying what to fix."""
    before = file_digest(db_copy)
    response = client_for(db_copy).post("/api/alerts", json=spec)
    assert response.status_code == 422, response.text
    assert words in response.json()["detail"]
    assert file_digest(db_copy) == before


def test_triggered_alerts_are_listed_newest_first_with_filters(db_copy):
    """Events stored by the monitor come back newest first, filtered by since, rule_id, kind and limit."""
    events = [{"ts_ms": MIDNIGHT_MS + n * 1000, "rule_id": 1 + n % 2, "rule_name": f"rule {1 + n % 2}",
               "kind": "zscore" if n % 2 == 0 else "price_cross", "symbols": "BTCUSDT/ETHUSDT", "timeframe": "1s",
               "value": 2.0 + n, "threshold": 2.0, "direction": "UP", "message": f"event {n}"} for n in range(6)]
    with closing(store.open_writer(db_copy, "spot", "trade")) as conn, store.transaction(conn):
        store.save_alert_progress(conn, events, {})
    client = client_for(db_copy)
    body = client.get("/api/alerts/triggered").json()
    assert body["count"] == 6 and [e["message"] for e in body["events"]] == [f"event {n}" for n in range(5, -1, -1)]
    assert body["events"][0]["acknowledged_ms"] is None and body["events"][0]["value"] == 7.0
    since = client.get("/api/alerts/triggered", params={"since": "2024-08-09T00:00:03Z"}).json()
    assert [e["message"] for e in since["events"]] == ["event 5", "event 4", "event 3"]
    by_rule = client.get("/api/alerts/triggered", params={"rule_id": 2, "limit": 2}).json()
    assert [e["message"] for e in by_rule["events"]] == ["event 5", "event 3"]
    by_kind = client.get("/api/alerts/triggered", params={"kind": "zscore"}).json()
    assert {e["kind"] for e in by_kind["events"]} == {"zscore"} and by_kind["count"] == 3
    assert client.get("/api/alerts/triggered", params={"kind": "nope"}).status_code == 422


# --------------------------------------------------------------------------- database trouble


def test_a_write_while_another_writer_holds_the_database_is_503_busy(db_copy):
    """Another writer keeps the write lock past the busy timeout: 503 "busy ... try again", nothing half-done."""
    with closing(sqlite3.connect(db_copy, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        response = client_for(db_copy, TOKEN).put("/api/watchlist", json={"symbols": ["BTCUSDT"]}, headers=AUTH)
        other.execute("ROLLBACK")
    detail = response.json()["detail"]
    assert response.status_code == 503 and "busy" in detail and "try again" in detail
    assert rows_of(db_copy, "SELECT count(*) FROM watchlist") == [(0,)]


def test_a_database_error_is_a_json_500_naming_it(db_copy):
    """A schema the code does not expect (here: a table gone) is a JSON error body, not a bare 500 page."""
    with closing(sqlite3.connect(db_copy, isolation_level=None)) as conn:
        conn.execute("DROP TABLE alert_events")
    response = TestClient(create_app(db_copy), raise_server_exceptions=False).get("/api/alerts/triggered")
    assert response.status_code == 500 and "database error" in response.json()["detail"]
    assert "alert_events" in response.json()["detail"]
