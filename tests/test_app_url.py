"""Settings in the URL and clear numbers, on the page under AppTest with the recorded BTC/ETH trades: the
query string sets the sidebar, the sidebar writes the query string, bad values warn and fall back, and
numbers are shown in their kind's format."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO_ROOT
from streamlit.testing.v1 import AppTest
from test_app import metric, table_with, texts

from pairdesk import store
from pairdesk.alerts import links
from pairdesk.dashboard import formatting, header, url_state

LINK = {"a": "ETHUSDT", "b": "BTCUSDT", "tf": "5s", "lookback": "15min", "window": "30", "z": "1.5",
        "hedge": "kalman", "hw": "40", "kind": "log", "notional": "2500", "corr": "prices", "tz": "UTC",
        "tab": "correlation"}


from test_app import fresh_caches, real_db  # noqa: E402, F401 (the page tests' database and clean caches)


def open_page(monkeypatch, db: Path, query: dict[str, str] | None = None) -> AppTest:
    """app.py on ``db`` opened with ``query`` in its URL; fails on an exception or an st.error."""
    monkeypatch.setattr(sys, "argv", ["app.py", "--db", str(db)])
    monkeypatch.delenv(header.DB_ENV_VAR, raising=False)
    page = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=30)
    page.query_params.update(query or {})
    page.run()
    assert not page.exception, [e.value for e in page.exception]
    assert not page.error, texts(page, "error")
    return page


def link_warnings(page: AppTest) -> list[str]:
    return [text for text in texts(page, "warning") if text.startswith("The link's ")]


def test_a_link_sets_every_setting_and_the_tab(monkeypatch, real_db):
    """Every key of the query string reaches its widget, the open tab is the link's, no warning; the URL keeps them."""
    page = open_page(monkeypatch, real_db, LINK)
    assert page.selectbox(key="symbol_a").value == "ETHUSDT" and page.selectbox(key="symbol_b").value == "BTCUSDT"
    assert page.segmented_control(key="timeframe").value == "5s"
    assert page.selectbox(key="lookback").value == "15 min"
    assert page.number_input(key="window").value == 30 and page.number_input(key="z_threshold").value == 1.5
    assert page.selectbox(key="hedge").value == "kalman" and page.number_input(key="hedge_window").value == 40
    assert page.selectbox(key="spread_kind").value == "log" and page.number_input(key="notional").value == 2500.0
    assert page.segmented_control(key="correlation").value == "prices"
    assert page.selectbox(key="tz").value == "UTC"
    assert page.session_state[url_state.LIVE_TABS_KEY] == "Correlation"
    assert link_warnings(page) == []
    assert texts(page, "title") == ["Pairs desk · ETHUSDT / BTCUSDT"]
    assert {k: page.query_params[k] for k in LINK} == LINK
    assert "Correlation of price levels" in [m.label for m in page.metric]


def test_changing_a_setting_updates_the_query_string(monkeypatch, real_db):
    """Defaults are written on the first run; a changed timeframe, window and hedge replace their keys."""
    page = open_page(monkeypatch, real_db)
    assert page.query_params["a"] == "BTCUSDT" and page.query_params["b"] == "ETHUSDT"
    assert (page.query_params["tf"], page.query_params["lookback"], page.query_params["tab"]) == ("1s", "1h", "spread")
    page.segmented_control(key="timeframe").set_value("1m")
    page.number_input(key="window").set_value(90)
    page.selectbox(key="hedge").set_value("huber")
    page.selectbox(key="tz").set_value("Europe/London")
    page.run()
    assert not page.exception
    assert (page.query_params["tf"], page.query_params["window"], page.query_params["hedge"],
            page.query_params["tz"]) == ("1m", "90", "huber", "Europe/London")


@pytest.mark.parametrize(("key", "value", "widget", "fallback", "says"), [
    ("a", "DOGEUSDT", "symbol_a", "BTCUSDT", "not in the database (BTCUSDT, ETHUSDT)"),
    ("tf", "7s", "timeframe", "1s", "not a timeframe"),
    ("window", "abc", "window", 60, "not a whole number"),
    ("window", "100000", "window", 60, "outside 5 to 5,000"),
    ("z", "nan", "z_threshold", 2.0, "outside 0.5 to 5"),
    ("hedge", "magic", "hedge", "rolling", "not a hedge"),
    ("lookback", "3d", "lookback", "1 h", "not a lookback"),
    ("tz", "Mars/Olympus", "tz", "Asia/Kolkata", "not a time zone"),
])
def test_a_bad_value_warns_in_one_line_and_falls_back(monkeypatch, real_db, key, value, widget, fallback, says):
    """A value the setting cannot take: one st.warning naming it and the fallback; the URL is rewritten."""
    page = open_page(monkeypatch, real_db, {key: value, "tf": "5s"} if key != "tf" else {key: value})
    (warning,) = link_warnings(page)
    assert warning.startswith(f"The link's {key}={value} is {says}") and "\n" not in warning
    kind = "segmented_control" if widget == "timeframe" else "selectbox" if isinstance(fallback, str) else "number_input"
    assert getattr(page, kind)(key=widget).value == fallback
    assert page.query_params[key] != value


def test_a_tab_the_view_lacks_warns_and_opens_the_first(monkeypatch, real_db):
    """tab=funding on a spot database (no Funding tab): a warning, the spread tab opens."""
    page = open_page(monkeypatch, real_db, {"tab": "funding"})
    (warning,) = link_warnings(page)
    assert "tab=funding is not a tab of this view" in warning
    assert page.query_params["tab"] == "spread"


def test_the_alert_link_opens_its_pair(monkeypatch, real_db):
    """The link a notification carries (alerts.links) opens the page on that pair, timeframe and tab."""
    link = links.pair_link("http://127.0.0.1:8501", "ETHUSDT/BTCUSDT", "10s")
    query = dict(pair.split("=") for pair in link.split("?", 1)[1].split("&"))
    page = open_page(monkeypatch, real_db, query)
    assert page.selectbox(key="symbol_a").value == "ETHUSDT" and page.segmented_control(key="timeframe").value == "10s"
    assert page.session_state[url_state.LIVE_TABS_KEY] == "Spread & z-score" and link_warnings(page) == []


def test_numbers_in_their_kind_format(monkeypatch, real_db):
    """Prices at the tick's decimals, β to 4 decimals, correlation to 3 and labelled, volatility in percent,
    human table headers, hours labelled by the hour they cover."""
    page = open_page(monkeypatch, real_db, {"hw": "40"})
    conn = store.open_reader(real_db)
    closes = {s: store.read_bars_1s(conn, s)["close"] for s in ("BTCUSDT", "ETHUSDT")}
    conn.close()
    assert formatting.price_decimals(closes["BTCUSDT"]) == 2  # BTCUSDT's tick is 0.01
    for symbol, close in closes.items():
        shown = metric(page, symbol)
        assert shown == f"{close.iloc[-1]:,.2f}" and len(shown.split(".")[1]) == 2
    assert len(metric(page, "Hedge ratio β").split(".")[1]) == 4
    corr = metric(page, "Correlation of returns")
    assert len(corr.split(".")[1]) == 3
    summary = table_with(page, "Annualised volatility")
    assert list(summary.columns[:3]) == ["Symbol", "Bars", "Last price"]
    assert all(text.endswith("%") for text in summary["Annualised volatility"])
    assert not [c for c in summary.columns if "_" in c]
    hourly = table_with(page, "Hour")
    assert hourly["Hour"].iloc[0] == "2024-08-09 04:30–05:30 IST"
    assert not [c for c in hourly.columns if "_" in c]
    assert "Correlation of returns, mean" in hourly.columns


@pytest.mark.parametrize(("prices", "decimals"), [
    ([61770.39, 61770.4, 61770.0], 2), ([2600.1, 2601.0], 1), ([0.00001234, 0.00001235], 8), ([42.0], 0),
    ([], None), ([np.nan], None),
])
def test_price_decimals_from_stored_prices(prices, decimals):
    """The tick's decimals are the most decimals among the prices (float noise ignored)."""
    assert formatting.price_decimals(pd.Series(prices, dtype="float64")) == decimals


def test_formatters_of_each_kind():
    """One format per kind: price to its decimals, ratio 4, correlation 3, z signed 2, bps and percent with units."""
    assert formatting.format_price(61770.3936, 2) == "61,770.39"
    assert formatting.format_ratio(21.319) == "21.3190" and formatting.format_ratio(1.23e-6) == "1.23e-06"
    assert formatting.format_correlation(0.87345) == "0.873" and formatting.format_z(-1.234) == "-1.23"
    assert formatting.format_bps(1.5, 2) == "1.50 bps" and formatting.format_percent(-0.002, 2) == "-0.20%"
    assert formatting.format_spread(0.000123456, "log", 2) == "0.000123"
    assert formatting.format_hours(pd.Series([1_723_161_600_000]), "UTC").iloc[0] == "2024-08-09 00:00–01:00 UTC"
    assert formatting.format_price(float("nan"), 2) == formatting.MISSING
