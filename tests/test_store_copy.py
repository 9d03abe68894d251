"""``data_ingestor.py copy``: a real database copied SQLite -> PostgreSQL and back, read back identical
through every store reader; run twice it adds nothing; killed or stopped midway it resumes to the same
result; a target of another market, a broken source or an unreachable server is a one-line error that
writes nothing; the verification finds a one-ulp difference."""
from __future__ import annotations

import io
import math
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO_ROOT, binance_file
from pairdesk import store
from pairdesk.history.importer import import_file
from pairdesk.ingest import cli
from pairdesk.ingest.copy_cli import ProgressLine
from pairdesk.store import copying
from quote_db import MIDNIGHT_MS, build_quote_db

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT")
HOUR_MS = 3_600_000
# Floats whose every digit matters (no short decimal form): thirds, pi, sums that round.
AWKWARD = [("XRPUSDT", 7_000_000 + i, MIDNIGHT_MS - HOUR_MS + i * 250, (1 + i) / 3, math.pi / (i + 7), i % 2)
           for i in range(40)]
KLINES_HEADER = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
                 "taker_buy_quote_volume,ignore\n")


def _klines(path: Path, symbol: str, first_ms: int, minutes: int) -> Path:
    """A USD-M 1m klines dump (header, ms times): uploaded bars, stored with -1 trade ids."""
    lines = [f"{first_ms + m * 60_000},{100 + m / 7},{101 + m / 7},{99 + m / 7},{100.5 + m / 7},{m + 0.1},"
             f"{first_ms + m * 60_000 + 59_999},{(m + 0.1) * 100.3},{m + 3},0,0,0\n" for m in range(minutes)]
    path.write_text(KLINES_HEADER + "".join(lines))
    return path


def _scan_row(rank: int) -> tuple:
    return (rank, "BTCUSDT", "ETHUSDT", 0.0123456789 / rank, 0.02, True, 0.05, True, 12.3, 10.1, 15.2, True, 0.91,
            -1.7, 19.1, 1 / 3, 1, 0.01, 0.02, -3.9, 0.04, float("nan"), 2.2, 1.1, 0.5, None, 7, 44, MIDNIGHT_MS, "ok")


def build_source(path: Path) -> Path:
    """A futures database of real recorded trades and quotes (``quote_db``), with awkward floats, uploaded
    klines (one symbol has bars only), gaps, feed status, watchlist, a paused symbol, alert rules and
    events, hourly summaries, scans and the meta keys the ingestor records."""
    build_quote_db(path)
    store.write_trades(path, AWKWARD, market="futures", stream="trade")
    import_file(path, _klines(path.with_name("BTCUSDT-1m-2024-08-08.csv"), "BTCUSDT", MIDNIGHT_MS - 2 * HOUR_MS, 10))
    import_file(path, _klines(path.with_name("SOLUSDT-1m-2024-08-08.csv"), "SOLUSDT", MIDNIGHT_MS - 2 * HOUR_MS, 5))
    with store.write_session(path) as conn:
        store.open_gap(conn, "BTCUSDT", 5_266_602_800, 5_266_602_849, "start-up")
        store.close_gap(conn, "BTCUSDT", 5_266_602_800, "filled", 50, "historicalTrades")
        store.open_gap(conn, "ETHUSDT", 4_308_082_599, 4_308_082_610, "id jump")
        store.record_paused_gap(conn, "ETHUSDT", 4_308_082_700, 4_308_082_720, "paused")
        for symbol in ("BTCUSDT", "ETHUSDT"):
            store.upsert_status(conn, symbol, state="live", transport="ws", last_trade_ms=MIDNIGHT_MS,
                                last_trade_id=42, messages=1000, trades=990, bad_frames=1, message_rate=1 / 3,
                                detail='{"junk": 1}', duplicate_rate=0.1)
        store.replace_watchlist(conn, ["BTCUSDT", "ETHUSDT"])
        store.set_collection(conn, ["ETHUSDT"], paused=True)
        store.record_rest_url(conn, "https://fapi.binance.com")
        store.record_refusals(conn, {"NOPEUSDT": "not TRADING"})
        rule = {"name": "z", "kind": "zscore", "symbols": "BTCUSDT/ETHUSDT", "timeframe": "1s", "window": 30,
                "hedge": "rolling", "params": {"threshold": 2.5}, "cooldown_s": 60.0, "notify": ["json://x"],
                "enabled": True}
        rules = store.seed_alert_rules(conn, [rule, {**rule, "name": "off", "enabled": False, "window": 60}])
        ids = store.save_alert_progress(conn, [
            {"ts_ms": MIDNIGHT_MS - 1000 * s, "rule_id": rules[0], "rule_name": "z", "kind": "zscore",
             "symbols": "BTCUSDT/ETHUSDT", "timeframe": "1s", "value": 2.5 + 1 / (s + 3), "threshold": 2.5,
             "direction": "UP", "message": f"z crossed {s}"} for s in range(3)],
            {rules[0]: (store.read_alert_rule_rows(conn)[0]["updated_ms"], '{"last": 1}')})
        store.acknowledge_alert_events(conn, ids[:1])
        store.set_alert_delivery(conn, ids[1], "sent")
        store.write_hourly_summaries(conn, "BTCUSDT,ETHUSDT", "1s", [(MIDNIGHT_MS - HOUR_MS, '{"corr": 0.1234}')])
        done = store.begin_scan(conn, "1s", 60_000, {"fdr_level": 0.05}, 4242)
        store.finish_scan(conn, done, ["BTCUSDT", "ETHUSDT"], MIDNIGHT_MS - 60_000, MIDNIGHT_MS,
                          [_scan_row(1), _scan_row(2)])
        store.fail_scan(conn, store.begin_scan(conn, "1m", 60_000, {}, 4243), "no bars for NOPEUSDT")
    return path


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> str:
    """The source database, built once per module (tests copy it, never change it)."""
    return str(build_source(tmp_path_factory.mktemp("source") / "source.db"))


def _plain(frame: pd.DataFrame) -> dict:
    """A frame as comparable values: its dtypes and its columns, NaN / NA as None."""
    return {"dtypes": {c: str(t) for c, t in frame.dtypes.items()},
            "values": {c: [None if pd.isna(v) else v for v in frame[c].tolist()] for c in frame.columns}}


def everything(db: str) -> dict:
    """What every store reader returns from ``db``."""
    conn = store.open_reader(db)
    try:
        out = {"symbols": store.list_symbols(conn), "extents": store.read_symbol_extents(conn),
               "bounds": store.bar_bounds_by_symbol(conn),
               "meta": {k: v for k, v in store.read_metadata(conn).items() if k not in copying.NOT_COPIED_META},
               "gaps": _plain(store.read_gaps(conn)), "spans": _plain(store.read_gap_spans(conn, SYMBOLS)),
               "open gaps": store.list_open_gaps(conn), "quote gaps": _plain(store.read_quote_gaps(conn, SYMBOLS)),
               "feed": _plain(store.read_feed_status(conn)), "followed": store.followed_symbols(conn),
               "rules": store.read_alert_rule_rows(conn), "events": _plain(store.read_alert_events(conn)),
               "firings": store.read_rule_firings(conn), "last event": store.last_alert_event_id(conn),
               "watchlist": store.read_watchlist(conn), "collection": store.read_collection(conn),
               "paused": store.paused_symbols(conn), "hourly": store.read_hourly_summaries(conn),
               "scans": store.read_scans(conn), "latest scan": store.latest_scan(conn),
               "refusals": store.read_refusals(conn), "rest url": store.read_rest_url(conn)}
        for scan in out["scans"]:
            out[f"results {scan['scan_id']}"] = _plain(store.read_scan_results(conn, scan["scan_id"]))
        for symbol in SYMBOLS:
            out[symbol] = {
                "bars": _plain(store.read_bars_1s(conn, symbol)), "trades": _plain(store.read_trades(conn, symbol)),
                "page": store.read_trade_page(conn, symbol, 0, 2**62, 10**6),
                "last": store.last_trade_id(conn, symbol), "ids": store.trade_id_bounds(conn, symbol),
                "closes": _plain(store.read_closes(conn, symbol, 60_000)),
                "quotes": _plain(store.read_quotes(conn, symbol)), "marks": _plain(store.read_marks(conn, symbol)),
                "funding": _plain(store.read_funding(conn, symbol)), "quote range": store.quote_time_range(conn, symbol),
                "since 0": _plain(store.read_bars_since(conn, symbol, 0)[0]),
            }
        return out
    finally:
        conn.close()


def copy(src: str, dst: str, *extra: str) -> int:
    return cli.main(["copy", "--from", src, "--to", dst, *extra])


def _one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("data_ingestor.py copy:")]
    assert len(err) == 1, err
    return err[0]


def test_a_copy_to_postgresql_and_back_reads_back_identical(source, pg_url, tmp_path, capsys) -> None:
    """SQLite -> PostgreSQL -> a new SQLite file: every reader returns the same on all three, the
    verification table lists every table, and bars carry fresh revisions a reader can follow."""
    original = everything(source)
    assert original["SOLUSDT"]["bars"]["values"]["trades"] and not original["SOLUSDT"]["trades"]["values"]["trade_id"]
    assert copy(source, pg_url) == 0
    out = capsys.readouterr().out
    assert "verified:" in out and "DIFFERS" not in out
    assert {line.split()[0] for line in out.splitlines()[1:-1] if line.strip()} >= {t.name for t in copying.TABLES}
    assert everything(pg_url) == original
    back = str(tmp_path / "back.db")
    assert copy(pg_url, back) == 0
    assert everything(back) == original
    conn = store.open_reader(pg_url)
    try:
        frame, rev = store.read_recent_bars(conn, "BTCUSDT", 10**12)
        assert rev > 0 and len(frame) == len(original["BTCUSDT"]["bars"]["values"]["ts_ms"])
    finally:
        conn.close()


def test_a_second_copy_adds_nothing(source, database, capsys) -> None:
    """Run twice into the same target (either backend): the second adds no row and changes no bar."""
    assert copy(source, database) == 0
    first = everything(database)
    conn = store.open_reader(database)
    revs = {s: store.read_recent_bars(conn, s, 10**12)[1] for s in SYMBOLS}
    conn.close()
    capsys.readouterr()
    assert copy(source, database) == 0
    assert ": 0 rows added" in capsys.readouterr().out
    assert everything(database) == first
    conn = store.open_reader(database)
    try:
        assert all(store.read_bars_since(conn, s, revs[s])[0].empty for s in SYMBOLS)
    finally:
        conn.close()


def test_new_ids_on_postgresql_continue_after_the_copied_ones(source, pg_url) -> None:
    """The identity sequences were moved past the copied ids: the next rule, event, gap and scan get max + 1."""
    assert copy(source, pg_url, "--no-verify") == 0
    before = everything(pg_url)
    with store.write_session(pg_url) as conn:
        rule = store.insert_alert_rule(conn, {**before["rules"][0], "name": "new"})
        [event] = store.save_alert_progress(conn, [{"ts_ms": MIDNIGHT_MS, "rule_id": rule, "rule_name": "new",
                                                    "kind": "zscore", "symbols": "BTCUSDT/ETHUSDT", "timeframe": "1s",
                                                    "value": 3.0, "threshold": 2.5, "direction": "UP",
                                                    "message": "m"}], {})
        store.open_gap(conn, "XRPUSDT", 1, 2, "new")
        scan = store.begin_scan(conn, "1m", 60_000, {}, 1)
    after = everything(pg_url)
    assert rule == max(r["rule_id"] for r in before["rules"]) + 1
    assert event == before["last event"] + 1
    assert after["gaps"]["values"]["gap_id"][-1] == max(before["gaps"]["values"]["gap_id"]) + 1
    assert scan == max(s["scan_id"] for s in before["scans"]) + 1


def _copy_process(src: str, dst: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "data_ingestor.py", "copy", "--from", src, "--to", dst, "--batch", "1",
                             "--no-verify"], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _trades_stored(db: str, symbol: str) -> int:
    """How many trades of ``symbol`` the target holds so far (0 while it has no schema yet)."""
    try:
        conn = store.open_reader(db)
    except store.StoreError:
        return 0
    try:
        return len(store.read_trade_page(conn, symbol, 0, 2**62, 10**6))
    finally:
        conn.close()


def _wait_for_first_chunk(proc: subprocess.Popen, db: str) -> None:
    deadline = time.monotonic() + 60
    while _trades_stored(db, "BTCUSDT") == 0:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the copy wrote no chunk within 60 s"
        time.sleep(0.01)


@pytest.mark.parametrize("how", ["kill -9", "Ctrl+C"])
def test_an_interrupted_copy_resumes_to_the_same_result(source, pg_url, how, capsys) -> None:
    """A copy killed (SIGKILL) or stopped (SIGINT) after its first chunk leaves part of the trades; run
    again, it completes and verifies, identical to the source."""
    proc = _copy_process(source, pg_url)
    _wait_for_first_chunk(proc, pg_url)
    if how == "kill -9":
        proc.kill()
        proc.communicate()
    else:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 1
        last = err.strip().splitlines()[-1]
        assert last.startswith("data_ingestor.py copy: stopped after a committed chunk of trade_rows BTCUSDT")
        assert last.endswith("run the same command again to resume")
    assert 0 < _trades_stored(pg_url, "BTCUSDT") < 2398  # the recording holds 2,398 BTCUSDT futures trades
    assert copy(source, pg_url) == 0
    assert "verified:" in capsys.readouterr().out
    assert everything(pg_url) == everything(source)


def test_a_target_of_another_market_is_refused_and_left_as_it_was(source, database, capsys) -> None:
    """A spot aggTrade database (the real trimmed dump imported) refuses a futures copy: one line, exit 2."""
    import_file(database, binance_file("HJB-PDE-TEAM-PROJECT/BTCUSDT-aggTrades-2026-01-01.csv"))
    capsys.readouterr()
    before = everything(database)
    assert copy(source, database) == 2
    assert "holds spot aggTrade data; refusing to store futures trade data" in _one_error_line(capsys)
    assert everything(database) == before


def test_a_target_with_other_data_of_the_same_market_is_refused(source, database, capsys) -> None:
    """A futures database that was not copied from the source is refused (its rows would mix): nothing written."""
    store.write_trades(database, AWKWARD[:3], market="futures", stream="trade", source="local")
    before = everything(database)
    assert copy(source, database) == 2
    assert "already holds data that was not copied from" in _one_error_line(capsys)
    assert everything(database) == before


def test_broken_or_unreachable_sources_are_one_line_errors(tmp_path, unused_port, capsys) -> None:
    """A file that is no database, a missing file, an unreachable server, the same database twice:
    one line each, exit 2, no target created."""
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    target = tmp_path / "target.db"
    cases = [(str(junk), "not a tick database"), (str(tmp_path / "missing.db"), "no such database"),
             (f"postgresql://postgres@127.0.0.1:{unused_port}/ticks", "cannot connect to PostgreSQL")]
    for src, message in cases:
        assert copy(src, str(target)) == 2
        assert message in _one_error_line(capsys)
        assert not target.exists()
    assert copy(str(junk), str(junk)) == 2
    assert "name the same database" in _one_error_line(capsys)


def test_the_verification_finds_one_changed_digit(source, database, capsys) -> None:
    """A trade price moved by one ulp in the target after a copy: the next copy's verification says which
    table and symbol differ (the row digest), and exits 1."""
    assert copy(source, database, "--no-verify") == 0
    conn = store.open_writer(database, "futures", "trade")
    try:
        with store.atomic(conn):
            conn.execute("UPDATE trade_rows SET price = ? WHERE trade_id = ?",
                         (math.nextafter(AWKWARD[5][3], math.inf), AWKWARD[5][1]))
    finally:
        conn.close()
    capsys.readouterr()
    assert copy(source, database) == 1
    captured = capsys.readouterr()
    assert "DIFFERS" in captured.out
    assert _one_error_line_of(captured.err) == "data_ingestor.py copy: error: trade_rows XRPUSDT differs: row digest"


def _one_error_line_of(err: str) -> str:
    [line] = [line for line in err.splitlines() if line.startswith("data_ingestor.py copy:")]
    return line


def test_every_table_and_column_of_the_schema_is_copied(tmp_path, pg_url) -> None:
    """The copy's table list covers each stored table and column, on SQLite and on PostgreSQL: a new
    migration that adds one fails here until the copy knows it."""
    expected = {t.name: {*t.copied, *(("sym_id",) if t.by_symbol else ()), *(("rev",) if t.fresh_rev else ())}
                for t in copying.TABLES}
    expected.update(meta={"key", "value"}, symbols={"sym_id", "symbol"})
    store.open_writer(tmp_path / "x.db", "spot", "trade").close()
    raw = sqlite3.connect(tmp_path / "x.db")
    tables = [name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert {name: {row[1] for row in raw.execute(f"PRAGMA table_info({name})")} for name in tables} == expected
    raw.close()
    conn = store.open_writer(pg_url, "spot", "trade")
    try:
        rows = conn.execute(
            "SELECT c.relname, a.attname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') "
            "AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped").fetchall()
    finally:
        conn.close()
    found: dict[str, set] = {}
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    assert found == expected


def test_progress_is_one_line_in_place_on_a_terminal_and_a_line_every_5_s_otherwise() -> None:
    """Rows done / in all, rows/s and ETA; rewritten in place (\\r) on a terminal, else every 5 s of the clock."""
    now = [0.0]
    log = io.StringIO()
    line = ProgressLine(log, clock=lambda: now[0], tty=False)
    for step in range(1, 13):
        now[0] = step * 1.0
        line.update("trade_rows", "BTCUSDT", step * 1000, 20_000)
    line.finish()
    assert log.getvalue().splitlines() == [
        "copy trade_rows BTCUSDT: 6,000 / 20,000 rows (30%), 1,000 rows/s, ETA 0:00:14",
        "copy trade_rows BTCUSDT: 11,000 / 20,000 rows (55%), 1,000 rows/s, ETA 0:00:09",
        "copy trade_rows: 12,000 / 20,000 rows (60%), 1,000 rows/s, ETA 0:00:08",
    ]
    screen = io.StringIO()
    line = ProgressLine(screen, clock=lambda: now[0], tty=True)
    line.update("bar_rows", "", 0, 10)
    now[0] += 1
    line.update("bar_rows", "ETHUSDT", 10, 10)
    line.finish()
    assert screen.getvalue() == ("\rcopy bar_rows: 0 / 10 rows (0%), 0 rows/s, ETA -\x1b[K"
                                 "\rcopy bar_rows ETHUSDT: 10 / 10 rows (100%), 10 rows/s, done\x1b[K"
                                 "\rcopy bar_rows: 10 / 10 rows (100%), 10 rows/s, done\x1b[K\n")


def test_a_target_being_written_by_another_copy_is_refused(source, database, capsys) -> None:
    """While one copy writes a target (either backend), a second one into it is refused in one line."""
    with store.open_copy(source, database):
        assert copy(source, database) == 2
    expected = "another copy is writing into it" if store.is_url(database) else "is already written by copy pid"
    assert expected in _one_error_line(capsys)
