"""GET /api/quotes, /api/funding, /api/costs, the quote and funding CSV exports, and the backtest
filling at quote bars, through FastAPI's TestClient on a futures database of the recorded BTCUSDT /
ETHUSDT @bookTicker frames (folded by QuoteBarBuilder, with a simulated BTC disconnect), synthetic
mark prices and settled funding (``quote_db``); and the one-line refusals on spot and unknown symbols."""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from conftest import read_db
from pairdesk import analytics, store
from pairdesk.api.main import create_app
from quote_db import (MIDNIGHT_MS, PAIR, QUOTE_GAP, RATES, SYMBOLS, build_quote_db, build_trades_only_db,
                      recorded_quote_seconds, settled_rows)
from test_api import build_recorded_db

WINDOW = 10  # bars: the recording holds 44 seconds
HEDGE_WINDOW = 10
PAIR_PARAMS = {"symbols": PAIR, "window": WINDOW, "hedge_window": HEDGE_WINDOW}


@pytest.fixture(scope="module")
def quote_db(tmp_path_factory) -> Path:
    return build_quote_db(tmp_path_factory.mktemp("quotes") / "futures.db")


@pytest.fixture(scope="module")
def client(quote_db) -> TestClient:
    return TestClient(create_app(quote_db))


def folded(symbol: str) -> pd.DataFrame:
    """The quote seconds computed from the frames, independently of the store (QuoteBarBuilder)."""
    return pd.DataFrame(recorded_quote_seconds(symbol)[0]).drop(columns="symbol")


def stored_gaps(symbol: str) -> pd.DataFrame:
    return pd.DataFrame([g._asdict() for g in recorded_quote_seconds(symbol)[1]])


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows).fillna(np.nan)


def test_one_second_quotes_are_the_stored_seconds_with_their_spread_in_bps(client):
    """At 1s the rows are the seconds folded from the frames, spread_bps = (ask - bid) / mid * 1e4
    (about 0.016 bps on BTC futures), and the disconnect comes back as a quote gap."""
    body = client.get("/api/quotes/btcusdt").json()
    rows = frame(body["quotes"])
    expected = folded("BTCUSDT")
    assert body["count"] == len(expected) and body["timeframe"] == "1s"
    pd.testing.assert_frame_equal(rows[expected.columns], expected, check_dtype=False)
    mid = (expected["bid"] + expected["ask"]) / 2
    np.testing.assert_allclose(rows["spread_bps"], (expected["ask"] - expected["bid"]) / mid * 1e4, rtol=1e-12)
    assert rows["spread_bps"].median() == pytest.approx(0.0162, abs=5e-4)
    assert not rows["ts_ms"].between(QUOTE_GAP[0] + 1000, QUOTE_GAP[1] - 1000).any()
    # the gap runs from the last update received before the disconnect
    ((from_ms, reason),) = [(g["from_ms"], g["reason"]) for g in body["gaps"]]
    assert reason == "disconnect" and QUOTE_GAP[0] - 1000 < from_ms <= QUOTE_GAP[0]


def test_coarser_quote_bars_are_the_engines_and_a_bar_inside_a_gap_is_left_out(client):
    """At 5s the bars equal analytics.quote_bars_at on every second (gaps applied); the bar wholly
    inside the disconnect is not returned, never invented."""
    rows = frame(client.get("/api/quotes/BTCUSDT", params={"timeframe": "5s"}).json()["quotes"])
    expected = analytics.quote_bars_at(folded("BTCUSDT"), "5s", stored_gaps("BTCUSDT"))
    kept = expected[expected["bid"].notna() | expected["mean_spread"].notna()].reset_index(drop=True)
    pd.testing.assert_frame_equal(rows[kept.columns], kept, check_dtype=False)
    assert QUOTE_GAP[0] in expected["ts_ms"].tolist() and QUOTE_GAP[0] not in rows["ts_ms"].tolist()


def test_a_range_and_a_limit_give_the_same_bars_as_the_whole(client):
    """A bar at the start of a range has the book carried into it from before the range (read with the
    second before it), so it equals the same bar of the unbounded answer; limit keeps the newest."""
    whole = frame(client.get("/api/quotes/ETHUSDT", params={"timeframe": "10s"}).json()["quotes"])
    start = int(whole["ts_ms"].iloc[2])
    part = frame(client.get("/api/quotes/ETHUSDT", params={"timeframe": "10s", "start": start}).json()["quotes"])
    pd.testing.assert_frame_equal(part, whole.iloc[2:].reset_index(drop=True))
    last = frame(client.get("/api/quotes/ETHUSDT", params={"limit": 3}).json()["quotes"])
    pd.testing.assert_frame_equal(last, frame(client.get("/api/quotes/ETHUSDT").json()["quotes"]).tail(3)
                                  .reset_index(drop=True))


def test_funding_has_the_settlements_the_current_rate_and_the_next_settlement(client):
    """Settled rows as stored, the rate and next settlement of the newest mark second, 8 h interval."""
    body = client.get("/api/funding/ethusdt").json()
    assert [(r["funding_time_ms"], r["rate"]) for r in body["settled"]] == [(t, r) for _, t, r, _ in
                                                                            settled_rows("ETHUSDT")]
    assert body["current_rate"] == RATES["ETHUSDT"] and body["interval_ms"] == 8 * 3_600_000
    assert body["next_funding_ms"] == (MIDNIGHT_MS + 8 * 3_600_000 if body["mark_ts_ms"] >= MIDNIGHT_MS
                                       else MIDNIGHT_MS)
    one = client.get("/api/funding/ETHUSDT", params={"start": settled_rows("ETHUSDT")[2][1]}).json()
    assert one["count"] == 1


@pytest.mark.parametrize("path", ["/api/funding/BTCUSDT", "/api/export/funding.csv?symbol=BTCUSDT"])
def test_funding_on_a_spot_database_is_a_404_one_liner(tmp_path, path):
    """Spot settles no funding: 404 with one line saying so."""
    spot = TestClient(create_app(build_recorded_db(tmp_path / "spot.db")))
    response = spot.get(path)
    assert response.status_code == 404
    assert "spot" in response.json()["detail"] and "\n" not in response.json()["detail"]


@pytest.mark.parametrize("path", ["/api/quotes/XRPUSDT", "/api/funding/XRPUSDT", "/api/export/quotes.csv?symbol=XRPUSDT"])
def test_an_unknown_symbol_is_a_404(client, path):
    response = client.get(path)
    assert response.status_code == 404 and "unknown symbol 'XRPUSDT'" in response.json()["detail"]


def engine_panel(db: Path) -> pd.DataFrame:
    bars = read_db(db, lambda conn: [store.read_bars_1s(conn, s) for s in SYMBOLS])
    return analytics.pair_panel(*bars, "1s", WINDOW, "rolling", hedge_window=HEDGE_WINDOW)


def engine_quote_bars() -> list[pd.DataFrame]:
    return [analytics.quote_bars_at(folded(s), "1s", stored_gaps(s) if len(stored_gaps(s)) else None)
            for s in SYMBOLS]


def test_costs_are_the_last_row_of_pair_costs_on_the_panel(client, quote_db):
    """latest = analytics.pair_costs' last row with books on the /api/spread panel (here the last row;
    quote bars computed from the frames); the series its last rows; the flags booleans; round trip =
    spreads + fees."""
    body = client.get("/api/costs", params={**PAIR_PARAMS, "notional": 25_000, "series": True, "limit": 5}).json()
    expected = analytics.pair_costs(*engine_quote_bars(), engine_panel(quote_db), 25_000)
    last = expected.iloc[-1]
    for column in ("ts_ms", "hedge_ratio", "spread_bps_a", "spread_bps_b", "long_cost", "round_trip_bps"):
        assert body["latest"][column] == pytest.approx(last[column], rel=1e-9), column
    assert body["latest"]["long_exceeds_touch"] is bool(last["long_exceeds_touch"])
    assert body["latest"]["round_trip_cost"] == pytest.approx(
        body["latest"]["long_cost"] + body["latest"]["short_cost"] + body["latest"]["round_trip_fees"])
    assert [r["ts_ms"] for r in body["rows"]] == expected["ts_ms"].tail(5).tolist()
    assert body["notional"] == 25_000 and client.get("/api/costs", params=PAIR_PARAMS).json()["rows"] == []


@pytest.mark.parametrize("notional", ["0", "-5", "abc"])
def test_a_bad_notional_is_a_422(client, notional):
    response = client.get("/api/costs", params={**PAIR_PARAMS, "notional": notional})
    assert response.status_code == 422 and "notional" in response.json()["detail"]


def test_without_quotes_the_answers_are_empty_not_errors(tmp_path):
    """A futures database of trades only: no quote rows, costs with null amounts, the backtest modelled."""
    bare = TestClient(create_app(build_trades_only_db(tmp_path / "trades.db")))
    assert bare.get("/api/quotes/BTCUSDT").json() == {"symbol": "BTCUSDT", "timeframe": "1s", "count": 0,
                                                       "quotes": [], "gaps": []}
    assert bare.get("/api/costs", params=PAIR_PARAMS).json()["latest"] is None  # no row has books
    funding = bare.get("/api/funding/BTCUSDT").json()
    assert funding["settled"] == [] and funding["current_rate"] is None
    trades = bare.get("/api/backtest", params={**PAIR_PARAMS, "entry": 1, "exit": 0.2}).json()["trades"]
    assert trades and {t["fills"] for t in trades} == {"model"}


def test_backtest_fills_at_the_quote_bars_and_pays_funding(quote_db, tmp_path):
    """The route passes the pair's quotes and funding: trades equal backtest_zscore with pair_quotes and
    both legs' settlements; a buy of A fills at the ask of its quote bar (plus slippage); a settlement
    inside a held position pays funding."""
    db = tmp_path / "settling.db"
    shutil.copy(quote_db, db)
    conn = store.open_writer(db, "futures", "trade")
    with store.atomic(conn):
        store.store_funding(conn, [(s, MIDNIGHT_MS - 10_000 * k, 0.001, None) for s in SYMBOLS for k in range(1, 4)])
    conn.close()
    params = {**PAIR_PARAMS, "entry": 1, "exit": 0.2, "slippage_bps": 0}
    body = TestClient(create_app(db)).get("/api/backtest", params=params).json()
    panel = engine_panel(db)
    funding = read_db(db, lambda c: tuple(store.read_funding(c, s) for s in SYMBOLS))
    expected = analytics.backtest_zscore(panel, "1s", 1, 0.2, slippage_bps=0,
                                         quotes=analytics.pair_quotes(*engine_quote_bars(), panel), funding=funding)
    trades = pd.DataFrame(body["trades"]).rename(columns={"return_": "return"})
    pd.testing.assert_frame_equal(trades[expected.trades.columns], expected.trades, check_dtype=False)
    assert (trades["fills"] == "quotes").any() and body["report"]["funding"] != 0
    quoted = analytics.pair_quotes(*engine_quote_bars(), panel).set_index("ts_ms")
    trade = trades[trades["fills"] == "quotes"].iloc[0]
    side = "ask_a" if trade["qty_a"] > 0 else "bid_a"
    assert trade["entry_price_a"] == quoted.loc[trade["entry_ts_ms"], side]


def test_csv_exports_hold_the_json_rows(client):
    """quotes.csv is /api/quotes row for row (every row, streamed in chunks); funding.csv the settlements."""
    csv = pd.read_csv(io.StringIO(client.get("/api/export/quotes.csv", params={"symbol": "BTCUSDT",
                                                                               "timeframe": "5s"}).text))
    rows = frame(client.get("/api/quotes/BTCUSDT", params={"timeframe": "5s"}).json()["quotes"])
    pd.testing.assert_frame_equal(csv, rows[csv.columns], check_dtype=False)
    funding = pd.read_csv(io.StringIO(client.get("/api/export/funding.csv", params={"symbol": "BTCUSDT"}).text))
    assert funding.columns.tolist() == ["funding_time_ms", "rate", "mark_price"]
    assert funding["funding_time_ms"].tolist() == [t for _, t, _, _ in settled_rows("BTCUSDT")]


def test_openapi_documents_the_quote_endpoints(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/quotes/{symbol}", "/api/funding/{symbol}", "/api/costs", "/api/export/quotes.csv",
                 "/api/export/funding.csv"):
        operation = paths[path]["get"]
        assert operation["summary"] and operation["description"], path
    assert "spot" in paths["/api/funding/{symbol}"]["get"]["responses"]["404"]["description"]
