"""The scanner's stored results: migration 9, one transaction per completed scan (a failed or
interrupted one leaves the previous results), the readers and their filters, and the one-close-per-bar
reader the scan reads bars through."""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from pairdesk import analytics, scanner, store
from scan_universe import simulate_universe


def _write(path, universe) -> None:
    for symbol, bars in universe.bars.items():
        store.write_bars(path, symbol, bars.itertuples(index=False, name=None))


@pytest.fixture
def scanned(db_path):
    """A database of 8 symbols (2 planted pairs, 1,500 one-minute bars) scanned once."""
    _write(db_path, simulate_universe(8, 2, 1_500, seed=3))
    scan_id = scanner.run_scan(db_path, scanner.ScanSettings(lookback_ms=1_500 * 60_000, workers=1))
    return db_path, scan_id


def test_migration_9_creates_the_scan_tables(db_path):
    """A new database is at schema 9 with empty scans and scan_results."""
    conn = store.open_writer(db_path, "spot", "trade")
    assert store.SCHEMA_VERSION == 9 and conn.execute("PRAGMA user_version").fetchone()[0] == 9
    assert conn.execute("SELECT count(*) FROM scans").fetchone()[0] == 0
    assert store.latest_scan(conn) is None
    conn.close()


def test_stored_columns_are_the_scans():
    """The stored row is exactly the ranked scan's columns, in order."""
    assert store.SCAN_RESULT_COLUMNS == analytics.SCAN_COLUMNS


def test_a_scan_is_stored_with_its_parameters_and_read_back_as_computed(scanned):
    """The latest scan holds its parameters, data span and one row per pair, equal to the computation."""
    path, scan_id = scanned
    conn = store.open_reader(path)
    scan = store.latest_scan(conn)
    assert (scan["scan_id"], scan["status"], scan["pairs"], scan["timeframe"]) == (scan_id, "done", 28, "1m")
    assert scan["params"]["fdr_level"] == 0.05 and scan["params"]["lookback_ms"] == 1_500 * 60_000
    assert len(scan["symbols"]) == 8 and scan["data_to_ms"] - scan["data_from_ms"] == 1_500 * 60_000
    stored = store.read_scan_results(conn, scan_id)
    computed, _ = scanner.service.compute(conn, scanner.ScanSettings(lookback_ms=1_500 * 60_000, workers=1))
    conn.close()
    assert scanner.scan_rows(stored) == scanner.scan_rows(computed)
    assert list(stored["rank"]) == list(range(1, 29))


def test_filters_pick_significant_pairs_in_a_half_life_range(scanned):
    """significant_only, the half-life bounds and the limit filter in the store, by rank."""
    path, scan_id = scanned
    conn = store.open_reader(path)
    every = store.read_scan_results(conn, scan_id)
    chosen = store.read_scan_results(conn, scan_id, significant_only=True, half_life_min=5, half_life_max=60, limit=1)
    conn.close()
    expected = every[every["significant"] & every["half_life"].between(5, 60)].head(1)
    assert len(chosen) == 1 and chosen["rank"].tolist() == expected["rank"].tolist()


def test_a_failed_scan_leaves_the_previous_results(scanned):
    """A scan that cannot run is recorded failed with its reason; the latest results are the previous scan's."""
    path, scan_id = scanned
    with pytest.raises(scanner.ScanError, match="no bars for NOPEUSDT"):
        scanner.run_scan(path, scanner.ScanSettings(symbols=("NOPEUSDT", "P00A"), workers=1))
    conn = store.open_reader(path)
    newest = store.read_scans(conn, limit=1)[0]
    assert newest["status"] == "failed" and "NOPEUSDT" in newest["error"]
    assert store.latest_scan(conn)["scan_id"] == scan_id
    conn.close()


def test_an_interrupted_write_leaves_the_previous_results(scanned):
    """Rows that break off midway roll the whole completion back: nothing of the new scan is stored."""
    path, scan_id = scanned
    conn = store.open_writer_as_recorded(path)
    new_id = store.begin_scan(conn, "1m", 60_000, {}, 1)
    previous = store.read_scan_results(conn, scan_id)
    good = previous.itertuples(index=False, name=None)

    def breaking():
        yield next(good)
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        store.finish_scan(conn, new_id, ["A"], 0, 1, breaking())
    assert store.latest_scan(conn)["scan_id"] == scan_id
    assert len(store.read_scan_results(conn, new_id)) == 0
    pd.testing.assert_frame_equal(store.read_scan_results(conn, scan_id), previous)
    conn.close()


def test_only_the_newest_scans_keep_their_rows(db_path):
    """After KEEP_SCANS + 1 scans the oldest one's rows are gone; its record stays."""
    _write(db_path, simulate_universe(3, 1, 300, seed=4))
    ids = [scanner.run_scan(db_path, scanner.ScanSettings(lookback_ms=300 * 60_000, workers=1))
           for _ in range(store.KEEP_SCANS + 1)]
    conn = store.open_reader(db_path)
    assert len(store.read_scan_results(conn, ids[0])) == 0 and len(store.read_scan_results(conn, ids[-1])) == 3
    assert len(store.read_scans(conn)) == store.KEEP_SCANS + 1
    conn.close()


def test_read_closes_is_resample_bars_close(db_path):
    """The reader's close per bar is resample_bars' close of the one-second bars, bar for bar."""
    rng = np.random.default_rng(5)
    seconds = np.sort(rng.choice(3_600, 900, replace=False)) * 1_000 + 1_722_470_400_000
    close = 100 + np.cumsum(rng.standard_normal(len(seconds)))
    rows = [(int(t), c, c, c, c, 1.0, c, 1) for t, c in zip(seconds, close)]
    store.write_bars(db_path, "AUSDT", rows)
    conn = store.open_reader(db_path)
    got = store.read_closes(conn, "AUSDT", 60_000, int(seconds[10]), int(seconds[-10]))
    bars = store.read_bars_1s(conn, "AUSDT", int(seconds[10]), int(seconds[-10]))
    conn.close()
    expected = analytics.resample_bars(bars, "1m")[["ts_ms", "close"]]
    pd.testing.assert_frame_equal(got, expected.reset_index(drop=True))


def test_scan_symbols_come_from_the_watchlist(db_path):
    """Without --symbols the watchlist's symbols with bars are scanned; fewer than two is a one-line error."""
    _write(db_path, simulate_universe(4, 1, 300, seed=6))
    conn = store.open_writer_as_recorded(db_path)
    with store.atomic(conn):
        store.replace_watchlist(conn, ["P00A", "R00", "XUSDT"])
    assert scanner.universe.scan_symbols(conn, None) == ("P00A", "R00")
    with store.atomic(conn):
        store.replace_watchlist(conn, ["P00A"])
    with pytest.raises(scanner.ScanError, match="at least two symbols"):
        scanner.universe.scan_symbols(conn, None)
    conn.close()


def test_round_trip_costs_come_from_quote_bars(db_path):
    """A pair whose legs have quote seconds at its last bar gets analytics.pair_costs' round trip;
    the others stay without a cost."""
    universe = simulate_universe(3, 1, 300, seed=7)
    _write(db_path, universe)
    conn = store.open_writer_as_recorded(db_path)
    last = int(universe.bars["P00A"]["ts_ms"].iloc[-1])
    with store.atomic(conn):
        for symbol in ("P00A", "P00B"):
            close = float(universe.bars[symbol]["close"].iloc[-1])
            store.store_quote_bars(conn, [(symbol, last + 59_000, close - 0.01, close + 0.01, 5.0, 5.0, 0.02, 0.02, 1)])
    settings = scanner.ScanSettings(lookback_ms=300 * 60_000, hedge_window=100, workers=1)  # a beta on bar 300
    ranked, _ = scanner.service.compute(conn, settings)
    conn.close()
    by_pair = {(a, b): cost for a, b, cost in zip(ranked["symbol_a"], ranked["symbol_b"], ranked["round_trip_bps"])}
    assert np.isnan(by_pair[("P00A", "R00")]) and np.isnan(by_pair[("P00B", "R00")])
    row = ranked[(ranked["symbol_a"] == "P00A") & (ranked["symbol_b"] == "P00B")].iloc[0]
    quotes = {s: analytics.quote_bars_at(pd.DataFrame({"ts_ms": [last + 59_000], "bid": [c - 0.01], "ask": [c + 0.01],
                                                       "bid_qty": [5.0], "ask_qty": [5.0], "mean_spread": [0.02],
                                                       "max_spread": [0.02], "updates": [1]}), "1m")
              for s, c in ((s, float(universe.bars[s]["close"].iloc[-1])) for s in ("P00A", "P00B"))}
    panel = pd.DataFrame({"ts_ms": [int(row["last_ms"])], "hedge_ratio": [row["beta"]]})
    expected = analytics.pair_costs(quotes["P00A"], quotes["P00B"], panel, 10_000.0)["round_trip_bps"].iloc[0]
    assert np.isfinite(expected) and row["round_trip_bps"] == pytest.approx(expected, rel=1e-12)


def test_a_scan_of_real_recorded_trades(tmp_path):
    """The recorded BTC/ETH spot trades (2 minutes of 1 s bars): one pair, the desk's own figures on
    those bars (two-way Engle-Granger, the panel's z of the last bar), stored and read back."""
    from test_app import build_real_db

    path = build_real_db(tmp_path / "ticks.db")
    settings = scanner.ScanSettings(timeframe="1s", lookback_ms=3_600_000, window=20, hedge_window=40, workers=1)
    scan_id = scanner.run_scan(path, settings)
    conn = store.open_reader(path)
    row = store.read_scan_results(conn, scan_id).iloc[0]
    bars = [store.read_bars_1s(conn, s) for s in ("BTCUSDT", "ETHUSDT")]
    conn.close()
    panel = analytics.pair_panel(*bars, "1s", 20, "rolling", hedge_window=40)
    last = panel[panel["segment"] == panel["segment"].iloc[-1]]
    lags = analytics.scan.scan_adf_lags(len(last))
    forward = analytics.engle_granger_test(last["price_a"], last["price_b"], maxlag=lags).pvalue
    reverse = analytics.engle_granger_test(last["price_b"], last["price_a"], maxlag=lags).pvalue
    assert (row["symbol_a"], row["symbol_b"], row["rows"]) == ("BTCUSDT", "ETHUSDT", len(last))
    assert row["p_value"] == pytest.approx(max(forward, reverse), rel=1e-8)
    assert row["zscore"] == pytest.approx(panel["zscore"].iloc[-1], rel=1e-9)
    assert row["q_value"] == pytest.approx(row["p_value"]) and np.isnan(row["round_trip_bps"])
