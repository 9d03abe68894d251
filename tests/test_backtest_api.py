"""GET /api/backtest through FastAPI's TestClient on the recorded BTCUSDT / ETHUSDT database: the
engine's report and trades on the /api/spread panel, the split, bad parameters and the OpenAPI page."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from pairdesk import analytics, store
from conftest import read_db
from test_api import PAIR, SYMBOLS, build_recorded_db, client_for

WINDOW = 10  # bars: the trimmed recording holds two minutes of 1-second bars
HEDGE_WINDOW = 30  # bars before each bar the hedge is estimated on


@pytest.fixture(scope="module")
def recorded_db(tmp_path_factory) -> Path:
    return build_recorded_db(tmp_path_factory.mktemp("backtest_api") / "ticks.db")


@pytest.fixture(scope="module")
def client(recorded_db) -> TestClient:
    return client_for(recorded_db)


def engine_result(db: Path, hedge: str = "rolling", **kwargs) -> analytics.BacktestResult:
    """The engine run independently of the API: pair_panel of the stored bars, then backtest_zscore."""
    bars = read_db(db, lambda conn: [store.read_bars_1s(conn, s) for s in SYMBOLS])
    panel = analytics.pair_panel(*bars, "1s", WINDOW, hedge, hedge_window=HEDGE_WINDOW)
    return analytics.backtest_zscore(panel, "1s", **kwargs)


def assert_figures(body: dict, report: analytics.BacktestReport) -> None:
    """JSON figures equal the engine's report: numbers to 1e-12 relative, None and text exactly."""
    expected = asdict(report)
    assert body.keys() == expected.keys()
    for key, value in expected.items():
        assert body[key] == (value if value is None or isinstance(value, str) else pytest.approx(value, rel=1e-12)), key


def test_backtest_returns_the_engines_report_and_trades(client, recorded_db):
    """Report, rules and every trade equal backtest_zscore on the same panel, with the parameters given."""
    params = {"entry": 1.5, "exit": 0.3, "stop": 5, "fee_bps": 4, "slippage_bps": 1, "half_spread_bps": 2}
    response = client.get("/api/backtest", params={"symbols": "btcusdt,ethusdt", "window": WINDOW, "hedge_window": HEDGE_WINDOW, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = engine_result(recorded_db, **params)
    assert len(expected.trades) >= 2
    assert (body["symbol_a"], body["symbol_b"], body["hedge"], body["window"]) == ("BTCUSDT", "ETHUSDT", "rolling",
                                                                                   WINDOW)
    assert body["rules"] == {**params, "oos_fraction": None}
    assert_figures(body["report"], expected.report)
    assert body["capital"] == pytest.approx(expected.capital) and body["reason"] is None
    trades = pd.DataFrame(body["trades"])
    pd.testing.assert_frame_equal(trades[expected.trades.columns], expected.trades, check_dtype=False)
    assert body["report"]["sharpe"] is None and body["report"]["sharpe_reason"].startswith("too short")
    net = body["report"]["gross_pnl"] - body["report"]["costs"]
    assert body["report"]["net_pnl"] == pytest.approx(net, rel=1e-9, abs=1e-12)


def test_backtest_split_reports_both_parts(client, recorded_db):
    """oos_fraction=0.5: in-sample and out-of-sample figures that add up to the whole run."""
    body = client.get("/api/backtest", params={"symbols": PAIR, "window": WINDOW, "hedge_window": HEDGE_WINDOW, "entry": 1.5, "exit": 0.3,
                                               "oos_fraction": 0.5}).json()
    expected = engine_result(recorded_db, entry=1.5, exit=0.3, oos_fraction=0.5)
    assert_figures(body["in_sample"], expected.in_sample)
    assert_figures(body["out_of_sample"], expected.out_of_sample)
    assert body["in_sample"]["bars"] + body["out_of_sample"]["bars"] == body["report"]["bars"]
    assert {t["part"] for t in body["trades"]} <= {"in_sample", "out_of_sample"}


def test_defaults_and_the_time_range(client, recorded_db):
    """Without rules the defaults run (rolling hedge); start / end restrict the bars like /api/spread."""
    body = client.get("/api/backtest", params={"symbols": PAIR, "window": WINDOW, "hedge_window": HEDGE_WINDOW}).json()
    defaults = analytics.BacktestParams()
    assert body["rules"] == defaults.as_kwargs() and body["hedge"] == "rolling"
    spread = client.get("/api/spread", params={"symbols": PAIR, "window": WINDOW, "hedge_window": HEDGE_WINDOW, "hedge": "rolling"}).json()
    assert body["rows_total"] == spread["rows_total"] == body["report"]["bars"]
    first = spread["rows"][0]["ts_ms"]
    later = client.get("/api/backtest", params={"symbols": PAIR, "window": WINDOW, "hedge_window": HEDGE_WINDOW, "start": first + 30_000}).json()
    assert later["report"]["bars"] == body["report"]["bars"] - 30


@pytest.mark.parametrize(("query", "status", "fragment"), [
    ("entry=1&exit=1", 422, "need 0 <= exit < entry < stop"),
    ("entry=2&exit=3", 422, "need 0 <= exit < entry < stop"),
    ("entry=3&stop=3", 422, "need 0 <= exit < entry < stop"),
    ("fee_bps=-1", 422, "query parameter fee_bps"),
    ("slippage_bps=-0.1", 422, "query parameter slippage_bps"),
    ("half_spread_bps=-2", 422, "query parameter half_spread_bps"),
    ("exit=-0.5", 422, "query parameter exit"),
    ("oos_fraction=1", 422, "query parameter oos_fraction"),
    ("oos_fraction=0", 422, "query parameter oos_fraction"),
    ("entry=abc", 422, "query parameter entry"),
    ("hedge=median", 422, "query parameter hedge"),
    ("hedge=ols_insample", 422, "fitted on the whole sample"),
])
def test_bad_parameters_are_422_with_one_line(client, query, status, fragment):
    """Entry <= exit, stop <= entry, negative costs, a split outside (0, 1), an in-sample hedge: 422, saying which."""
    response = client.get(f"/api/backtest?symbols={PAIR}&{query}")
    assert response.status_code == status and fragment in response.json()["detail"], response.text
    assert "\n" not in response.json()["detail"]


def test_unknown_symbol_is_404(client):
    """A symbol the database does not hold is a 404 naming it."""
    response = client.get("/api/backtest?symbols=BTCUSDT,DOGEUSDT")
    assert response.status_code == 404 and "DOGEUSDT" in response.json()["detail"]


def test_openapi_documents_the_backtest_under_analytics(client):
    """The endpoint is in the OpenAPI page, tagged analytics, with a summary, a description, every
    parameter described, the response model and the JSON error body."""
    schema = client.get("/openapi.json").json()
    op = schema["paths"]["/api/backtest"]["get"]
    assert op["tags"] == ["analytics"] and op["summary"] and len(op["description"]) > 40
    names = {p["name"] for p in op["parameters"]}
    assert {"symbols", "timeframe", "window", "hedge", "start", "end", "entry", "exit", "stop", "fee_bps",
            "slippage_bps", "half_spread_bps", "oos_fraction"} <= names
    assert all(p.get("description") for p in op["parameters"])
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/BacktestResponse")
    for status in ("404", "422", "503"):
        assert op["responses"][status]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")


def test_no_trades_is_an_answer_not_an_error(client):
    """Thresholds no bar reaches: 200 with no trades, reason 'no trades', zero P&L and null capital."""
    body = client.get("/api/backtest", params={"symbols": PAIR, "window": WINDOW, "hedge_window": HEDGE_WINDOW, "entry": 50, "stop": 60}).json()
    assert body["trades"] == [] and body["reason"] == "no trades" and body["capital"] is None
    assert body["report"]["net_pnl"] == 0 and np.isclose(body["report"]["max_drawdown"], 0)
