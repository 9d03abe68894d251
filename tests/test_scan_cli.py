"""``analytics_engine.py scan``: one CSV row per pair, best first, with the issue's columns, the same
rows the store then holds; bad input is a one-line error; the export CLI is unchanged."""
from __future__ import annotations

import csv

import pytest

from pairdesk import analytics_cli, scanner, store
from scan_universe import simulate_universe


@pytest.fixture
def universe_db(db_path):
    universe = simulate_universe(6, 2, 1_200, seed=8)
    for symbol, bars in universe.bars.items():
        store.write_bars(db_path, symbol, bars.itertuples(index=False, name=None))
    return db_path, universe


def _scan(db_path, tmp_path, *extra: str) -> list[dict]:
    out = tmp_path / "scan.csv"
    assert analytics_cli.main(["scan", "--db", str(db_path), "--timeframe", "1m", "--lookback", "20h",
                               "--workers", "1", "--out", str(out), *extra]) == 0
    with out.open() as handle:
        return list(csv.DictReader(handle))


def test_scan_writes_one_row_per_pair_best_first(universe_db, tmp_path):
    """15 pairs of 6 symbols, the issue's columns first among them, ranks 1..15, planted pairs on top."""
    db_path, universe = universe_db
    rows = _scan(db_path, tmp_path)
    assert len(rows) == 15 and list(rows[0]) == store.SCAN_RESULT_COLUMNS
    for column in ("symbol_a", "symbol_b", "p_value", "q_value", "significant", "half_life", "return_corr", "zscore"):
        assert column in rows[0]
    assert [int(row["rank"]) for row in rows] == list(range(1, 16))
    assert {row["significant"] for row in rows} <= {"true", "false"}
    assert {(row["symbol_a"], row["symbol_b"]) for row in rows[:2]} == set(universe.planted)
    assert all(row["significant"] == "true" for row in rows[:2])


def test_scan_csv_rows_are_the_stored_rows(universe_db, tmp_path, capsys):
    """The CSV is the stored scan's rows (scanner.scan_rows), written with true/false and empty cells."""
    db_path, _ = universe_db
    rows = _scan(db_path, tmp_path, "--symbols", "P00A,P00B,R00")
    assert "3 pairs" in capsys.readouterr().err
    conn = store.open_reader(db_path)
    stored = scanner.scan_rows(store.read_scan_results(conn, store.latest_scan(conn)["scan_id"]))
    conn.close()
    assert [{k: scanner.rows._cell(v) for k, v in row.items()} for row in stored] == rows


@pytest.mark.parametrize("args, words", [
    (["--lookback", "soon"], "positive duration"),
    (["--symbols", "P00A,NOPE"], "no bars for NOPE"),
    (["--fdr", "2"], "fdr_level"),
])
def test_scan_bad_input_is_one_line(universe_db, tmp_path, capsys, args, words):
    """A bad lookback, symbol or level exits non-zero with one line naming it."""
    db_path, _ = universe_db
    with pytest.raises(SystemExit) as stop:
        analytics_cli.main(["scan", "--db", str(db_path), "--out", str(tmp_path / "x.csv"), *args])
    message = str(stop.value.code) if not isinstance(stop.value.code, int) else capsys.readouterr().err
    assert stop.value.code != 0 and words in message and len(message.strip().splitlines()) == 1


def test_scan_of_a_missing_database_is_one_line(tmp_path):
    """A database that does not exist is a one-line error, and no file is created."""
    with pytest.raises(SystemExit, match="no such database"):
        analytics_cli.main(["scan", "--db", str(tmp_path / "none.db"), "--out", str(tmp_path / "x.csv")])
    assert not (tmp_path / "none.db").exists()


def test_scan_help_documents_every_option(capsys):
    """scan --help names every option its parser accepts, each with a help text."""
    with pytest.raises(SystemExit):
        analytics_cli.main(["scan", "--help"])
    shown = capsys.readouterr().out
    for action in analytics_cli._build_scan_parser()._actions:
        assert action.help and all(option in shown for option in action.option_strings)
