"""The REST API through FastAPI's TestClient on a database of real recorded BTCUSDT / ETHUSDT spot
trades: every read endpoint against tickstore / analytics_engine and the analytics CLI's CSV, bad
parameters, the OpenAPI page, and that reading writes nothing.

Writes (uploads, summaries, watchlist, alerts) are in test_api_writes.py, the command line in
test_api_server.py, the schemathesis run in test_api_schemathesis.py; they share the helpers here.
"""
from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import sys
from contextlib import closing
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from pairdesk import analytics, binance, health, store
from pairdesk.api.main import create_app
from pairdesk.api.routes import exports
from pairdesk.api.routes.status import feed_status
from pairdesk.api.schemas.analytics import CORRELATION_COLUMNS
from conftest import REPO_ROOT, binance_file, read_db
from recordings import recorded_frames, trade_count

SYMBOLS = ("BTCUSDT", "ETHUSDT")
PAIR = "BTCUSDT,ETHUSDT"
RECORDINGS = ("hftbacktest/spot/btcusdt_20240808.gz", "hftbacktest/spot/btcusdt_20240809.gz",
              "hftbacktest/spot/ethusdt_20240808.gz", "hftbacktest/spot/ethusdt_20240809.gz")
TOKEN = "test-token-1234"
MIDNIGHT_MS = 1_723_161_600_000  # 2024-08-09T00:00:00Z, inside the recording (23:54 -> 00:05)

# --------------------------------------------------------------------------- shared helpers


@lru_cache(maxsize=None)
def _recorded_trades() -> tuple[binance.Trade, ...]:
    trades = []
    for relative in RECORDINGS:
        for frame in recorded_frames(binance_file(relative)):
            try:
                message = binance.parse_message(frame, "trade")
            except binance.BadFrame:
                continue
            if isinstance(message, binance.Trade):
                trades.append(message)
    return tuple(trades)


def recorded_trades(symbol: str) -> pd.DataFrame:
    """The recorded real trades of one symbol as parsed by binance.py, sorted by trade id."""
    rows = [t for t in _recorded_trades() if t.symbol == symbol]
    frame = pd.DataFrame(rows, columns=binance.Trade._fields).drop(columns="symbol")
    return frame.drop_duplicates("trade_id").sort_values("trade_id", ignore_index=True)


def build_recorded_db(path: Path, source: str = "binance") -> Path:
    """A tick database written by tickstore from the recorded real spot trades of both symbols."""
    trades = _recorded_trades()
    assert store.write_trades(path, trades, market="spot", stream="trade", source=source) == trade_count(*RECORDINGS)
    return path


def client_for(path: Path, token: str | None = None) -> TestClient:
    return TestClient(create_app(path, token))


def run_cli(db: Path, out: Path, *args: str) -> pd.DataFrame:
    """Run the analytics CLI as a subprocess and read its CSV back."""
    result = subprocess.run([sys.executable, str(REPO_ROOT / "analytics_engine.py"), "--db", str(db),
                             "--symbols", PAIR, "--out", str(out), *args],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return pd.read_csv(out)


def file_digest(path: Path) -> str:
    """Digest of a database file and its WAL (what a write would change)."""
    digest = hashlib.sha256()
    for part in (path, path.with_name(path.name + "-wal")):
        if part.exists():
            digest.update(part.read_bytes())
    return digest.hexdigest()


def json_frame(rows: list[dict]) -> pd.DataFrame:
    """JSON rows as a DataFrame with null read back as NaN."""
    return pd.DataFrame(rows).astype({"ts_ms": "int64"}).fillna(np.nan)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def recorded_db(tmp_path_factory) -> Path:
    return build_recorded_db(tmp_path_factory.mktemp("api") / "ticks.db")


@pytest.fixture(scope="module")
def client(recorded_db) -> TestClient:
    return client_for(recorded_db)


@pytest.fixture
def db_copy(recorded_db, db_path) -> Path:
    """A private copy of the recorded database for a test that writes to it."""
    shutil.copy(recorded_db, db_path)
    return db_path


# --------------------------------------------------------------------------- status and symbols


def test_status_reports_metadata_counts_and_red_without_an_ingestor(client, recorded_db):
    """Market, stream, source, schema version and trade counts; no feed status rows means red."""
    body = client.get("/api/status").json()
    assert (body["market"], body["stream"], body["source"], body["demo"]) == ("spot", "trade", "binance", False)
    assert body["schema_version"] == store.SCHEMA_VERSION
    assert body["trades"] == sum(len(recorded_trades(s)) for s in SYMBOLS)
    assert [s["symbol"] for s in body["symbols"]] == list(SYMBOLS)
    assert body["verdict"] == "red" and body["open_gaps"] == 0
    assert all(f["verdict"] == "red" and "no status row" in f["reason"] for f in body["feeds"])


def test_status_shows_feed_lights_and_open_gaps_from_the_ingestors_rows(db_copy):
    """A fresh live feed is green, a disconnected one red; an open gap is counted per symbol."""
    now = store.now_ms()
    with closing(store.open_writer(db_copy, "spot", "trade")) as conn, store.transaction(conn):
        store.upsert_status(conn, "BTCUSDT", state="live", last_trade_ms=now - 500, last_message_ms=now)
        store.upsert_status(conn, "ETHUSDT", state="disconnected", last_trade_ms=now - 500)
        store.open_gap(conn, "ETHUSDT", 10, 20, "test")
    body = client_for(db_copy).get("/api/status").json()
    lights = {f["symbol"]: f["verdict"] for f in body["feeds"]}
    assert lights == {"BTCUSDT": "green", "ETHUSDT": "red"}
    assert body["verdict"] == "red"
    assert body["open_gaps"] == 1 and body["open_gaps_by_symbol"] == {"ETHUSDT": 1}


NOW = 1_800_000_000_000


@pytest.mark.parametrize("row, verdict", [
    ({"state": "live", "last_trade_ms": NOW - 4_999, "updated_ms": NOW - 9_999}, "green"),
    ({"state": "live", "last_trade_ms": NOW - 5_000, "updated_ms": NOW - 1_000}, "amber"),
    ({"state": "live", "last_trade_ms": None, "updated_ms": NOW - 1_000}, "amber"),
    ({"state": "polling", "last_trade_ms": NOW - 100, "updated_ms": NOW - 1_000}, "amber"),
    ({"state": "starting", "last_trade_ms": None, "updated_ms": NOW}, "amber"),
    ({"state": "live", "last_trade_ms": NOW - 100, "updated_ms": NOW - 10_001}, "red"),
    ({"state": "disconnected", "last_trade_ms": NOW - 100, "updated_ms": NOW - 100}, "red"),
    ({"state": "stopped", "last_trade_ms": NOW - 100, "updated_ms": NOW - 100}, "red"),
    ({"state": "live", "last_trade_ms": NOW - 100, "updated_ms": NOW - 100, "open_gaps": 3}, "amber"),
    ({"state": "live", "last_trade_ms": NOW - 6_000, "last_message_ms": NOW - 1_000, "updated_ms": NOW - 100},
     "amber"),
])
def test_feed_verdict_rules(row, verdict):
    """green = live, last trade < 5 s, heartbeat < 10 s, no open gap; red = heartbeat > 10 s or
    disconnected / stopped; the label says it in words (live / delayed / disconnected)."""
    status = feed_status("BTCUSDT", {"symbol": "BTCUSDT", **row}, NOW)
    assert status["verdict"] == verdict, status["reason"]
    assert status["label"] == health.LABELS[verdict]


# (state, age of the last trade, age of the last message, open gaps, last error, age of the heartbeat), ms
PARITY_ROWS = {
    "AAAUSDT": ("live", 200, 100, 0, None, None),
    "BBBUSDT": ("live", 200, 100, 3, None, None),
    "CCCUSDT": ("live", 6_000, 1_000, 0, None, None),
    "DDDUSDT": ("live", None, 1_000, 0, None, None),
    "EEEUSDT": ("polling", 300, 300, 0, None, None),
    "FFFUSDT": ("connecting", None, None, 0, None, None),
    "GGGUSDT": ("disconnected", 90_000, 60_000, 0, "Binance unreachable: connection refused", None),
    "HHHUSDT": ("stopped", 2_000, 1_000, 0, None, None),
    "IIIUSDT": ("live", 200, 100, 0, None, 30_000),
}


def test_status_reports_exactly_the_shared_feed_health_rule(db_copy):
    """The same feed_status rows give /api/status the colour, label and reason of pairdesk.health.feed_health,
    feed by feed, and the overall verdict of overall_colour (the dashboard's rule)."""
    now = store.now_ms()
    with closing(store.open_writer(db_copy, "spot", "trade")) as conn, store.transaction(conn):
        for symbol, (state, trade_age, message_age, gaps, error, _) in PARITY_ROWS.items():
            store.upsert_status(conn, symbol, state=state, open_gaps=gaps, last_error=error or "",
                                last_trade_ms=None if trade_age is None else now - trade_age,
                                last_message_ms=None if message_age is None else now - message_age)
        for symbol, (*_, heartbeat_age) in PARITY_ROWS.items():
            if heartbeat_age is not None:
                conn.execute("UPDATE feed_status SET updated_ms = ? WHERE symbol = ?", (now - heartbeat_age, symbol))
    body = client_for(db_copy).get("/api/status").json()
    rows = read_db(db_copy, lambda conn: store.read_feed_status(conn).to_dict("records"))
    expected = health.feeds_health(rows, SYMBOLS, body["server_time_ms"])
    assert {h.colour for h in expected} == {"green", "amber", "red"}
    got = {f["symbol"]: (f["verdict"], f["label"], f["reason"]) for f in body["feeds"]}
    assert got == {h.symbol: (h.colour, h.label, h.reason) for h in expected}
    assert got["BBBUSDT"][0] == "amber"  # live and fresh but with open gaps: the API's own rule said green
    assert body["verdict"] == health.overall_colour(expected) == "red"


def test_status_labels_data_from_the_local_exchange_demo(db_path):
    """source == "local" is shown as DEMO."""
    body = client_for(build_recorded_db(db_path, source="local")).get("/api/status").json()
    assert (body["source"], body["source_label"], body["demo"]) == ("local", "DEMO", True)


def test_symbols_count_bars_and_trades(client, recorded_db):
    """Bar and trade counts and first / last bar per symbol equal what tickstore reads."""
    body = client.get("/api/symbols").json()["symbols"]
    with closing(store.open_reader(recorded_db)) as conn:
        for entry in body:
            bars = store.read_bars_1s(conn, entry["symbol"])
            assert entry["bars"] == len(bars) and entry["trades"] == len(recorded_trades(entry["symbol"]))
            assert (entry["first_ms"], entry["last_ms"]) == (bars["ts_ms"].iloc[0], bars["ts_ms"].iloc[-1])


# --------------------------------------------------------------------------- market data


def test_ticks_are_the_most_recent_trades_oldest_first(client):
    """limit picks the newest trades; values equal the recorded frames."""
    body = client.get("/api/ticks/btcusdt", params={"limit": 25}).json()
    expected = recorded_trades("BTCUSDT").tail(25)
    assert body["symbol"] == "BTCUSDT" and body["count"] == 25
    pd.testing.assert_frame_equal(pd.DataFrame(body["ticks"]), expected.reset_index(drop=True), check_dtype=False)


@pytest.mark.parametrize("start, end", [(str(MIDNIGHT_MS), str(MIDNIGHT_MS + 30_000)),
                                        ("2024-08-09T00:00:00Z", "2024-08-09T00:00:30+00:00"),
                                        ("2024-08-09T05:30:00+05:30", "2024-08-09T00:00:30")])
def test_ticks_filter_by_time_in_ms_or_iso_8601(client, start, end):
    """start <= ts_ms < end, whether given as epoch ms or ISO 8601 (naive = UTC, offsets honoured)."""
    body = client.get("/api/ticks/BTCUSDT", params={"start": start, "end": end, "limit": 100_000}).json()
    trades = recorded_trades("BTCUSDT")
    expected = trades[(trades["ts_ms"] >= MIDNIGHT_MS) & (trades["ts_ms"] < MIDNIGHT_MS + 30_000)]
    assert body["count"] == len(expected) > 0
    assert [t["trade_id"] for t in body["ticks"]] == expected["trade_id"].tolist()


def test_prices_are_the_last_trade_prices(client):
    """Without a symbol: one latest price per symbol; with symbol and limit: its last trades' prices."""
    latest = client.get("/api/prices").json()["prices"]
    assert [(p["symbol"], p["price"]) for p in latest] == [
        (s, recorded_trades(s)["price"].iloc[-1]) for s in SYMBOLS]
    some = client.get("/api/prices", params={"symbol": "ethusdt", "limit": 5}).json()["prices"]
    assert [p["trade_id"] for p in some] == recorded_trades("ETHUSDT")["trade_id"].tail(5).tolist()


@pytest.mark.parametrize("timeframe", ["1s", "10s", "1m"])
def test_ohlc_equals_bars_built_from_the_trades(client, timeframe):
    """OHLC and trade counts exactly, volumes to 1e-12, of analytics_engine.bars_from_trades."""
    body = client.get("/api/ohlc/BTCUSDT", params={"timeframe": timeframe, "limit": 100_000}).json()
    expected = analytics.bars_from_trades(recorded_trades("BTCUSDT"), timeframe)
    got = json_frame(body["bars"])
    assert body["count"] == len(expected) == len(got)
    pd.testing.assert_frame_equal(got[["ts_ms", "open", "high", "low", "close", "trades"]],
                                  expected[["ts_ms", "open", "high", "low", "close", "trades"]], check_dtype=False)
    np.testing.assert_allclose(got[["volume", "quote_volume", "vwap"]], expected[["volume", "quote_volume", "vwap"]],
                               rtol=1e-12)


def test_ohlc_limit_and_range_give_the_newest_whole_bars(client):
    """limit keeps the newest bars; a start inside a bar skips that bar rather than cutting it."""
    all_bars = client.get("/api/ohlc/BTCUSDT", params={"timeframe": "10s", "limit": 100_000}).json()["bars"]
    assert client.get("/api/ohlc/BTCUSDT", params={"timeframe": "10s", "limit": 7}).json()["bars"] == all_bars[-7:]
    start = all_bars[3]["ts_ms"] + 1
    end = all_bars[9]["ts_ms"] + 5_000
    ranged = client.get("/api/ohlc/BTCUSDT", params={"timeframe": "10s", "start": start, "end": end}).json()["bars"]
    assert ranged == all_bars[4:10]
    assert client.get("/api/ohlc/BTCUSDT", params={"timeframe": "10s", "start": start, "end": end,
                                                    "limit": 2}).json()["bars"] == all_bars[8:10]


def test_stats_summarise_the_last_window_bars(client, recorded_db):
    """symbol_summary of the last `window` bars at the timeframe."""
    body = client.get("/api/stats/ETHUSDT", params={"timeframe": "5s", "window": 20}).json()
    with closing(store.open_reader(recorded_db)) as conn:
        bars = analytics.resample_bars(store.read_bars_1s(conn, "ETHUSDT"), "5s").tail(20)
    expected = analytics.symbol_summary(bars, "5s")
    assert body["bars"] == 20 and body["last_ms"] == bars["ts_ms"].iloc[-1]
    for name in ("last", "mean", "std", "min", "max", "annualised_volatility", "vwap", "volume"):
        assert body[name] == pytest.approx(getattr(expected, name), rel=1e-12), name
    assert body["trades"] == expected.trades


# --------------------------------------------------------------------------- pair analytics vs the CLI


@pytest.mark.parametrize("timeframe, window, hedge_window, hedge", [
    ("1s", 20, 40, "rolling"), ("5s", 6, 10, "rolling"), ("1s", 30, 30, "kalman"), ("5s", 5, 8, "huber"),
    ("1s", 20, 30, "expanding"), ("1s", 20, 30, "ols_insample")])
def test_spread_equals_the_analytics_cli(client, recorded_db, tmp_path, timeframe, window, hedge_window, hedge):
    """Every row and column of /api/spread equals the CLI's CSV for the same parameters, to the bit."""
    csv = run_cli(recorded_db, tmp_path / "cli.csv", "--timeframe", timeframe, "--window", str(window),
                  "--hedge", hedge, "--hedge-window", str(hedge_window))
    body = client.get("/api/spread", params={"symbols": "btcusdt,ethusdt", "timeframe": timeframe,
                                             "window": window, "hedge_window": hedge_window, "hedge": hedge,
                                             "limit": 100_000}).json()
    assert (body["symbol_a"], body["symbol_b"], body["hedge"]) == ("BTCUSDT", "ETHUSDT", hedge)
    assert body["in_sample"] is (hedge == "ols_insample") and body["hedge_window"] == hedge_window
    assert body["rows_total"] == len(csv) > 10 and csv["zscore"].notna().sum() > 3
    got = json_frame(body["rows"])[analytics.CLI_COLUMNS]
    pd.testing.assert_frame_equal(got, csv, check_exact=True, check_dtype=False)


def test_spread_limit_returns_the_clis_last_rows(client, recorded_db, tmp_path):
    """limit trims the response, not the computation: the last rows equal the CLI's last rows."""
    csv = run_cli(recorded_db, tmp_path / "cli.csv", "--window", "45", "--hedge-window", "50", "--max-stale", "5")
    body = client.get("/api/spread", params={"symbols": PAIR, "window": 45, "hedge_window": 50, "max_stale": 5,
                                             "limit": 10}).json()
    assert body["rows_total"] == len(csv) and len(body["rows"]) == 10
    pd.testing.assert_frame_equal(json_frame(body["rows"])[analytics.CLI_COLUMNS], csv.tail(10).reset_index(drop=True),
                                  check_exact=True, check_dtype=False)


def test_spread_csv_export_is_the_clis_file_byte_for_byte(client, recorded_db, tmp_path):
    """GET /api/export/spread.csv returns exactly the bytes the CLI writes."""
    for args, params in [((), {}), (("--timeframe", "5s", "--window", "10", "--hedge", "theilsen"),
                                    {"timeframe": "5s", "window": 10, "hedge": "theilsen"})]:
        out = tmp_path / "cli.csv"
        run_cli(recorded_db, out, *args)
        response = client.get("/api/export/spread.csv", params={"symbols": PAIR, **params})
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        assert response.content == out.read_bytes()


def test_correlation_equals_the_clis_columns_and_pandas(client, recorded_db, tmp_path):
    """Rolling corr / return_corr are the CLI's; whole-sample correlations are pandas' on its prices."""
    csv = run_cli(recorded_db, tmp_path / "cli.csv", "--timeframe", "5s", "--window", "20")
    body = client.get("/api/correlation", params={"symbols": PAIR, "timeframe": "5s", "window": 20,
                                                  "limit": 100_000}).json()
    pd.testing.assert_frame_equal(json_frame(body["rows"]), csv[CORRELATION_COLUMNS], check_exact=True,
                                  check_dtype=False)
    assert body["price_correlation"] == pytest.approx(csv["price_a"].corr(csv["price_b"]), rel=1e-12)
    returns = np.log(csv[["price_a", "price_b"]]).diff()
    assert body["return_correlation"] == pytest.approx(returns["price_a"].corr(returns["price_b"]), rel=1e-9)
    exported = pd.read_csv(io.BytesIO(client.get("/api/export/correlation.csv", params={
        "symbols": PAIR, "timeframe": "5s", "window": 20}).content))
    pd.testing.assert_frame_equal(exported, csv[CORRELATION_COLUMNS], check_exact=True)


def test_cointegration_runs_the_engines_tests_on_the_clis_spread(client, recorded_db, tmp_path):
    """The headline (cointegrated, p_value), Engle-Granger, the half-life and the ADF detail equal the
    engine's on the CLI's last `rows` rows."""
    csv = run_cli(recorded_db, tmp_path / "cli.csv", "--hedge-window", "20")
    body = client.get("/api/cointegration", params={"symbols": PAIR, "rows": 100, "hedge_window": 20}).json()
    tail = csv.dropna(subset=["spread"]).tail(100)
    adf = analytics.adf_test(tail["spread"])
    verdict = analytics.cointegration_verdict(tail["price_a"], tail["price_b"])
    assert body["rows"] == body["nobs"] == body["spread_rows"] == 100 and body["hedge_ratio"] == csv["hedge_ratio"].iloc[-1]
    assert body["cointegrated"] is verdict.cointegrated is (verdict.p_value < 0.05) and body["level"] == 0.05
    assert body["p_value"] == pytest.approx(verdict.p_value, rel=1e-9) == body["engle_granger"]["pvalue"]
    assert body["engle_granger"]["statistic"] == pytest.approx(verdict.engle_granger.statistic, rel=1e-9)
    assert (body["adf"]["statistic"], body["adf"]["pvalue"]) == pytest.approx((adf.statistic, adf.pvalue), rel=1e-9)
    assert body["adf"]["label"] == analytics.ADF_SPREAD_LABEL
    half = verdict.half_life
    assert body["half_life"]["b"] == pytest.approx(half.b, rel=1e-9)
    assert body["half_life"]["significant"] is half.significant
    if half.significant:
        assert body["half_life"]["half_life_s"] == pytest.approx(half.half_life_bars, rel=1e-9)  # 1 s bars
    else:
        assert body["half_life"]["half_life_bars"] is None and "no significant mean reversion" in body["half_life"]["reason"]
    assert body["beta_hac"]["beta_stderr"] == pytest.approx(verdict.hedge.beta_stderr, rel=1e-9)
    assert body["johansen"]["rank_95"] == verdict.johansen.rank_95 and body["johansen"]["conclusion"]
    assert body["hurst"]["nobs"] == 100 and body["hurst"]["ci_low"] < body["hurst"]["hurst"] < body["hurst"]["ci_high"]
    assert set(body["adf"]["critical_values"]) == {"1%", "5%", "10%"}


def test_cointegration_explains_missing_figures(client):
    """Too few rows: figures are null and `reason` says why (not an error)."""
    body = client.get("/api/cointegration", params={"symbols": PAIR, "timeframe": "1h"}).json()
    assert body["adf"]["statistic"] is None and "need at least" in body["adf"]["reason"]
    assert body["cointegrated"] is None and body["p_value"] is None and "need at least" in body["reason"]


# --------------------------------------------------------------------------- CSV exports


def _read_stream(client: TestClient, url: str, params: dict) -> list[bytes]:
    with client.stream("GET", url, params=params) as response:
        assert response.status_code == 200
        return list(response.iter_bytes())


def test_ticks_export_streams_every_trade_in_pages(client, monkeypatch):
    """All trades by id, page by page (small pages here: the same file in many chunks)."""
    whole = client.get("/api/export/ticks.csv", params={"symbol": "ETHUSDT"}).content
    monkeypatch.setattr(exports, "EXPORT_TRADE_PAGE_ROWS", 200)
    chunks = _read_stream(client, "/api/export/ticks.csv", {"symbol": "ETHUSDT"})
    assert b"".join(chunks) == whole and len(chunks) > 5
    frame = pd.read_csv(io.BytesIO(whole))
    expected = recorded_trades("ETHUSDT")
    assert list(frame.columns) == store.TRADE_COLUMNS
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False)


def test_ticks_export_honours_the_time_range(client):
    """start / end select trades with start <= ts_ms < end."""
    frame = pd.read_csv(io.BytesIO(client.get("/api/export/ticks.csv", params={
        "symbol": "BTCUSDT", "start": MIDNIGHT_MS - 10_500, "end": "2024-08-09T00:00:00Z"}).content))
    trades = recorded_trades("BTCUSDT")
    expected = trades[(trades["ts_ms"] >= MIDNIGHT_MS - 10_500) & (trades["ts_ms"] < MIDNIGHT_MS)]
    assert frame["trade_id"].tolist() == expected["trade_id"].tolist() and len(frame) > 0


def test_ohlc_export_streams_whole_bars_in_time_chunks(client, monkeypatch):
    """Bars at the timeframe equal /api/ohlc's, whatever the chunk size (chunks end on bar edges)."""
    bars = client.get("/api/ohlc/BTCUSDT", params={"timeframe": "10s", "limit": 100_000}).json()["bars"]
    monkeypatch.setattr(exports, "EXPORT_OHLC_CHUNK_MS", 20_000)
    chunks = _read_stream(client, "/api/export/ohlc.csv", {"symbol": "BTCUSDT", "timeframe": "10s"})
    assert len(chunks) > 5
    frame = pd.read_csv(io.BytesIO(b"".join(chunks)))
    assert list(frame.columns) == analytics.BAR_COLUMNS
    pd.testing.assert_frame_equal(frame, json_frame(bars), check_dtype=False)


def test_ohlc_export_with_an_end_far_after_the_data_is_the_whole_file(client):
    """An end years after the last bar gives the file of no end at all (chunks stop at the last stored bar)."""
    whole = client.get("/api/export/ohlc.csv", params={"symbol": "ETHUSDT", "timeframe": "10s"}).content
    far = client.get("/api/export/ohlc.csv", params={"symbol": "ETHUSDT", "timeframe": "10s",
                                                      "end": "2030-01-01T00:00:00Z"}).content
    assert far == whole and whole.count(b"\n") > 5


# --------------------------------------------------------------------------- bad parameters


@pytest.mark.parametrize("url, status, words", [
    ("/api/ticks/XRPUSDT", 404, "unknown symbol 'XRPUSDT'"),
    ("/api/ohlc/DOGEUSDT", 404, "unknown symbol"),
    ("/api/stats/DOGEUSDT", 404, "unknown symbol"),
    ("/api/prices?symbol=DOGEUSDT", 404, "unknown symbol"),
    ("/api/spread?symbols=BTCUSDT,DOGEUSDT", 404, "DOGEUSDT"),
    ("/api/export/ticks.csv?symbol=DOGEUSDT", 404, "unknown symbol"),
    ("/api/export/spread.csv?symbols=DOGEUSDT,BTCUSDT", 404, "DOGEUSDT"),
    ("/api/ticks/BTC-USDT", 422, "path parameter symbol"),
    ("/api/ticks/BTCUSDT?limit=0", 422, "query parameter limit"),
    ("/api/ticks/BTCUSDT?limit=100001", 422, "less than or equal to 100000"),
    ("/api/ticks/BTCUSDT?limit=ten", 422, "valid integer"),
    ("/api/ticks/BTCUSDT?start=yesterday", 422, "neither epoch milliseconds nor an ISO 8601"),
    ("/api/ticks/BTCUSDT?start=1723161600000000", 422, "outside 1970..2100"),
    ("/api/ticks/BTCUSDT?start=1723161600000&end=1723161600000", 422, "must be before end"),
    ("/api/ohlc/BTCUSDT?timeframe=2m", 422, "query parameter timeframe"),
    ("/api/spread?symbols=BTCUSDT", 422, "query parameter symbols"),
    ("/api/spread?symbols=BTCUSDT,ETHUSDT,SOLUSDT", 422, "query parameter symbols"),
    ("/api/spread?symbols=BTCUSDT,btcusdt", 422, "two different symbols"),
    ("/api/spread", 422, "query parameter symbols: Field required"),
    ("/api/spread?symbols=BTCUSDT,ETHUSDT&hedge=median", 422, "query parameter hedge"),
    ("/api/spread?symbols=BTCUSDT,ETHUSDT&window=1", 422, "query parameter window"),
    ("/api/spread?symbols=BTCUSDT,ETHUSDT&window=100001", 422, "query parameter window"),
    ("/api/spread?symbols=BTCUSDT,ETHUSDT&max_stale=-1", 422, "query parameter max_stale"),
    ("/api/correlation?symbols=BTCUSDT,ETHUSDT&timeframe=1d", 422, "timeframe"),
    ("/api/cointegration?symbols=BTCUSDT,ETHUSDT&rows=5", 422, "query parameter rows"),
    ("/api/prices?limit=60000", 422, "pass symbol="),
    ("/api/export/ohlc.csv?symbol=BTCUSDT&timeframe=3s", 422, "timeframe"),
    ("/api/summary/hourly?symbols=BTCUSDT", 422, "query parameter symbols"),
    ("/api/nowhere", 404, "Not Found"),
])
def test_bad_parameters_are_a_one_line_json_error(client, url, status, words):
    """422 for a bad parameter, 404 for an unknown symbol, always {"detail": "<one line>"}."""
    response = client.get(url)
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["detail"] and isinstance(body["detail"], str) and "\n" not in body["detail"]
    assert words in body["detail"]


SYMBOL_30 = "A" * 26 + "USDT"  # the longest symbol pairdesk.symbols allows
SYMBOL_31 = "A" * 27 + "USDT"
SYMBOL_READS = ["/api/ticks/{}", "/api/ohlc/{}", "/api/stats/{}", "/api/prices?symbol={}",
                "/api/export/ticks.csv?symbol={}", "/api/export/ohlc.csv?symbol={}", "/api/spread?symbols=BTCUSDT,{}",
                "/api/export/correlation.csv?symbols={},ETHUSDT"]


@pytest.mark.parametrize("url", SYMBOL_READS)
def test_reads_follow_the_shared_symbol_rule_of_2_to_30_characters(client, url):
    """A 30-character symbol is well formed (404: not in this database); a 31-character one is refused (422)."""
    known = client.get(url.format(SYMBOL_30.lower()))
    assert known.status_code == 404 and f"unknown symbol '{SYMBOL_30}'" in known.json()["detail"]
    refused = client.get(url.format(SYMBOL_31))
    assert refused.status_code == 422 and "parameter symbol" in refused.json()["detail"]


def test_a_missing_database_is_503_with_a_message(tmp_path):
    """An API started before the ingestor made the file answers 503 saying what is missing."""
    response = client_for(tmp_path / "absent.db").get("/api/status")
    assert response.status_code == 503 and "no such database" in response.json()["detail"]


# --------------------------------------------------------------------------- read-only, OpenAPI


def test_reading_writes_nothing(recorded_db):
    """A tour of every GET endpoint leaves the database file byte for byte as it was."""
    before = file_digest(recorded_db)
    client = client_for(recorded_db)
    for url in ["/api/status", "/api/symbols", "/api/ticks/BTCUSDT", "/api/prices", "/api/ohlc/ETHUSDT",
                "/api/stats/BTCUSDT", f"/api/spread?symbols={PAIR}", f"/api/correlation?symbols={PAIR}",
                f"/api/cointegration?symbols={PAIR}", "/api/export/ticks.csv?symbol=BTCUSDT",
                "/api/export/ohlc.csv?symbol=BTCUSDT", f"/api/export/spread.csv?symbols={PAIR}",
                f"/api/export/correlation.csv?symbols={PAIR}", "/api/summary/hourly"]:
        assert client.get(url).status_code == 200, url
    assert file_digest(recorded_db) == before


SPEC_ENDPOINTS = {
    ("get", "/api/status"), ("get", "/api/symbols"), ("get", "/api/ticks/{symbol}"), ("get", "/api/prices"),
    ("get", "/api/ohlc/{symbol}"), ("get", "/api/stats/{symbol}"), ("get", "/api/spread"), ("get", "/api/backtest"),
    ("get", "/api/correlation"), ("get", "/api/cointegration"), ("get", "/api/alerts"), ("post", "/api/alerts"),
    ("delete", "/api/alerts/{rule_id}"), ("get", "/api/alerts/triggered"), ("get", "/api/export/ticks.csv"),
    ("get", "/api/export/ohlc.csv"), ("get", "/api/export/spread.csv"), ("get", "/api/export/correlation.csv"),
    ("post", "/api/upload"), ("get", "/api/summary/hourly"), ("post", "/api/admin/hourly"),
    ("get", "/api/scanner"), ("post", "/api/scanner/run"), ("get", "/api/scanner/runs/{scan_id}"),
    ("get", "/api/watchlist"), ("put", "/api/watchlist"),
    ("post", "/api/stop"), ("post", "/api/start"),  # collection control (issue 15)
    ("put", "/api/alerts/{rule_id}"), ("patch", "/api/alerts/{rule_id}"), ("post", "/api/alerts/{rule_id}/acknowledge"),
    ("post", "/api/alerts/triggered/acknowledge"),
    ("post", "/api/alerts/test"), ("post", "/api/alerts/{rule_id}/test"),  # send a test message (issue 12)
    ("get", "/api/quotes/{symbol}"), ("get", "/api/funding/{symbol}"), ("get", "/api/costs"),  # issue 11
    ("get", "/api/export/quotes.csv"), ("get", "/api/export/funding.csv"),
    # the compatibility aliases (test_api_compat.py)
    ("get", "/api/stats"), ("get", "/api/prices_v2"), ("get", "/api/alerts_v2"), ("get", "/api/export/price"),
    ("get", "/api/export/spread"), ("get", "/api/export/correlation"), ("post", "/api/admin/schedule"),
    ("get", "/api/export/{symbol}"), ("post", "/api/upload/ohlc"),
}


def test_openapi_documents_every_endpoint(client):
    """Every endpoint of the spec is in the OpenAPI page with a summary, a description, described
    parameters, a response model (or CSV) and the JSON error body."""
    schema = client.get("/openapi.json").json()
    operations = {(method, path): op for path, ops in schema["paths"].items() for method, op in ops.items()}
    assert set(operations) == SPEC_ENDPOINTS
    for key, op in operations.items():
        assert op.get("summary") and len(op.get("description", "")) > 40, key
        assert all(p.get("description") for p in op.get("parameters", [])), key
        success = next(status for status in op["responses"] if status.startswith("2"))
        ok = op["responses"][success]["content"]
        assert "$ref" in ok.get("application/json", {}).get("schema", {}) or "text/csv" in ok, key
        for status, response in op["responses"].items():
            if status != success:
                assert response["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody"), key
    assert client.get("/docs").status_code == 200


def test_root_redirects_to_the_docs(client):
    """GET / leads a browser to the interactive documentation."""
    response = client.get("/", follow_redirects=False)
    assert response.status_code in (302, 307) and response.headers["location"] == "/docs"


def test_the_former_one_file_module_still_exports_what_callers_import():
    """pairdesk.api.app (what api.py and older callers import) re-exports the split modules' names."""
    from pairdesk.api import app as former
    from pairdesk.api.cli import main

    assert (former.create_app, former.feed_status, former.main) == (create_app, feed_status, main)
    assert former.CORRELATION_COLUMNS == CORRELATION_COLUMNS
