"""The dashboard's quote panels under AppTest on the recorded futures quotes (``quote_db``): the
Quoted spread & cost and Funding tabs with the engine's numbers (BTC's quoted spread about 0.016
bps), notes instead of blank charts without quotes, no Funding tab on spot; the figure builders
(bid-ask band broken across a quote gap, "no quotes" shading); the incremental quote cache."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import read_db
from pairdesk.dashboard import url_state
from pairdesk import analytics, quote_data, store
from pairdesk.dashboard import charts, quote_charts
from pairdesk.dashboard.formatting import format_bps, format_percent
from pairdesk.dashboard.quote_cache import QuoteCache
from pairdesk.dashboard.quotes_view import NO_QUOTES_NOTE
from quote_db import QUOTE_GAP, RATES, SYMBOLS, build_quote_db, build_trades_only_db, recorded_quote_seconds
from test_app import fresh_caches, metric, run_page, texts  # noqa: F401 (fresh_caches: autouse)

SETTINGS = {"window": 10, "hedge_window": 10}


@pytest.fixture(scope="module")
def quote_db(tmp_path_factory):
    return build_quote_db(tmp_path_factory.mktemp("app_quotes") / "futures.db")


def test_quote_panels_show_the_engines_costs_and_funding(monkeypatch, quote_db):
    """Both tabs are there; the metrics are the last row of pair_costs (BTC about 0.016 bps) and the
    rates of the newest mark seconds; a flat live z says so."""
    page = run_page(monkeypatch, quote_db, **SETTINGS)
    labels = [tab.label for tab in page.tabs]
    assert {"Quoted spread & cost", "Funding"} <= set(labels)
    page = open_tab(page, "Quoted spread & cost")
    bars = read_db(quote_db, lambda c: [store.read_bars_1s(c, s) for s in SYMBOLS])
    panel = analytics.pair_panel(*bars, "1s", 10, "rolling", hedge_window=10)
    legs = read_db(quote_db, lambda c: quote_data.read_pair_quotes(c, SYMBOLS, panel, "1s"))
    last = quote_data.pair_cost_rows(panel, legs, "1s", 10_000).iloc[-1]
    assert metric(page, "BTCUSDT quoted spread") == format_bps(last["spread_bps_a"], 4) == "0.0162 bps"
    assert metric(page, "ETHUSDT quoted spread") == format_bps(last["spread_bps_b"], 4)
    assert metric(page, "Round trip") == format_bps(last["round_trip_bps"], 2)
    assert metric(page, "Long entry at the touch").endswith(" USDT")
    page = open_tab(page, "Funding")
    for symbol in SYMBOLS:
        assert metric(page, f"{symbol} funding rate") == format_percent(RATES[symbol], 4)
        assert metric(page, f"{symbol} next settlement").endswith("IST")
    z = panel["zscore"].dropna().iloc[-1]
    assert abs(z) < 2 and metric(page, "Carry of the position") == "flat: no carry"
    assert any("Fills of the" in text and "quoted bid / ask" in text for text in texts(page, "caption"))


def test_without_quotes_the_panels_are_a_note_not_a_blank_chart(monkeypatch, tmp_path):
    """A futures database of trades only: one-line notes, no exception, the rest of the page as usual."""
    page = run_page(monkeypatch, build_trades_only_db(tmp_path / "trades.db"), **SETTINGS)
    notes = texts(open_tab(page, "Quoted spread & cost"), "info")
    assert NO_QUOTES_NOTE in notes
    assert any(n.startswith("No mark price or funding stored yet") for n in texts(open_tab(page, "Funding"), "info"))
    assert not [m for m in page.metric if "quoted spread" in m.label]


def test_spot_has_no_funding_tab(monkeypatch, real_db):
    """A spot database (no quotes either): no Funding tab, the cost tab is a note."""
    page = run_page(monkeypatch, real_db, hedge_window=40)
    assert "Funding" not in [tab.label for tab in page.tabs]
    assert NO_QUOTES_NOTE in texts(open_tab(page, "Quoted spread & cost"), "info")


def open_tab(page, label: str):
    """Open a live tab as a click does (only the open tab is drawn), and rerun."""
    page.session_state[url_state.LIVE_TABS_KEY] = label
    page.run()
    assert not page.exception, [e.value for e in page.exception]
    return page


from test_app import real_db  # noqa: E402, F401 (the module's spot database fixture)


def btc_bars(timeframe: str = "1s") -> pd.DataFrame:
    seconds, gaps = recorded_quote_seconds("BTCUSDT")
    return analytics.quote_bars_at(pd.DataFrame(seconds).drop(columns="symbol"), timeframe,
                                   pd.DataFrame([g._asdict() for g in gaps]))


def test_the_bid_ask_band_breaks_at_the_quote_gap_and_the_gap_is_shaded():
    """Two polygons (before and after the disconnect), each closed between ask and bid; the candles get
    the spread row; the gap is one amber band with the legend "no quotes"."""
    bars = btc_bars()
    band = charts.bid_ask_band(bars, "UTC", "#F59E0B")
    y = np.asarray(band.y, dtype=float)
    separators = np.flatnonzero(np.isnan(y))
    assert len(separators) == 2 and separators[-1] == len(y) - 1
    known = bars[bars["bid"].notna()]
    before = known[known["ts_ms"] < QUOTE_GAP[0]]
    assert y[:separators[0]].tolist() == before["ask"].tolist() + before["bid"].tolist()[::-1]
    assert pd.Timestamp(band.x[0]) == charts.display_times(before["ts_ms"].iloc[:1], "UTC")[0]
    gaps = pd.DataFrame({"symbol": ["BTCUSDT"], "from_ms": [QUOTE_GAP[0]], "to_ms": [QUOTE_GAP[1]], "reason": ["x"]})
    candles = pd.DataFrame({"ts_ms": bars["ts_ms"], "open": bars["bid"], "high": bars["ask"], "low": bars["bid"],
                            "close": bars["ask"], "volume": 1.0}).dropna()
    fig = charts.candlestick_figure(candles, "BTCUSDT", "UTC", "#F59E0B", "1s", quotes=bars, quote_gaps=gaps)
    assert [t.name for t in fig.data if t.name] == ["bid-ask (book at close)", "BTCUSDT", "quoted spread (bps)",
                                                    "volume"]
    shapes = [s for s in fig.layout.shapes if s.name == charts.QUOTE_GAP_NAME]
    assert len(shapes) == 1 and shapes[0].showlegend and shapes[0].fillcolor == charts.QUOTE_GAP_FILL
    plain = charts.candlestick_figure(candles, "BTCUSDT", "UTC", "#F59E0B", "1s")
    assert "yaxis3" not in plain.layout.to_plotly_json()


def test_quoted_spread_figure_draws_each_leg_and_the_pair_costs():
    bars = {"BTCUSDT": btc_bars()}
    costs = pd.DataFrame({c: [1.0, 2.0] for c in analytics.COST_COLUMNS}).assign(ts_ms=bars["BTCUSDT"]["ts_ms"][:2])
    panel = pd.DataFrame({"ts_ms": costs["ts_ms"], "segment": [0, 0]})
    fig = quote_charts.quoted_spread_figure(bars, costs, panel, ("BTCUSDT", "ETHUSDT"), "UTC",
                                            {"BTCUSDT": "#F59E0B", "ETHUSDT": "#60A5FA"}, "10,000 USDT")
    assert [t.name for t in fig.data] == ["BTCUSDT mean", "BTCUSDT max", "long entry", "short entry",
                                          "round trip (fees incl.)"]
    assert np.nanmedian(np.array(fig.data[0].y, dtype=float)) == pytest.approx(0.0162, abs=5e-4)
    empty = quote_charts.quoted_spread_figure({}, costs.iloc[:0], panel.iloc[:0], ("A", "B"), "UTC", {}, "")
    assert empty.layout.annotations[0].text == "no quotes in this window"


def test_quote_cache_reads_only_new_seconds_and_rereads_after_an_older_one_is_added(tmp_path):
    """A refresh reads the seconds after the newest held; a second stored before it (an import) is seen
    by the count and the cache reads its stretch again; the result always equals the store's rows."""
    db = build_quote_db(tmp_path / "q.db")
    conn = store.open_reader(db)
    cache = QuoteCache("BTCUSDT")
    held = cache.refresh(conn)
    pd.testing.assert_frame_equal(held, store.read_quotes(conn, "BTCUSDT"))
    writer = store.open_writer(db, "futures", "trade")
    newest = int(held["ts_ms"].iloc[-1])
    with store.atomic(writer):
        store.store_quote_bars(writer, [("BTCUSDT", newest + 5000, 1.0, 1.1, 1, 1, 0.1, 0.1, 1)])
    assert cache.refresh(conn)["ts_ms"].iloc[-1] == newest + 5000 and cache.full_reads == 1
    with store.atomic(writer):
        store.store_quote_bars(writer, [("BTCUSDT", QUOTE_GAP[0] + 2000, 1.0, 1.1, 1, 1, 0.1, 0.1, 1)])
    pd.testing.assert_frame_equal(cache.refresh(conn), store.read_quotes(conn, "BTCUSDT"))
    assert cache.full_reads == 2
    writer.close()
    conn.close()


def test_carry_of_a_position_is_minus_rate_times_quantity_times_mark(tmp_path):
    """Short the spread at the newest marks: per settlement = -rate_a qty_a mark_a - rate_b qty_b mark_b,
    three settlements a day; flat carries nothing."""
    db = build_quote_db(tmp_path / "q.db")
    a, b = read_db(db, lambda c: [quote_data.read_funding_state(c, s) for s in SYMBOLS])
    carry = quote_data.position_carry(-1, 0.5, 10_000, a, b, max_stale=1e6)
    mark_a, mark_b = a.mark_value("mark"), b.mark_value("mark")
    qty_a = -10_000 / mark_a
    expected = -RATES["BTCUSDT"] * qty_a * mark_a - RATES["ETHUSDT"] * (-0.5 * qty_a) * mark_b
    assert carry.per_settlement == pytest.approx(expected) and carry.per_day == pytest.approx(3 * expected)
    assert quote_data.position_carry(0, 0.5, 10_000, a, b).per_day == 0
    assert [quote_data.spread_side(z, 2) for z in (2.5, -2.0, 1.9, np.nan)] == [-1, 1, 0, 0]
