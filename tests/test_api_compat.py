"""The old systems' calls (a Flask analytics API, a FastAPI + Streamlit platform) through FastAPI's
TestClient on the recorded real BTCUSDT / ETHUSDT trades, with their own parameters: each alias
answers exactly what the desk's own endpoint answers (JSON bodies, CSV bytes, errors), and
``/api/alerts_v2`` raises the alerts of the z-score ``/api/spread`` computes."""
from __future__ import annotations

import math

import pytest

from pairdesk.api.routes.compat import SAME_PATH_CALLS
from test_api import MIDNIGHT_MS, PAIR, TOKEN, client_for, file_digest  # noqa: F401
from test_api import client, db_copy, recorded_db  # noqa: F401  (fixtures)

AUTH = {"Authorization": f"Bearer {TOKEN}"}
SOON = MIDNIGHT_MS + 60_000

# (old call, its parameters) -> (the desk's endpoint, its parameters): JSON answers
JSON_ALIASES = [
    ("/api/stats", {"symbol": "ethusdt"}, "/api/stats/ETHUSDT", {}),
    ("/api/stats", {"symbol": "BTCUSDT", "window": 120, "timeframe": "5s"}, "/api/stats/BTCUSDT",
     {"window": 120, "timeframe": "5s"}),
    ("/api/stats", {"symbol": "BTCUSDT", "start": "2024-08-09T00:00:00Z", "window": 30}, "/api/stats/BTCUSDT",
     {"start": "2024-08-09T00:00:00Z", "window": 30}),
    ("/api/prices_v2", {"symbol": "btcusdt"}, "/api/ohlc/BTCUSDT", {"timeframe": "1s"}),
    ("/api/prices_v2", {"symbol": "ETHUSDT", "limit": 50, "end": SOON}, "/api/ohlc/ETHUSDT",
     {"timeframe": "1s", "limit": 50, "end": SOON}),
]
# CSV answers
CSV_ALIASES = [
    ("/api/export/price", {"symbol": "ETHUSDT"}, "/api/export/ohlc.csv", {"symbol": "ETHUSDT"}),
    ("/api/export/price", {"symbol": "btcusdt", "timeframe": "5s", "start": MIDNIGHT_MS},
     "/api/export/ohlc.csv", {"symbol": "BTCUSDT", "timeframe": "5s", "start": MIDNIGHT_MS}),
    ("/api/export/spread", {"symbols": PAIR, "window": 60, "hedge": "ols_insample"}, "/api/export/spread.csv",
     {"symbols": PAIR, "window": 60, "hedge": "ols_insample"}),
    ("/api/export/correlation", {"symbols": PAIR, "timeframe": "5s", "window": 20}, "/api/export/correlation.csv",
     {"symbols": PAIR, "timeframe": "5s", "window": 20}),
    ("/api/export/BTCUSDT", {"format": "csv", "start": MIDNIGHT_MS, "end": SOON}, "/api/export/ticks.csv",
     {"symbol": "BTCUSDT", "start": MIDNIGHT_MS, "end": SOON}),
    ("/api/export/ethusdt", {}, "/api/export/ticks.csv", {"symbol": "ETHUSDT"}),
]
# (old call, bad parameters, status, words of the answer)
BAD_CALLS = [
    ("/api/stats", {"symbol": "XRPUSDT"}, 404, "unknown symbol 'XRPUSDT'"),
    ("/api/stats", {}, 422, "query parameter symbol"),
    ("/api/stats", {"symbol": "BTCUSDT", "window": 1}, 422, "query parameter window"),
    ("/api/stats", {"symbol": "BTCUSDT", "timeframe": "2s"}, 422, "query parameter timeframe"),
    ("/api/prices_v2", {"symbol": "XRPUSDT"}, 404, "unknown symbol 'XRPUSDT'"),
    ("/api/prices_v2", {"symbol": "BTCUSDT", "limit": 0}, 422, "query parameter limit"),
    ("/api/prices_v2", {"symbol": "BTC-USDT"}, 422, "query parameter symbol"),
    ("/api/export/price", {"symbol": "XRPUSDT"}, 404, "unknown symbol"),
    ("/api/export/spread", {"symbols": "BTCUSDT"}, 422, "query parameter symbols"),
    ("/api/export/spread", {"symbols": "BTCUSDT,XRPUSDT"}, 404, "unknown symbol 'XRPUSDT'"),
    ("/api/export/correlation", {"symbols": PAIR, "window": 1}, 422, "query parameter window"),
    ("/api/export/XRPUSDT", {"format": "csv"}, 404, "unknown symbol 'XRPUSDT'"),
    ("/api/export/BTCUSDT", {"format": "json"}, 422, "query parameter format"),
    ("/api/export/BTCUSDT", {"start": "yesterday"}, 422, "neither epoch milliseconds nor an ISO 8601"),
    ("/api/alerts_v2", {"symbols": "BTCUSDT,XRPUSDT"}, 404, "unknown symbol 'XRPUSDT'"),
    ("/api/alerts_v2", {"symbols": PAIR, "threshold": -1}, 422, "threshold"),
    ("/api/alerts_v2", {"symbols": PAIR, "hedge": "ols_insample"}, 422, "cannot drive an alert"),
    ("/api/alerts_v2", {"symbols": PAIR, "window": 1}, 422, "window must be at least 2"),
    ("/api/alerts_v2", {"symbols": PAIR, "side": "sideways"}, 422, "query parameter side"),
    ("/api/alerts_v2", {"symbols": PAIR, "cooldown_s": "inf"}, 422, "cooldown_s must be a finite number"),
]


@pytest.mark.parametrize("old, old_params, desk, desk_params", JSON_ALIASES)
def test_json_aliases_answer_what_the_desks_endpoint_answers(client, old, old_params, desk, desk_params):
    """The old call with its own parameters gives the desk endpoint's body, number for number."""
    answer, expected = client.get(old, params=old_params), client.get(desk, params=desk_params)
    assert answer.status_code == expected.status_code == 200, answer.text
    assert answer.json() == expected.json()


@pytest.mark.parametrize("old, old_params, desk, desk_params", CSV_ALIASES)
def test_csv_aliases_stream_the_desks_file_byte_for_byte(client, old, old_params, desk, desk_params):
    """The old export call streams the same CSV bytes (and file name) as the desk's .csv export."""
    answer, expected = client.get(old, params=old_params), client.get(desk, params=desk_params)
    assert answer.status_code == expected.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == expected.headers["content-disposition"]
    assert len(answer.content) > 100 and answer.content == expected.content


@pytest.mark.parametrize("old, params, status, words", BAD_CALLS)
def test_bad_parameters_are_422_and_unknown_symbols_404(client, old, params, status, words):
    """A bad parameter is the desk's 422, an unknown symbol its 404, each one line naming the problem."""
    response = client.get(old, params=params)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]


def test_an_unknown_symbol_is_the_same_answer_as_the_desks(client):
    """The alias's error body is the desk endpoint's, word for word."""
    assert client.get("/api/stats", params={"symbol": "XRPUSDT"}).json() == client.get("/api/stats/XRPUSDT").json()
    assert (client.get("/api/export/XRPUSDT").json()
            == client.get("/api/export/ticks.csv", params={"symbol": "XRPUSDT"}).json())


def test_the_old_calls_that_match_the_desks_paths_answer_with_their_parameters(client):
    """The platform's own calls (spread, correlation with symbols=a,b&window=, ticks, ohlc, stats,
    prices) answer as they are: same method, path and parameters."""
    spread = client.get("/api/spread", params={"symbols": "btcusdt,ethusdt", "window": 30, "limit": 5}).json()
    assert (spread["window"], len(spread["rows"])) == (30, 5)
    correlation = client.get("/api/correlation", params={"symbols": PAIR, "window": 30}).json()
    assert correlation["window"] == 30 and -1 <= correlation["price_correlation"] <= 1
    assert client.get("/api/ticks/BTCUSDT", params={"limit": 3}).json()["count"] == 3
    assert client.get("/api/ohlc/ETHUSDT", params={"timeframe": "1m", "limit": 2}).json()["count"] == 2
    assert client.get("/api/stats/ETHUSDT", params={"window": 60}).json()["window"] == 60
    assert len(client.get("/api/prices", params={"symbol": "ETHUSDT", "limit": 4}).json()["prices"]) == 4


def test_every_old_call_is_documented_under_the_compatibility_tag(client):
    """The OpenAPI page lists each old call, aliases and unchanged ones, under "compatibility"."""
    schema = client.get("/openapi.json").json()
    tagged = {(method.upper(), path) for path, operations in schema["paths"].items()
              for method, operation in operations.items() if "compatibility" in operation["tags"]}
    aliases = {("GET", "/api/stats"), ("GET", "/api/prices_v2"), ("GET", "/api/alerts_v2"),
               ("GET", "/api/export/price"), ("GET", "/api/export/spread"), ("GET", "/api/export/correlation"),
               ("POST", "/api/admin/schedule"), ("GET", "/api/export/{symbol}"), ("POST", "/api/upload/ohlc")}
    assert tagged == aliases | SAME_PATH_CALLS
    assert "compatibility" in {tag["name"] for tag in schema["tags"]}


# --------------------------------------------------------------------------- alerts computed on request


def test_alerts_v2_fire_where_the_spread_z_crosses_the_threshold(client):
    """Each computed alert is at a bar where /api/spread's z (same window, rolling hedge, lookback)
    reaches ±threshold after having been back inside threshold - hysteresis, and none is missed."""
    params = {"symbols": PAIR, "threshold": 1.5, "window": 10, "lookback": 20, "cooldown_s": 0, "hysteresis": 0.5}
    body = client.get("/api/alerts_v2", params=params).json()
    rule = body["rule"]
    assert (rule["rule_id"], rule["kind"], rule["hedge"], rule["window"]) == (None, "zscore", "rolling", 10)
    assert rule["params"] == {"threshold": 1.5, "hysteresis": 0.5, "side": "both", "lookback": 20}
    spread = client.get("/api/spread", params={"symbols": PAIR, "window": 10, "hedge": "rolling", "hedge_window": 20,
                                               "limit": 100_000}).json()
    z = {row["ts_ms"]: row["zscore"] for row in spread["rows"] if row["zscore"] is not None}
    assert body["count"] == len(body["alerts"]) > 5
    assert body["first_bar_ms"] <= min(z) and body["last_bar_ms"] >= max(z)
    for alert in body["alerts"]:
        assert math.isclose(alert["value"], z[alert["ts_ms"]], rel_tol=1e-9, abs_tol=1e-9)
        assert alert["value"] >= 1.5 if alert["direction"] == "UP" else alert["value"] <= -1.5
    # the hysteresis rule replayed on /api/spread's z (a fresh rule arms only once inside the band)
    armed: dict[str, bool | None] = {"UP": None, "DOWN": None}
    expected = []
    for ts_ms in sorted(z):
        value = z[ts_ms]
        for direction, fires, rearms in (("UP", value >= 1.5, value < 1.0), ("DOWN", value <= -1.5, value > -1.0)):
            if armed[direction] is None:
                armed[direction] = not fires
            elif armed[direction] and fires:
                armed[direction] = False
                expected.append((ts_ms, direction))
            elif rearms:
                armed[direction] = True
    assert [(a["ts_ms"], a["direction"]) for a in body["alerts"]] == expected


def test_alerts_v2_take_the_range_side_and_store_nothing(db_copy):
    """start / end narrow the bars evaluated, side=up keeps the UP alerts only, nothing is written."""
    client = client_for(db_copy)
    before = file_digest(db_copy)
    params = {"symbols": PAIR, "threshold": 1.5, "window": 10, "lookback": 20, "cooldown_s": 0}
    everything = client.get("/api/alerts_v2", params=params).json()["alerts"]
    after_midnight = client.get("/api/alerts_v2", params={**params, "start": MIDNIGHT_MS}).json()
    assert after_midnight["first_bar_ms"] == MIDNIGHT_MS
    assert after_midnight["count"] > 0 and all(a["ts_ms"] >= MIDNIGHT_MS for a in after_midnight["alerts"])
    up = client.get("/api/alerts_v2", params={**params, "side": "up"}).json()["alerts"]
    assert up and up == [a for a in everything if a["direction"] == "UP"]
    assert client.get("/api/alerts_v2", params={**params, "start": "2030-01-01T00:00:00Z"}).json()["count"] == 0
    assert file_digest(db_copy) == before


# --------------------------------------------------------------------------- writes


def test_admin_schedule_computes_and_stores_what_admin_hourly_does(db_copy):
    """POST /api/admin/schedule needs the token and stores the hourly summaries /api/admin/hourly stores."""
    assert client_for(db_copy).post("/api/admin/schedule", params={"symbols": PAIR}).status_code == 403
    client = client_for(db_copy, TOKEN)
    params = {"symbols": PAIR, "timeframe": "1m", "window": 5}
    assert client.post("/api/admin/schedule", params=params).status_code == 401
    scheduled = client.post("/api/admin/schedule", params=params, headers=AUTH)
    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["count"] > 0
    assert client.get("/api/summary/hourly", params={"symbols": PAIR}).json() == scheduled.json()
    hourly = client.post("/api/admin/hourly", params=params, headers=AUTH).json()

    def without_clock(body: dict) -> list[dict]:
        return [{k: v for k, v in row.items() if k != "computed_ms"} for row in body["summaries"]]

    assert without_clock(hourly) == without_clock(scheduled.json())
    assert client.post("/api/admin/schedule", params={"symbols": "BTCUSDT,XRPUSDT"}, headers=AUTH).status_code == 404


BARS = ("time,open,high,low,close,volume\n"
        "2024-08-08T23:00:00Z,60000,60010,59990,60005,1.5\n"
        "2024-08-08T23:00:01Z,60005,60006,60004,60006,0.5\n")


def test_upload_ohlc_imports_a_bar_file_as_upload_does(db_copy, tmp_path):
    """The same bar file through /api/upload/ohlc and /api/upload: the same answer, the same bars stored;
    a bad file is the same 422."""
    other = tmp_path / "other.db"
    other.write_bytes(db_copy.read_bytes())
    old, desk = client_for(db_copy), client_for(other)
    files = {"file": ("my-bars.csv", BARS.encode(), "text/csv")}
    answer = old.post("/api/upload/ohlc", files=files, data={"symbol": "btcusdt"})
    expected = desk.post("/api/upload", files=files, data={"symbol": "btcusdt"})
    assert answer.status_code == expected.status_code == 200, answer.text
    assert answer.json() == expected.json() and answer.json()["stored"] == 2
    bars = {"timeframe": "1s", "end": MIDNIGHT_MS - 3_600_000}
    assert old.get("/api/ohlc/BTCUSDT", params=bars).json() == desk.get("/api/ohlc/BTCUSDT", params=bars).json()
    bad = {"file": ("prices.csv", b"time,open,high,low,close,volume\n2024-08-09T00:00:00Z,1,2,0.5,1.5,10\n")}
    refused, desk_refused = old.post("/api/upload/ohlc", files=bad), desk.post("/api/upload", files=bad)
    assert refused.status_code == 422 and refused.json() == desk_refused.json()
