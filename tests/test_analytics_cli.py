"""analytics_engine.py (the export CLI), run as a subprocess on a real SQLite tick database holding the recorded
BTCUSDT / ETHUSDT trades, and its agreement with an independent recomputation from that database."""
from __future__ import annotations

import sqlite3
from contextlib import closing
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from pairdesk import analytics, analytics_cli
from pairdesk import store
from conftest import REPO_ROOT
from test_analytics import (assert_close, assert_matches_independent, independent_panel, recorded_trades,
                            residual_window_z)

SYMBOLS = ("BTCUSDT", "ETHUSDT")


@pytest.fixture(scope="module")
def real_db(tmp_path_factory) -> Path:
    """A tick database written by tickstore from the recorded real trades of both symbols."""
    path = tmp_path_factory.mktemp("analytics_cli") / "ticks.db"
    rows = [(symbol, int(t.trade_id), int(t.ts_ms), float(t.price), float(t.qty), bool(t.is_buyer_maker))
            for symbol in SYMBOLS for t in recorded_trades(symbol).itertuples()]
    assert store.write_trades(path, rows) == len(rows)
    return path


def db_trades(path: Path, symbol: str) -> pd.DataFrame:
    """The symbol's trades read with plain sqlite3 from the database's trades view."""
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
        return pd.read_sql_query("SELECT trade_id, ts_ms, price, qty FROM trades WHERE symbol = ? ORDER BY trade_id",
                                 conn, params=[symbol])


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO_ROOT / "analytics_engine.py"), *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


def export(db: Path, out: Path, *extra: str, symbols: str = "BTCUSDT,ETHUSDT") -> pd.DataFrame:
    """Run an export and read the CSV back."""
    result = run_cli("--db", str(db), "--symbols", symbols, "--out", str(out), *extra)
    assert result.returncode == 0, result.stderr
    return pd.read_csv(out)


def test_export_matches_an_independent_recomputation_from_the_database(real_db, tmp_path):
    """CSV columns, ts_ms, prices (exact), the causal rolling hedge and spread and z / corr match
    pandas + statsmodels recomputed row by row from the database's trades."""
    for timeframe, window, hedge_window in [("1s", 20, 40), ("5s", 5, 10)]:
        csv = export(real_db, tmp_path / f"{timeframe}.csv", "--timeframe", timeframe, "--window", str(window),
                     "--hedge-window", str(hedge_window), symbols="btcusdt, ethusdt")
        expected = independent_panel(db_trades(real_db, "BTCUSDT"), db_trades(real_db, "ETHUSDT"), timeframe, window,
                                     hedge_window)
        assert list(csv.columns) == analytics.CLI_COLUMNS and len(csv) == len(expected)
        assert_matches_independent(csv, expected)
        assert csv["zscore"].iloc[:hedge_window].isna().all() and csv["zscore"].iloc[hedge_window:].notna().all()


def test_export_writes_the_panel_at_full_precision_with_empty_nan_cells(real_db, tmp_path):
    """Every float read back is bit-identical to pair_panel on the database's bars; NaN is an empty cell."""
    out = tmp_path / "panel.csv"
    csv = export(real_db, out, "--window", "30", "--hedge-window", "40", "--max-stale", "5")
    with closing(store.open_reader(real_db)) as conn:
        bars = [store.read_bars_1s(conn, symbol) for symbol in SYMBOLS]
    panel = analytics.pair_panel(*bars, "1s", 30, "rolling", 5, hedge_window=40)[analytics.CLI_COLUMNS]
    pd.testing.assert_frame_equal(csv, panel, check_exact=True)
    first_row = dict(zip(analytics.CLI_COLUMNS, out.read_text().splitlines()[1].split(",")))
    assert first_row["zscore"] == first_row["corr"] == first_row["return_corr"] == ""
    assert "nan" not in out.read_text().lower()


def test_rolling_export_uses_the_ols_of_the_hedge_window_before_each_row(real_db, tmp_path):
    """With --hedge rolling, row t's beta is statsmodels OLS on rows t-H..t-1 (NaN before), the spread
    is the residual with that fit's intercept, z is against that fit's residuals over the window."""
    window, hedge_window = 20, 30
    csv = export(real_db, tmp_path / "rolling.csv", "--window", str(window), "--hedge-window", str(hedge_window))
    a, b = csv["price_a"].to_numpy(), csv["price_b"].to_numpy()
    assert csv[["hedge_ratio", "spread", "zscore"]].iloc[:hedge_window].isna().all().all()
    for t in range(hedge_window, len(csv)):
        fit = sm.OLS(a[t - hedge_window:t], sm.add_constant(b[t - hedge_window:t], has_constant="add")).fit()
        assert csv["hedge_ratio"].iloc[t] == pytest.approx(fit.params[1], rel=1e-8)
        assert csv["alpha"].iloc[t] == pytest.approx(fit.params[0], rel=1e-8)
    assert_close(csv["spread"], a - csv["alpha"].to_numpy() - csv["hedge_ratio"].to_numpy() * b, rtol=1e-9, atol=1e-9)
    assert_close(csv["zscore"], residual_window_z(csv, window), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("hedge", ["expanding", "huber", "theilsen", "kalman", "ols_insample"])
def test_other_hedges_export_their_hedge_ratio(real_db, tmp_path, hedge):
    """Every hedge exports its per-row (alpha, beta) and the residual spread; only ols_insample is constant."""
    csv = export(real_db, tmp_path / f"{hedge}.csv", "--hedge", hedge, "--hedge-window", "30")
    assert list(csv.columns) == analytics.CLI_COLUMNS and csv["hedge_ratio"].iloc[31:].notna().all()
    assert (csv["hedge_ratio"].nunique() == 1) == (hedge == "ols_insample")
    assert_close(csv["spread"], csv["price_a"] - csv["alpha"] - csv["hedge_ratio"] * csv["price_b"],
                 rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("args", "message"), [
    (["--symbols", "BTCUSDT,DOGEUSDT"], "symbol DOGEUSDT is not in"),
    (["--symbols", "BTCUSDT"], "exactly two symbols"),
    (["--symbols", "BTCUSDT,btcusdt"], "two different symbols"),
    (["--timeframe", "7s"], "invalid choice: '7s'"),
    (["--window", "1"], "--window and --hedge-window must be integers >= 2"),
    (["--hedge-window", "1"], "--window and --hedge-window must be integers >= 2"),
    (["--window", "2.5"], "invalid int value: '2.5'"),
    (["--window", "ten"], "invalid int value: 'ten'"),
    (["--max-stale", "-1"], "--max-stale must be a number of seconds >= 0"),
    (["--hedge", "tls"], "invalid choice: 'tls'"),
    (["--hedge", "ols"], "invalid choice: 'ols'"),
    (["--spread", "diff"], "invalid choice: 'diff'"),
])
def test_bad_arguments_are_one_line_errors(real_db, tmp_path, args, message):
    """A bad symbol, timeframe, window or option gives one stderr line, no traceback, exit status 2."""
    out = tmp_path / "never.csv"
    base = {"--db": str(real_db), "--symbols": "BTCUSDT,ETHUSDT", "--out": str(out)}
    base.update(dict(zip(args[::2], args[1::2])))
    result = run_cli(*[item for pair in base.items() for item in pair])
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("kind", ["missing", "not a database"])
def test_unusable_database_is_a_one_line_error(tmp_path, kind):
    """A missing file or a file that is not a tick database gives one stderr line and a non-zero exit."""
    db = tmp_path / "ticks.db"
    if kind == "not a database":
        db.write_text("hello\n")
    result = run_cli("--db", str(db), "--symbols", "BTCUSDT,ETHUSDT", "--out", str(tmp_path / "x.csv"))
    assert result.returncode != 0 and str(db) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_help_documents_every_option():
    """--help names every option the parser accepts, each with a help text."""
    result = run_cli("--help")
    assert result.returncode == 0
    options = [option for action in analytics_cli._build_parser()._actions for option in action.option_strings]
    for option in ["--db", "--symbols", "--timeframe", "--window", "--hedge", "--hedge-window", "--spread", "--max-stale",
                   "--out"]:
        assert option in options
    for action in analytics_cli._build_parser()._actions:
        assert action.help and all(option in result.stdout for option in action.option_strings)


@pytest.mark.parametrize("timeframe", list(analytics.TIMEFRAME_MS))
def test_stored_1s_bars_resample_to_the_bars_of_the_stored_trades(real_db, timeframe):
    """tickstore's 1 s bars resampled equal bars built from the stored trades (OHLC and counts exact)."""
    with closing(store.open_reader(real_db)) as conn:
        for symbol in SYMBOLS:
            from_bars = analytics.resample_bars(store.read_bars_1s(conn, symbol), timeframe)
            from_trades = analytics.bars_from_trades(store.read_trades(conn, symbol), timeframe)
            pd.testing.assert_frame_equal(from_bars, from_trades, rtol=1e-12, check_exact=False)
            for column in ("ts_ms", "open", "high", "low", "close", "trades"):
                np.testing.assert_array_equal(from_bars[column], from_trades[column])
