"""The dashboard page under Streamlit's AppTest on real-data, empty, one-symbol, constant and missing databases."""
from __future__ import annotations

import io
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from conftest import REPO_ROOT, binance_file
from recordings import last_price, recorded_frames, trade_count
from streamlit.testing.v1 import AppTest

from pairdesk import analytics, analytics_cli, binance, health, history, store
from pairdesk.dashboard import data as dashboard_data
from pairdesk.dashboard import downloads, formatting, header, status, verdicts
from pairdesk.history import importer

RECORDINGS = ("hftbacktest/spot/btcusdt_20240808.gz", "hftbacktest/spot/btcusdt_20240809.gz",
              "hftbacktest/spot/ethusdt_20240808.gz", "hftbacktest/spot/ethusdt_20240809.gz")
AGG_SAMPLE = "HJB-PDE-TEAM-PROJECT/BTCUSDT-aggTrades-2026-01-01.csv"
T0_MS = 1_723_161_255_000
LAST_BTC_PRICE = formatting.format_price(last_price("BTCUSDT", *RECORDINGS), 2)  # "61,602.02" on the full recordings


def recorded_trades() -> list[binance.Trade]:
    """The real BTCUSDT and ETHUSDT spot trades of 2024-08-08 23:54 -> 2024-08-09 00:05 UTC (2 minutes of
    it in the trimmed copies of tests/data/)."""
    trades = []
    for relative in RECORDINGS:
        for frame in recorded_frames(binance_file(relative)):
            parsed = binance.parse_message(frame, "trade")
            if isinstance(parsed, binance.Trade):
                trades.append(parsed)
    return trades


def build_real_db(path: Path, source: str = "binance") -> Path:
    """A spot trade database holding the recorded real BTC/ETH trades."""
    store.write_trades(path, recorded_trades(), market="spot", stream="trade", source=source)
    return path


@pytest.fixture(scope="module")
def real_db(tmp_path_factory) -> Path:
    """The real-data database, built once for the module (the page only reads it)."""
    return build_real_db(tmp_path_factory.mktemp("real") / "ticks.db")


@pytest.fixture(autouse=True)
def fresh_caches():
    """Every test starts with empty Streamlit caches (bar caches and heavy analytics)."""
    st.cache_data.clear()
    st.cache_resource.clear()
    yield


def run_page(monkeypatch, db: Path, errors_ok: bool = False, **widgets) -> AppTest:
    """Run app.py against ``db`` (given as ``--db`` on the command line), then again with ``widgets`` set by key.

    Fails on any exception element, and on any st.error unless ``errors_ok``.
    """
    monkeypatch.setattr(sys, "argv", ["app.py", "--db", str(db)])
    monkeypatch.delenv(header.DB_ENV_VAR, raising=False)
    page = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=30)
    page.run()
    if widgets:
        for key, value in widgets.items():
            _widget(page, key).set_value(value)
        page.run()
    assert not page.exception, [e.value for e in page.exception]
    assert errors_ok or not page.error, texts(page, "error")
    return page


def _widget(page: AppTest, key: str):
    """The widget with ``key``, whatever its kind."""
    for kind in ("selectbox", "number_input", "toggle", "segmented_control", "button", "file_uploader", "text_input",
                 "text_area", "checkbox", "multiselect", "datetime_input"):
        try:
            return getattr(page, kind)(key=key)
        except KeyError:
            continue
    raise KeyError(key)


def texts(page: AppTest, kind: str) -> list[str]:
    """The values of every element of one kind (title, info, caption...), in page order."""
    return [element.value for element in getattr(page, kind)]


def table_with(page: AppTest, column: str) -> pd.DataFrame:
    """The first table on the page that has ``column`` (AppTest does not expose a table's key)."""
    return next(frame.value for frame in page.dataframe if column in frame.value.columns)


def metric(page: AppTest, label: str) -> str:
    """The displayed value of the metric labelled ``label``."""
    return next(m.value for m in page.metric if m.label == label)


SHORT_HEDGE_WINDOW = 40  # the trimmed recordings hold 2 minutes (121 aligned 1 s bars): less than the default 300


def expected_panel(db: Path, window: int = 60, hedge: str = "rolling", timeframe: str = "1s",
                   hedge_window: int = SHORT_HEDGE_WINDOW) -> pd.DataFrame:
    """The engine's panel on all stored bars (the recordings fit in the default 1 h lookback)."""
    conn = store.open_reader(db)
    bars = [store.read_bars_1s(conn, s) for s in ("BTCUSDT", "ETHUSDT")]
    conn.close()
    return analytics.pair_panel(*bars, timeframe, window, hedge, hedge_window=hedge_window)


# --------------------------------------------------------------------------- the page on real data


def test_real_data_page_shows_headings_and_engine_figures(monkeypatch, real_db):
    """On the recorded BTC/ETH trades the page runs cleanly and its metrics equal tickstore / engine numbers."""
    page = run_page(monkeypatch, real_db, hedge_window=SHORT_HEDGE_WINDOW)
    assert texts(page, "title") == ["Pairs desk · BTCUSDT / ETHUSDT"]
    assert texts(page, "subheader") == ["Connectivity", "Live pair", "Analytics", "Scanner", "Alerts", "Import history"]
    conn = store.open_reader(real_db)
    last_close = {s: store.read_bars_1s(conn, s)["close"].iloc[-1] for s in ("BTCUSDT", "ETHUSDT")}
    conn.close()
    panel = expected_panel(real_db)
    assert metric(page, "BTCUSDT") == formatting.format_price(last_close["BTCUSDT"], 2) == LAST_BTC_PRICE
    assert metric(page, "ETHUSDT") == formatting.format_price(last_close["ETHUSDT"], 2)
    assert panel[["hedge_ratio", "spread", "zscore", "corr"]].iloc[-1].notna().all()
    assert metric(page, "Hedge ratio β") == formatting.format_ratio(panel["hedge_ratio"].iloc[-1])
    assert metric(page, "Spread") == formatting.format_spread(panel["spread"].iloc[-1], "price", 2)
    assert metric(page, "z-score") == formatting.format_signed(panel["zscore"].iloc[-1])
    assert metric(page, "Correlation of returns") == formatting.format_correlation(panel["return_corr"].iloc[-1])
    first_bar = pd.Timestamp(panel["ts_ms"].iloc[0], unit="ms", tz="UTC").tz_convert("Asia/Kolkata")
    assert any(first_bar.strftime("%Y-%m-%d %H:%M:%S IST") in caption for caption in texts(page, "caption"))
    assert "No ingestor has written to this database yet" in texts(page, "warning")[0]


def test_tests_panel_matches_the_engine(monkeypatch, real_db):
    """The mean-reversion table is the engine's results on the last rows, with verdicts (the backtest tab:
    test_backtest_page.py)."""
    page = run_page(monkeypatch, real_db, hedge_window=SHORT_HEDGE_WINDOW)
    panel = expected_panel(real_db)
    report = analytics.mean_reversion_tests(panel, rows=analytics.HEAVY_TEST_WINDOW_ROWS)
    table = table_with(page, "verdict")
    adf_row = table[table["test"] == analytics.ADF_SPREAD_LABEL].iloc[0]
    assert f"stat {report.adf.statistic:.3f}, p {report.adf.pvalue:.4f}" in adf_row["figures"]
    assert adf_row["verdict"] == verdicts.adf_verdict(report.adf)
    assert table["verdict"].str.len().min() > 0 and list(table["n"]) == [report.rows] * 4 + [report.spread_rows] * 2
    assert table.iloc[0]["verdict"] == verdicts.engle_granger_verdict(report.verdict, ("BTCUSDT", "ETHUSDT"))
    kind, text = verdicts.headline(report, dashboard_data.Settings("BTCUSDT", "ETHUSDT", "1s", "15m", 60, 2.0, "rolling",
                                                                   "Asia/Kolkata", None))
    assert f"n = {report.rows:,} bars" in text and text in texts(page, kind)
    hourly = table_with(page, "Hour")
    assert list(hourly["Hour"]) == ["2024-08-09 04:30–05:30 IST", "2024-08-09 05:30–06:30 IST"]  # 23:00, 00:00 UTC
    assert list(hourly["Bars"]) == [formatting.format_count(n) for n in analytics.hourly_summary(panel)["rows"]]


def test_settings_change_the_analytics_and_the_time_zone(monkeypatch, real_db):
    """Kalman at 5 s with window 20 in UTC: metrics follow the engine and times are shown in UTC."""
    page = run_page(monkeypatch, real_db, hedge="kalman", timeframe="5s", window=20, tz="UTC", hedge_window=10)
    panel = expected_panel(real_db, window=20, hedge="kalman", timeframe="5s", hedge_window=10)
    assert panel[["hedge_ratio", "zscore"]].iloc[-1].notna().all()
    assert metric(page, "Hedge ratio β") == formatting.format_ratio(panel["hedge_ratio"].iloc[-1])
    assert metric(page, "z-score") == formatting.format_signed(panel["zscore"].iloc[-1])
    first_bar = pd.Timestamp(panel["ts_ms"].iloc[0], unit="ms", tz="UTC")  # 23:54:15 on the full recordings
    assert any(first_bar.strftime("%Y-%m-%d %H:%M:%S UTC") in caption for caption in texts(page, "caption"))


def test_window_longer_than_the_data_is_explained(monkeypatch, real_db):
    """A 5,000-bar window over 11 minutes of data: an st.info says why z-score and correlation are empty."""
    page = run_page(monkeypatch, real_db, window=5000, hedge_window=SHORT_HEDGE_WINDOW)
    assert any("rolling window (5000 bars) is longer than the aligned data" in text for text in texts(page, "info"))
    assert metric(page, "z-score") == "—" and metric(page, "Correlation of returns") == "—"


def test_hedge_window_longer_than_the_data_is_explained(monkeypatch, real_db):
    """The default 300-bar hedge window over 121 aligned bars: an st.info says why the spread is empty, dashes."""
    page = run_page(monkeypatch, real_db)
    assert expected_panel(real_db, hedge_window=analytics.DEFAULT_HEDGE_WINDOW_ROWS)["spread"].isna().all()
    (note,) = [text for text in texts(page, "info") if "hedge window" in text]
    assert note.startswith("The hedge window (300 bars) is longer than the aligned data available (at most 121 "
                           "consecutive bars of 1s in view)")
    assert metric(page, "Hedge ratio β") == metric(page, "Spread") == metric(page, "z-score") == "—"
    assert metric(page, "Correlation of returns") != "—"  # the correlation needs only the 60-bar window


def test_sidebar_offers_every_hedge_with_its_label_and_the_hedge_window(monkeypatch, real_db):
    """The hedge box lists analytics.HEDGE_METHODS (in-sample labelled); hedge window and spread kind reach Settings."""
    page = run_page(monkeypatch, real_db)
    hedge = page.selectbox(key="hedge")
    assert hedge.options == [dashboard_data.HEDGE_LABELS[h] for h in analytics.HEDGE_METHODS]
    assert hedge.value == analytics.DEFAULT_HEDGE
    assert dashboard_data.HEDGE_LABELS["ols_insample"] == f"OLS ({analytics.INSAMPLE_LABEL})"
    assert page.number_input(key="hedge_window").value == analytics.DEFAULT_HEDGE_WINDOW_ROWS
    page = run_page(monkeypatch, real_db, hedge_window=SHORT_HEDGE_WINDOW, spread_kind="log", window=30)
    panel = analytics.pair_panel(*(read_bars(real_db)), "1s", 30, "rolling", hedge_window=SHORT_HEDGE_WINDOW,
                                 spread_kind="log")
    assert metric(page, "Spread") == formatting.format_spread(panel["spread"].iloc[-1], "log", 2)
    assert metric(page, "z-score") == formatting.format_signed(panel["zscore"].iloc[-1])


def test_in_sample_hedge_says_it_uses_future_bars(monkeypatch, real_db):
    """ols_insample: the hedge, spread and z cards' help say "in-sample: uses future bars"; causal hedges do not."""
    page = run_page(monkeypatch, real_db, hedge="ols_insample")
    helps = {m.label: m.help for m in page.metric}
    for label in ("Hedge ratio β", "Spread", "z-score"):
        assert analytics.INSAMPLE_LABEL in helps[label], label
    panel = expected_panel(real_db, hedge="ols_insample")
    assert metric(page, "z-score") == formatting.format_signed(panel["zscore"].iloc[-1])
    page = run_page(monkeypatch, real_db, hedge_window=SHORT_HEDGE_WINDOW)
    assert not any(analytics.INSAMPLE_LABEL in (m.help or "") for m in page.metric)
    assert "40 bars before each bar" in {m.label: m.help for m in page.metric}["Spread"]


def read_bars(db: Path) -> list[pd.DataFrame]:
    """The stored one-second bars of BTCUSDT and ETHUSDT."""
    conn = store.open_reader(db)
    try:
        return [store.read_bars_1s(conn, s) for s in ("BTCUSDT", "ETHUSDT")]
    finally:
        conn.close()


def test_analytics_download_is_the_cli_output(monkeypatch, real_db, tmp_path):
    """The analytics CSV equals analytics_engine's CLI output byte for byte; its name carries the parameters."""
    settings = dashboard_data.Settings("BTCUSDT", "ETHUSDT", "1s", "1 h", 60, 2.0, "rolling", "UTC", None,
                                       hedge_window=SHORT_HEDGE_WINDOW)
    view = dashboard_data.load_view(dashboard_data.describe_database(str(real_db)), settings)
    cli_out = tmp_path / "cli.csv"
    analytics_cli.main(["--db", str(real_db), "--symbols", "BTCUSDT,ETHUSDT", "--hedge-window",
                        str(SHORT_HEDGE_WINDOW), "--out", str(cli_out)])
    assert view.panel["zscore"].notna().any()
    assert downloads.analytics_csv(view.panel) == cli_out.read_bytes()
    assert downloads.analytics_file_name(settings) == "analytics_BTCUSDT_ETHUSDT_1s_w60_rolling_h40.csv"


def test_trade_and_bar_downloads_hold_the_window(real_db):
    """The trades CSV holds every stored trade of the window; the bars CSV the timeframe's bars, times in the zone."""
    settings = dashboard_data.Settings("BTCUSDT", "ETHUSDT", "1m", "1 h", 60, 2.0, "rolling", "Asia/Kolkata", None)
    view = dashboard_data.load_view(dashboard_data.describe_database(str(real_db)), settings)
    trades = pd.read_csv(io.BytesIO(downloads.trades_csv(str(real_db), settings.pair, view.start_ms,
                                                         view.end_ms + settings.tf_ms, settings.tz)))
    assert len(trades) == len(recorded_trades())
    assert list(trades.columns[:4]) == ["symbol", "trade_id", "ts_ms", "time"]
    assert trades["time"].iloc[0].endswith("+0530")
    bars = pd.read_csv(io.BytesIO(downloads.bars_csv(view.candles, settings.tz)))
    assert sorted(bars.groupby("symbol").size().items()) == [
        (s, len({t.ts_ms // 60_000 for t in recorded_trades() if t.symbol == s})) for s in ("BTCUSDT", "ETHUSDT")]


# --------------------------------------------------------------------------- databases that are not (yet) useful


def test_empty_database_says_there_is_no_data(monkeypatch, db_path):
    """A database with a schema but no trades: an st.info, no pair sections, no exception."""
    store.write_trades(db_path, [])
    page = run_page(monkeypatch, db_path)
    infos = texts(page, "info")
    assert infos[0] == ("The database holds no bars yet. Start the ingestor (`make run`), or the demo against a "
                        "local exchange (`make demo`), or import history below.")
    assert "Rules watch symbols of the database, and it holds none yet." in infos
    assert any(text.startswith("No alerts yet.") for text in infos)
    assert texts(page, "subheader") == ["Connectivity", "Scanner", "Alerts", "Import history"]


def test_one_symbol_database_explains_that_a_pair_needs_two(monkeypatch, db_path):
    """Only BTCUSDT: its candles and price are shown, and an st.info says pair analytics need two symbols."""
    store.write_trades(db_path, [t for t in recorded_trades() if t.symbol == "BTCUSDT"])
    page = run_page(monkeypatch, db_path)
    assert any("pair analytics need two symbols" in text for text in texts(page, "info"))
    assert metric(page, "BTCUSDT") == LAST_BTC_PRICE


def test_constant_prices_are_explained(monkeypatch, db_path):
    """Two symbols whose prices never move: st.info per symbol, dashes instead of NaN, no exception."""
    trades = [(s, i, T0_MS + i * 500, p, 0.1, False) for s, p in (("BTCUSDT", 60_000.0), ("ETHUSDT", 2_600.0))
              for i in range(600)]
    store.write_trades(db_path, trades)
    page = run_page(monkeypatch, db_path)
    infos = texts(page, "info")
    assert any("BTCUSDT's price is constant" in text for text in infos)
    assert any("ETHUSDT's price is constant" in text for text in infos)
    assert metric(page, "Hedge ratio β") == "—" and metric(page, "z-score") == "—"


def test_missing_database_says_to_start_the_ingestor(monkeypatch, tmp_path):
    """No file at --db: an error that says to start the ingestor or pass --db, and nothing else."""
    page = run_page(monkeypatch, tmp_path / "absent.db", errors_ok=True)
    (error,) = texts(page, "error")
    assert "No database at" in error and "data_ingestor.py" in error and "--db PATH" in error


def test_foreign_file_is_a_clear_warning(monkeypatch, tmp_path):
    """A file that is not a tick database: a one-line warning, no traceback."""
    junk = tmp_path / "notes.db"
    junk.write_text("not sqlite " * 100)
    page = run_page(monkeypatch, junk)
    assert "cannot be read yet: " in texts(page, "warning")[0] and "not a tick database" in texts(page, "warning")[0]


def test_env_var_names_the_database_when_no_flag_is_given(monkeypatch, real_db):
    """Without --db on the command line, $TICKS_DB is used."""
    monkeypatch.setattr(sys, "argv", ["app.py"])
    monkeypatch.setenv(header.DB_ENV_VAR, str(real_db))
    assert header.database_path() == str(real_db)
    assert header.database_path(["--db", "other.db"]) == "other.db"


def test_database_being_written_is_read_without_waiting(monkeypatch, tmp_path):
    """While the writer holds an open transaction the page shows the committed data (WAL readers never block)."""
    path = build_real_db(tmp_path / "ticks.db")
    writer = store.open_writer(path, "spot", "trade")
    try:
        with store.transaction(writer):
            store.upsert_status(writer, "BTCUSDT", state="live", last_trade_ms=store.now_ms())
            page = run_page(monkeypatch, path)
    finally:
        writer.close()
    assert metric(page, "BTCUSDT") == LAST_BTC_PRICE
    assert "No ingestor has written to this database yet" in texts(page, "warning")[0]  # not committed yet


# --------------------------------------------------------------------------- connectivity


def write_status(path: Path, source: str = "binance", **rows: dict) -> None:
    """Feed status rows as the ingestor writes them (the heartbeat is now)."""
    conn = store.open_writer(path, "spot", "trade", source)
    with store.transaction(conn):
        for symbol, fields in rows.items():
            store.upsert_status(conn, symbol, **fields)
    conn.close()


def test_status_cards_banner_and_demo_label(monkeypatch, tmp_path):
    """Live feed -> green badge; a DEMO database is labelled; no banner while the heartbeat is fresh."""
    path = build_real_db(tmp_path / "ticks.db", source="local")
    now = store.now_ms()
    write_status(path, "local", BTCUSDT=dict(state="live", last_trade_ms=now - 200, last_message_ms=now - 100,
                                         message_rate=12.5, reconnects=2),
                 ETHUSDT=dict(state="polling", transport="rest", last_trade_ms=now - 900, last_message_ms=now - 800))
    page = run_page(monkeypatch, path)
    markdown = texts(page, "markdown")
    assert "**BTCUSDT** :green-badge[● live]" in markdown
    assert "**ETHUSDT** :orange-badge[● delayed]" in markdown
    assert any("12.5 msg/s · 2 reconnects · 0 open gaps" in c for c in texts(page, "caption"))
    assert any(text.startswith("DEMO: this data comes from the local exchange") for text in texts(page, "warning"))
    assert not any("No ingestor" in text for text in texts(page, "warning"))


def test_stale_heartbeat_turns_red_with_a_banner(monkeypatch, tmp_path):
    """A heartbeat older than 10 s: every card is red and a banner says no ingestor is writing."""
    path = build_real_db(tmp_path / "ticks.db")
    old = store.now_ms()
    write_status(path, BTCUSDT=dict(state="live", last_trade_ms=old), ETHUSDT=dict(state="live", last_trade_ms=old))
    raw = sqlite3.connect(path)
    raw.execute("UPDATE feed_status SET updated_ms = updated_ms - 60000")
    raw.commit()
    raw.close()
    page = run_page(monkeypatch, path)
    assert "**BTCUSDT** :red-badge[● disconnected]" in texts(page, "markdown")
    assert any(text.startswith("No ingestor is writing: the last heartbeat was") for text in texts(page, "warning"))


@pytest.mark.parametrize(("fields", "age_ms", "light", "why"), [
    (dict(state="live", last_message_ms=-100, open_gaps=0), 500, "live", "streaming"),
    (dict(state="live", last_message_ms=-7_000, open_gaps=0), 500, "delayed", "no trade for 7.0 s"),
    (dict(state="live", last_message_ms=-100, open_gaps=2), 500, "delayed", "2 open gap(s) being filled"),
    (dict(state="silent", last_message_ms=-100, open_gaps=0), 500, "delayed", "feed silent"),
    (dict(state="polling", last_message_ms=-100, open_gaps=0), 500, "delayed", "feed polling over REST"),
    (dict(state="connecting", last_message_ms=None, open_gaps=0), 500, "delayed", "feed connecting"),
    (dict(state="disconnected", last_message_ms=-100, open_gaps=0), 500, "disconnected", "feed disconnected"),
    (dict(state="live", last_message_ms=-100, open_gaps=0), 11_000, "disconnected",
     "no heartbeat for 11 s: no ingestor is writing"),
    # the drift the shared rule fixed: messages without trades are not live
    (dict(state="live", last_trade_ms=-6_000, last_message_ms=-1_000, open_gaps=0), 500, "delayed",
     "no trade for 6.0 s (connection alive: last message 1.0 s ago)"),
    # a restarted exchange whose ids are behind the database's: frames flow, nothing new is stored
    (dict(state="live", last_trade_ms=-9_000, last_message_ms=-100, open_gaps=0, duplicate_rate=42.0,
          last_trade_id=5833), 500, "delayed",
     "no trade for 9.0 s: frames keep coming (42.0 trades/s) but every trade in them is already stored (the "
     "exchange's trade ids are at or behind the newest stored id 5833)"),
    (dict(state="disconnected", last_message_ms=None, open_gaps=0,
          last_error="connection failed: [Errno -3] Temporary failure in name resolution"), 500, "disconnected",
     "cannot reach the exchange: [Errno -3] Temporary failure in name resolution"),
])
def test_colour_rules(fields, age_ms, light, why):
    """The documented colour rules (pairdesk.health) on the page's status rows, one case each (ages from now)."""
    now = 1_000_000_000

    def at(offset):
        return None if offset is None else now + offset

    last_trade = fields.get("last_trade_ms", fields["last_message_ms"])
    frame = pd.DataFrame([{"symbol": "BTCUSDT", "updated_ms": now - age_ms, "state": fields["state"],
                           "transport": "ws", "last_trade_ms": at(last_trade),
                           "last_message_ms": at(fields["last_message_ms"]), "open_gaps": fields["open_gaps"],
                           **{k: fields[k] for k in ("duplicate_rate", "last_trade_id", "last_error") if k in fields}}])
    (result,) = health.feeds_health(status.feed_rows(frame), ["BTCUSDT"], now)
    assert (result.label, result.reason) == (light, why)
    (missing,) = health.feeds_health(status.feed_rows(frame.iloc[0:0]), ["ETHUSDT"], now)
    assert missing.label == "disconnected"


def status_section(rows: list, symbols: list, now_ms: int) -> None:
    """The page's Connectivity section alone, drawn from feed-status rows (run by AppTest.from_function)."""
    import pandas as pd

    from pairdesk.dashboard import status

    status.connectivity(pd.DataFrame(rows), symbols, now_ms, "UTC", "ticks.db")


STATUS_NOW_MS = 1_723_161_900_000
STATUS_ROWS = [  # feed_status rows as the ingestor writes them, relative to STATUS_NOW_MS
    dict(symbol="BTCUSDT", updated_ms=STATUS_NOW_MS - 300, state="live", transport="ws",
         last_trade_ms=STATUS_NOW_MS - 200, last_message_ms=STATUS_NOW_MS - 100, message_rate=12.5, reconnects=2,
         open_gaps=0, last_error=None),
    dict(symbol="ETHUSDT", updated_ms=STATUS_NOW_MS - 300, state="live", transport="ws",  # the drift case
         last_trade_ms=STATUS_NOW_MS - 6_000, last_message_ms=STATUS_NOW_MS - 1_000, message_rate=3.0, reconnects=0,
         open_gaps=0, last_error=None),
    dict(symbol="SOLUSDT", updated_ms=STATUS_NOW_MS - 300, state="disconnected", transport="ws",
         last_trade_ms=None, last_message_ms=None, message_rate=0.0, reconnects=5, open_gaps=0,
         last_error="connection failed: Name or service not known"),
    dict(symbol="XRPUSDT", updated_ms=STATUS_NOW_MS - 30_000, state="live", transport="ws",
         last_trade_ms=STATUS_NOW_MS - 30_000, last_message_ms=STATUS_NOW_MS - 30_000, message_rate=1.0,
         reconnects=0, open_gaps=1, last_error=None),
]


def test_status_section_shows_exactly_the_shared_health_label_and_reason():
    """Given the same feed_status rows, each card shows pairdesk.health.feed_health's label and reason, verbatim."""
    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT"]  # ADAUSDT has no status row
    page = AppTest.from_function(status_section, args=(STATUS_ROWS, symbols, STATUS_NOW_MS), default_timeout=30)
    page.run()
    assert not page.exception, [e.value for e in page.exception]
    cards = dict(zip([title.split("**")[1] for title in texts(page, "markdown")], texts(page, "caption")))
    assert list(cards) == symbols
    badge = {"green": "green", "amber": "orange", "red": "red"}
    rows = {row["symbol"]: row for row in STATUS_ROWS}
    for symbol in symbols:
        expected = health.feed_health(symbol, rows.get(symbol), STATUS_NOW_MS)
        assert f"**{symbol}** :{badge[expected.colour]}-badge[● {expected.label}]" in texts(page, "markdown")
        caption = cards[symbol]
        assert caption == expected.reason or caption.startswith(expected.reason + " · "), (symbol, caption)
    assert health.feed_health("ETHUSDT", rows["ETHUSDT"], STATUS_NOW_MS).label == "delayed"


def test_no_ingestor_banner_uses_the_shared_heartbeat_threshold():
    """The banner appears exactly when the newest heartbeat is older than pairdesk.health.HEARTBEAT_STALE_MS."""
    now = STATUS_NOW_MS
    for age, shown in ((health.HEARTBEAT_STALE_MS, False), (health.HEARTBEAT_STALE_MS + 1, True)):
        frame = pd.DataFrame([{"symbol": "BTCUSDT", "updated_ms": now - age}])
        banner = status.ingestor_banner(frame, now, "UTC", "ticks.db")
        assert (banner is not None) == shown, age
    assert banner.startswith(f"No ingestor is writing: the last heartbeat was "
                             f"{health.format_age(health.HEARTBEAT_STALE_MS + 1)} ago")


def test_gap_spans_come_from_neighbouring_trades(tmp_path):
    """store.read_gap_spans: a gap's span runs from the trade before from_id to the trade after to_id."""
    path = tmp_path / "ticks.db"
    trades = [t for t in recorded_trades() if t.symbol == "BTCUSDT"]
    hole = trades[100:150]
    store.write_trades(path, trades[:100] + trades[150:])
    conn = store.open_writer(path, "spot", "trade")
    with store.transaction(conn):
        store.open_gap(conn, "BTCUSDT", hole[0].trade_id, hole[-1].trade_id, "id jump")
    conn.close()
    reader = store.open_reader(path)
    (span,) = store.read_gap_spans(reader, ["BTCUSDT"]).itertuples()
    assert (span.start_ms, span.end_ms, span.status) == (trades[99].ts_ms, trades[150].ts_ms, "open")
    assert len(store.read_gap_spans(reader, ["BTCUSDT"], start_ms=trades[-1].ts_ms + 1)) == 0
    assert len(store.read_gap_spans(reader, ["ETHUSDT"])) == 0


# --------------------------------------------------------------------------- incremental refresh


def synthetic_pair_trades(seconds: int = 1_500, hole: tuple[int, int] = (700, 820), seed: int = 3) -> list[tuple]:
    """Trades of a cointegrated BTCUSDT / ETHUSDT pair, about one a second each (some seconds missed),
    none in the ``hole`` seconds (longer than max_stale: two segments); store.write_trades tuples."""
    rng = np.random.default_rng(seed)
    eth = 2_600 + np.cumsum(rng.normal(0, 0.4, seconds))
    mispricing = np.zeros(seconds)
    for i in range(1, seconds):  # AR(1), half-life about 20 bars
        mispricing[i] = 0.966 * mispricing[i - 1] + rng.normal(0, 3.0)
    btc = 8_000 + 20.5 * eth + mispricing
    trades, ids = [], {"BTCUSDT": 0, "ETHUSDT": 0}
    for second in range(seconds):
        if hole[0] <= second < hole[1]:
            continue
        for symbol, price, p_trade in (("BTCUSDT", btc[second], 0.95), ("ETHUSDT", eth[second], 0.8)):
            if rng.random() < p_trade:
                ids[symbol] += 1
                trades.append((symbol, ids[symbol], T0_MS + second * 1000 + 250, round(float(price), 2), 0.01, False))
    return trades


@pytest.mark.parametrize("hedge", analytics.HEDGE_METHODS)
def test_live_view_never_repaints_when_bars_arrive(tmp_path, hedge):
    """The live panel after 900 s, then after 1,500 s (read incrementally): its first rows are the same numbers
    for every causal hedge (across the hole too); only the in-sample fit changes, as its label says."""
    path = tmp_path / "ticks.db"
    trades = synthetic_pair_trades()
    split_ms = T0_MS + 900_000
    store.write_trades(path, [t for t in trades if t[2] < split_ms])
    db = dashboard_data.describe_database(str(path))
    settings = dashboard_data.Settings("BTCUSDT", "ETHUSDT", "1s", "1 h", 60, 2.0, hedge, "UTC", None)
    before = dashboard_data.load_view(db, settings).panel
    store.write_trades(path, [t for t in trades if t[2] >= split_ms])
    after = dashboard_data.load_view(db, settings).panel
    assert len(after) > len(before) and before["segment"].iloc[-1] == 1
    assert before["zscore"].notna().sum() > 300, "the test must compare real values"
    head = after.iloc[:len(before)].reset_index(drop=True)
    if analytics.is_causal(hedge):
        pd.testing.assert_frame_equal(head, before, check_exact=True)
    else:
        assert not np.allclose(head["hedge_ratio"], before["hedge_ratio"])
    expected = analytics.pair_panel(*read_bars(path), "1s", 60, hedge)  # all bars at once, as the CLI computes
    pd.testing.assert_frame_equal(after, expected, check_exact=True)


def test_refresh_reads_only_new_and_corrected_bars(monkeypatch, tmp_path):
    """BarCache: after the first read, a refresh reads only bars with a newer rev and replaces corrected ones."""
    path = tmp_path / "ticks.db"
    trades = [t for t in recorded_trades() if t.symbol == "BTCUSDT"]
    store.write_trades(path, trades[:len(trades) // 2])
    cache = dashboard_data.BarCache("BTCUSDT")
    conn = store.open_reader(path)
    first = cache.refresh(conn)
    late = trades[len(trades) // 2:]
    store.write_trades(path, late)
    calls = []
    real_since = store.read_bars_since

    def counting_since(*args):
        bars, rev = real_since(*args)
        calls.append(len(bars))
        return bars, rev

    monkeypatch.setattr(store, "read_bars_since", counting_since)
    after = cache.refresh(conn)
    again = cache.refresh(conn)
    expected = store.read_bars_1s(conn, "BTCUSDT")
    assert calls[1] == 0 and 0 < calls[0] < len(expected)  # only the new seconds, then nothing
    pd.testing.assert_frame_equal(after.reset_index(drop=True), expected)
    assert again is after and len(first) < len(after)
    conn.close()


def test_merge_replaces_corrected_bars_and_trims_to_retention():
    """A corrected second replaces the held bar; bars older than the retention horizon are dropped."""
    held = pd.DataFrame({"ts_ms": [1000, 2000, 3000], "close": [1.0, 2.0, 3.0]})
    fresh = pd.DataFrame({"ts_ms": [2000, 4000], "close": [2.5, 4.0]})
    merged = dashboard_data.merge_bars(held, fresh, retain_ms=2000)
    assert merged.to_dict("list") == {"ts_ms": [2000, 3000, 4000], "close": [2.5, 3.0, 4.0]}


def test_page_refresh_picks_up_new_trades(monkeypatch, tmp_path):
    """A second run after new trades were stored shows the new last price."""
    path = tmp_path / "ticks.db"
    trades = recorded_trades()
    store.write_trades(path, [t for t in trades if t.ts_ms < T0_MS + 300_000])
    page = run_page(monkeypatch, path)
    before = metric(page, "BTCUSDT")
    store.write_trades(path, trades)
    page.run()
    assert not page.exception
    assert metric(page, "BTCUSDT") == LAST_BTC_PRICE != before


def test_empty_database_comes_alive_when_trades_arrive(monkeypatch, db_path):
    """The page opened on an empty database shows the pair once the ingestor has stored trades."""
    store.write_trades(db_path, [])
    page = run_page(monkeypatch, db_path)
    assert "Live pair" not in texts(page, "subheader")
    store.write_trades(db_path, recorded_trades())
    page.run()
    assert "Live pair" in texts(page, "subheader") and metric(page, "BTCUSDT") == LAST_BTC_PRICE


def test_a_failing_computation_is_one_line_not_a_traceback(monkeypatch, real_db):
    """If the engine raises, the section shows a one-line st.error; no exception element, the rest still draws."""
    def broken(*args, **kwargs):
        raise ValueError("synthetic failure")

    monkeypatch.setattr(analytics, "pair_panel", broken)
    monkeypatch.setattr(analytics, "pair_panel_since", broken)  # the live view's entry to it
    page = run_page(monkeypatch, real_db, errors_ok=True)
    assert texts(page, "error")[0] == ("The live view could not be drawn (ValueError: synthetic failure); "
                                       "the dashboard's log has the details.")
    assert "Import history" in texts(page, "subheader")


def test_heavy_analytics_key_changes_at_most_every_30_s():
    """The heavy panels' cache key is constant within a 30 s bucket and changes after it."""
    db = dashboard_data.Database("x.db", "x@1", "spot", "trade", "binance", ("BTCUSDT", "ETHUSDT"))
    s = dashboard_data.Settings("BTCUSDT", "ETHUSDT", "1s", "1 h", 60, 2.0, "rolling", "UTC", 2)
    key = dashboard_data.heavy_key
    assert key(db, s, 90.0) == key(db, s, 119.9) != key(db, s, 120.0)


# --------------------------------------------------------------------------- uploads


def upload(page: AppTest, name: str, data: bytes, symbol: str | None = None) -> AppTest:
    """Upload one file through the Import history section and press Import."""
    page.file_uploader(key="import_file").set_value((name, data, "text/csv"))
    page.run()
    if symbol is not None:
        page.selectbox(key="import_symbol").set_value(symbol)
        page.run()
    page.button(key="import_go").click()
    page.run()
    assert not page.exception, [e.value for e in page.exception]
    return page


def stored_count(path: Path, symbol: str) -> int:
    """How many trades of ``symbol`` the database holds."""
    conn = store.open_reader(path)
    try:
        return len(store.read_trades(conn, symbol))
    finally:
        conn.close()


def test_upload_of_agg_trades_into_a_trade_database_is_refused(monkeypatch, tmp_path):
    """The real aggTrades dump into a spot trade-id database: refused with a message, nothing stored."""
    path = build_real_db(tmp_path / "ticks.db")
    sample = binance_file(AGG_SAMPLE)
    page = upload(run_page(monkeypatch, path), sample.name, sample.read_bytes())
    assert not page.exception
    (error,) = texts(page, "error")
    assert "spot aggTrades file (aggregate trade ids)" in error and "Nothing was stored" in error
    assert stored_count(path, "BTCUSDT") == trade_count(*RECORDINGS[:2])


def test_upload_of_a_bad_file_names_the_line_and_stores_nothing(monkeypatch, tmp_path):
    """A trades file with a bad price on line 3: the error names the line; not even its good lines are stored."""
    path = build_real_db(tmp_path / "ticks.db")
    text = ("1,100.5,1,100.5,1723161255342,True,True\n2,100.6,1,100.6,1723161255343,False,True\n"
            "3,abc,1,1,1723161255344,True,True\n")
    page = upload(run_page(monkeypatch, path), "SOLUSDT-trades-2024-08-09.csv", text.encode())
    (error,) = texts(page, "error")
    assert "line 3: price 'abc' is not a number" in error
    assert stored_count(path, "SOLUSDT") == 0


def test_upload_stores_a_new_symbol_and_never_overwrites_live_trades(monkeypatch, tmp_path):
    """Spot trades for SOLUSDT are stored (the symbol appears); re-sent BTC ids keep their live prices."""
    path = build_real_db(tmp_path / "ticks.db")
    sol = "".join(f"{i},{150 + i / 100},1,{150 + i / 100},{T0_MS + i * 1000},True,True\n" for i in range(1, 301))
    page = upload(run_page(monkeypatch, path), "SOLUSDT-trades-2024-08-09.csv", sol.encode())
    (success,) = texts(page, "success")
    assert "300 new trades stored" in success and "SOLUSDT" in success
    assert stored_count(path, "SOLUSDT") == 300
    assert "SOLUSDT" in page.selectbox(key="symbol_b").options

    btc = [t for t in recorded_trades() if t.symbol == "BTCUSDT"][:50]
    forged = "".join(f"{t.trade_id},1.0,1,1.0,{t.ts_ms},True,True\n" for t in btc)  # same ids, fake prices
    page = upload(page, "forged.csv", forged.encode(), symbol="BTCUSDT")
    assert "0 new trades stored, 50 were already there" in texts(page, "success")[0]
    conn = store.open_reader(path)
    prices = store.read_trades(conn, "BTCUSDT", limit=None)["price"].head(50).tolist()
    conn.close()
    assert prices == [t.price for t in btc]


def test_upload_of_simple_bars_adds_bars_only_where_none_exist(monkeypatch, tmp_path):
    """Simple-format bars for ADAUSDT are stored as bars; the symbol can then be charted."""
    path = build_real_db(tmp_path / "ticks.db")
    rows = "".join(f"{1723161255000 + i * 1000},0.3,0.31,0.29,{0.3 + (i % 7) / 1000},10\n" for i in range(120))
    page = upload(run_page(monkeypatch, path), "ADAUSDT-1s-2024-08-09.csv",
                  ("time,open,high,low,close,volume\n" + rows).encode())
    assert "120 new bars stored" in texts(page, "success")[0]
    conn = store.open_reader(path)
    assert len(store.read_bars_1s(conn, "ADAUSDT")) == 120
    conn.close()


def test_upload_goes_through_the_shared_parse_check_and_store(monkeypatch, tmp_path):
    """An upload calls history.parse_history, history.check_fits_database and importer.store_parsed, in order."""
    calls = []
    for module, name in ((history, "parse_history"), (history, "check_fits_database"), (importer, "store_parsed")):
        def spy(*args, _real=getattr(module, name), _name=name, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)
    path = build_real_db(tmp_path / "ticks.db")
    sol = "".join(f"{i},{150 + i / 100},1,{150 + i / 100},{T0_MS + i * 1000},True,True\n" for i in range(1, 11))
    page = upload(run_page(monkeypatch, path), "SOLUSDT-trades-2024-08-09.csv", sol.encode())
    assert "10 new trades stored" in texts(page, "success")[0]
    assert calls == ["parse_history", "check_fits_database", "store_parsed"]


def test_an_empty_database_says_whether_the_ingestor_runs_and_why_nothing_came():
    """No bars: the note names the ingestor's state, the exchange it cannot reach, and the demo command."""
    now = 1_000_000_000
    row = {"symbol": "BTCUSDT", "updated_ms": now - 500, "state": "disconnected", "transport": "ws",
           "last_trade_ms": None, "last_message_ms": None, "open_gaps": 0,
           "last_error": "connection failed: [Errno -3] Temporary failure in name resolution"}
    note = status.empty_database_note(pd.DataFrame([row]), now)
    assert note == ("The ingestor is running but cannot reach the exchange: [Errno -3] Temporary failure in name "
                    "resolution. No internet on this machine? `make demo` runs the desk against a local exchange.")
    connecting = status.empty_database_note(pd.DataFrame([{**row, "state": "connecting", "last_error": ""}]), now)
    assert connecting == ("The ingestor is running and no trade is stored yet (BTCUSDT: feed connecting); the charts "
                          "appear with the first bars.")
    stale = status.empty_database_note(pd.DataFrame([{**row, "updated_ms": now - 60_000}]), now)
    assert stale.startswith("The database holds no bars yet. Start the ingestor")
