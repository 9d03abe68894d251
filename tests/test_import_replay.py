"""Bulk import of Binance dumps (``data_ingestor.py import``) and replay through the live pipeline."""
from __future__ import annotations

import hashlib
import itertools
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
from conftest import REPO_ROOT, binance_file
from recordings import dump_rows, recorded_frames, trade_count
from test_ingestor import IngestorProcess, no_ingestor_left_behind, wait_until  # noqa: F401 (fixture)

from bench.bench_import import write_spot_trades
from pairdesk import binance, history, store
from pairdesk.history import storing
from pairdesk.sim.exchange import ExchangeSim, run_in_thread

AGG_DUMP = "HJB-PDE-TEAM-PROJECT/BTCUSDT-aggTrades-2026-01-01.csv"
AGG_ROWS = len(dump_rows(AGG_DUMP))  # 5,000 in the full sample (agg ids 3800397495.. contiguous)
ALL_TRADES = "SELECT symbol, trade_id, ts_ms, price, qty, is_buyer_maker FROM trades ORDER BY symbol, trade_id"


def run_import(db: Path, *files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO_ROOT / "data_ingestor.py"), "import", "--db", str(db),
                           *map(str, files)], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)


def rows(db: Path, sql: str = ALL_TRADES) -> list[tuple]:
    conn = store.open_reader(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def stored_count(db: Path) -> int:
    """Rows stored so far; 0 while the ingestor is still creating the database."""
    try:
        return len(rows(db))
    except (store.StoreError, *store.database_errors()):
        return 0


def futures_trades_dump(tmp_path: Path) -> Path:
    """A futures trades dump with a header and true/false, synthesized from the recorded futures frames."""
    trades = [t for f in recorded_frames(binance_file("hftbacktest/usdm/ethusdt_20240808.gz"))
              if isinstance(t := binance.parse_message(f, "trade"), binance.Trade)]
    path = tmp_path / "ETHUSDT-trades-2024-08-08.csv"
    lines = ["id,price,qty,quote_qty,time,is_buyer_maker"]
    lines += [f"{t.trade_id},{t.price:.2f},{t.qty:.3f},{t.price * t.qty:.5f},{t.ts_ms},{str(t.is_buyer_maker).lower()}"
              for t in reversed(trades)]  # some monthly futures files are unsorted
    path.write_text("\n".join(lines) + "\n")
    return path


def test_real_spot_agg_trades_dump_imports_exactly_once(db_path):
    """The real aggTrades sample: 5,000 rows, then 0 new on the second import; bars filled; µs -> ms."""
    dump = binance_file(AGG_DUMP)
    first = run_import(db_path, dump)
    assert first.returncode == 0, first.stderr
    assert f"{AGG_ROWS:,} rows, {AGG_ROWS:,} new trades" in first.stdout
    second = run_import(db_path, dump)
    assert second.returncode == 0 and "no new trades" in second.stdout
    stored = rows(db_path)
    assert len(stored) == AGG_ROWS and stored[0][1] == 3800397495 and stored[-1][1] == 3800397495 + AGG_ROWS - 1
    assert stored[0][2] == 1767225600039  # 1767225600039409 µs
    meta = store.read_metadata(store.open_reader(db_path))
    assert (meta["market"], meta["stream"]) == ("spot", "aggTrade")
    bars = rows(db_path, "SELECT sum(trades), count(*) FROM bars_1s")[0]
    assert bars[0] == AGG_ROWS and bars[1] == len({row[2] // 1000 for row in stored})


def test_synthesized_futures_dump_with_header_imports_exactly_once(db_path, tmp_path):
    """A futures trades file with a header, unsorted: exact row count, twice; a futures trade database."""
    dump = futures_trades_dump(tmp_path)
    assert run_import(db_path, dump).returncode == 0
    assert "no new trades" in run_import(db_path, dump).stdout
    assert len(rows(db_path)) == trade_count("hftbacktest/usdm/ethusdt_20240808.gz")
    meta = store.read_metadata(store.open_reader(db_path))
    assert (meta["market"], meta["stream"]) == ("futures", "trade")


def test_zip_with_checksum_is_verified_and_a_bad_checksum_refused(db_path, tmp_path):
    """A .zip with its .CHECKSUM beside is verified; a wrong checksum stores nothing."""
    dump = binance_file(AGG_DUMP)
    archive = tmp_path / "BTCUSDT-aggTrades-2026-01-01.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.write(dump, dump.name)
    checksum = archive.with_name(archive.name + ".CHECKSUM")
    checksum.write_text("0" * 64 + f"  {archive.name}\n")
    refused = run_import(db_path, archive)
    assert refused.returncode == 2 and "checksum mismatch" in refused.stderr and not db_path.exists()
    checksum.write_text(f"{hashlib.sha256(archive.read_bytes()).hexdigest()}  {archive.name}\n")
    accepted = run_import(db_path, archive)
    assert accepted.returncode == 0 and "sha256 verified" in accepted.stdout
    assert len(rows(db_path)) == AGG_ROWS


def test_broken_file_is_one_line_error_naming_file_and_line_and_stores_nothing(db_path, tmp_path):
    """A bad price on line 21: one-line error with file and line; not one row of the file is stored."""
    store.write_trades(db_path, [], market="spot", stream="aggTrade")
    lines = binance_file(AGG_DUMP).read_text().splitlines()[:30]
    lines[20] = lines[20].replace(lines[20].split(",")[1], "abc", 1)
    broken = tmp_path / "BTCUSDT-aggTrades-2026-01-02.csv"
    broken.write_text("\n".join(lines) + "\n")
    result = run_import(db_path, broken)
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("data_ingestor import: error: ") and str(broken) in error and "line 21" in error
    assert rows(db_path) == []


def test_file_of_the_wrong_market_or_kind_is_refused(db_path, tmp_path):
    """Futures trades into a spot aggTrade database: refused with what to do instead."""
    assert run_import(db_path, binance_file(AGG_DUMP)).returncode == 0
    result = run_import(db_path, futures_trades_dump(tmp_path))
    assert result.returncode == 2 and "futures trades file" in result.stderr
    assert len(rows(db_path)) == AGG_ROWS


# --------------------------------------------------------------------------- large files: streamed

MEMORY_PROBE = """
import resource, subprocess, sys
def peak_kb(db, dump):
    subprocess.run([sys.executable, "data_ingestor.py", "import", "--db", db, dump], check=True,
                   capture_output=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child so far, in KB
print(peak_kb(sys.argv[1], sys.argv[2]), peak_kb(sys.argv[3], sys.argv[4]))
"""
ALL_BARS = "SELECT symbol, ts_ms, open, high, low, close, volume, quote_volume, trades FROM bars_1s ORDER BY ts_ms"


def bars_from_the_file(dump: Path) -> pd.DataFrame:
    """One-second bars computed independently from a spot trades dump (sorted by id and time)."""
    trades = pd.read_csv(dump, header=None, usecols=[0, 1, 2, 4], names=["id", "price", "qty", "time"],
                         skiprows=1 if dump.read_text()[:2] == "id" else 0)
    trades["ts_ms"] = trades["time"] // 1000 // 1000 * 1000
    trades["quote"] = trades["price"] * trades["qty"]
    grouped = trades.groupby("ts_ms")
    return pd.DataFrame({"open": grouped["price"].first(), "high": grouped["price"].max(),
                         "low": grouped["price"].min(), "close": grouped["price"].last(),
                         "volume": grouped["qty"].sum(), "quote_volume": grouped["quote"].sum(),
                         "trades": grouped.size()}).reset_index()


def test_a_large_dump_imports_in_bounded_memory(tmp_path):
    """1,000,000 rows (70 MB): the importer's peak RSS grows by well under half the file over a 1,000-row import."""
    large = write_spot_trades(tmp_path / "BTCUSDT-trades-2025-01-01.csv", 1_000_000)
    small = write_spot_trades(tmp_path / "BTCUSDT-trades-2025-01-02.csv", 1_000, first_id=1)
    probe = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(tmp_path / "small.db"), str(small),
                            str(tmp_path / "large.db"), str(large)], capture_output=True, text=True, timeout=300,
                           cwd=REPO_ROOT)
    assert probe.returncode == 0, probe.stderr
    baseline_kb, peak_kb = map(int, probe.stdout.split())
    growth_bytes = (peak_kb - baseline_kb) * 1024
    assert growth_bytes < large.stat().st_size / 2, f"peak {peak_kb // 1024} MB, baseline {baseline_kb // 1024} MB"
    assert peak_kb < 300 * 1024
    assert rows(tmp_path / "large.db", "SELECT count(*), min(trade_id), max(trade_id) FROM trades") == [
        (1_000_000, 4_200_000_000, 4_200_999_999)]


def test_a_broken_line_near_the_end_of_a_large_file_stores_nothing_and_is_named(db_path, tmp_path):
    """A bad price on line 39,990 of 40,000 (many chunks): exit 2 naming file and line; no trade, no bar stored."""
    store.write_trades(db_path, [], market="spot", stream="trade")
    dump = write_spot_trades(tmp_path / "BTCUSDT-trades-2025-01-01.csv", 40_000)
    assert len(list(history.iter_history(dump))) > 2
    lines = dump.read_text().splitlines(keepends=True)
    lines[39_989] = lines[39_989].replace(lines[39_989].split(",")[1], "61234.5.6", 1)
    dump.write_text("".join(lines))
    result = run_import(db_path, dump)
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()[-1]
    assert error == f"data_ingestor import: error: {dump}: line 39990: price '61234.5.6' is not a number"
    assert rows(db_path) == [] and rows(db_path, ALL_BARS) == []


def test_header_row_spot_trades_dump_imports_exactly_once(db_path, tmp_path):
    """A spot trades dump with the header id,price,qty,...: every row once; importing it again adds nothing."""
    dump = write_spot_trades(tmp_path / "BTCUSDT-trades-2025-01-01.csv", 40_000, header=True)
    first = run_import(db_path, dump)
    assert first.returncode == 0, first.stderr
    assert "spot trades of BTCUSDT, 40,000 rows, 40,000 new trades" in first.stdout
    trades, bars = rows(db_path), rows(db_path, ALL_BARS)
    second = run_import(db_path, dump)
    assert second.returncode == 0 and "40,000 rows, no new trades" in second.stdout
    assert rows(db_path) == trades and rows(db_path, ALL_BARS) == bars
    first_time_us = int(dump.read_text().splitlines()[1].split(",")[4])
    assert len(trades) == 40_000 and trades[0][:3] == ("BTCUSDT", 4_200_000_000, first_time_us // 1000)
    meta = store.read_metadata(store.open_reader(db_path))
    assert (meta["market"], meta["stream"]) == ("spot", "trade")


def test_bars_of_an_import_equal_the_bars_computed_from_its_trades(db_path, tmp_path):
    """Seconds whose trades fall into two chunks included: every bar is the file's trades of that second."""
    dump = write_spot_trades(tmp_path / "BTCUSDT-trades-2025-01-01.csv", 40_000, seed=3)
    chunks = list(history.iter_history(dump))
    straddling = [a for a, b in itertools.pairwise(chunks) if a.times_ms[-1] // 1000 == b.times_ms[0] // 1000]
    assert straddling, "no second falls into two chunks: the test would prove less"
    assert run_import(db_path, dump).returncode == 0
    stored = pd.DataFrame(rows(db_path, ALL_BARS), columns=["symbol", "ts_ms", "open", "high", "low", "close", "volume",
                                                            "quote_volume", "trades"]).drop(columns="symbol")
    expected = bars_from_the_file(dump)
    assert stored["ts_ms"].tolist() == expected["ts_ms"].tolist()
    assert stored["trades"].sum() == 40_000
    pd.testing.assert_frame_equal(stored, expected, check_dtype=False, rtol=1e-12)


def test_a_live_writer_commits_between_the_chunks_of_an_import(db_path, tmp_path):
    """The import holds the write lock one chunk at a time: a live TradeWriter's batches commit in between."""
    dump = write_spot_trades(tmp_path / "BTCUSDT-trades-2025-01-01.csv", 40_000)
    writer = store.TradeWriter(db_path, "spot", "trade", flush_interval_ms=10).start()
    try:
        def chunks_with_live_trades():
            for number, chunk in enumerate(history.iter_history(dump), start=1):
                yield chunk  # stored (and committed) by the time the import asks for the next one
                writer.submit([("ETHUSDT", number, 1_735_689_600_000 + number, 3000.0, 1.0, False)])
                wait_until(lambda stored=number: writer.totals.stored == stored, 10)
        new = storing.store_chunks(db_path, chunks_with_live_trades(), "spot", "trade")
    finally:
        writer.close()
    assert writer.error is None and new == 40_000 and writer.totals.stored >= 3
    assert rows(db_path, "SELECT symbol, count(*) FROM trades GROUP BY symbol") == [
        ("BTCUSDT", 40_000), ("ETHUSDT", writer.totals.stored)]


def replay_into(db: Path, sim: ExchangeSim, symbols: tuple[str, ...], expected: int, *extra: str) -> None:
    ingestor = IngestorProcess(db, sim.port, *extra, symbols=symbols).start()
    wait_until(lambda: stored_count(db) >= expected, 60, ingestor.log)
    assert ingestor.stop()[0] == 0


def write_recorded_spot_trades(db) -> int:
    """Store the recorded real BTC and ETH spot trades of 2024-08-08 in ``db``; returns how many there are."""
    names = ("btcusdt_20240808.gz", "ethusdt_20240808.gz")
    for name in names:
        store.write_trades(db, [t for f in recorded_frames(binance_file(f"hftbacktest/spot/{name}"))
                                    if isinstance(t := binance.parse_message(f, "trade"), binance.Trade)])
    return trade_count(*(f"hftbacktest/spot/{n}" for n in names))


def test_replay_of_a_dump_equals_its_direct_import(tmp_path):
    """The aggTrades dump played through exchange_sim and the real ingestor gives the same rows as importing it."""
    dump = binance_file(AGG_DUMP)
    direct, replayed = tmp_path / "direct.db", tmp_path / "replayed.db"
    assert run_import(direct, dump).returncode == 0
    with run_in_thread(ExchangeSim(replay_files=(dump,), speed=0, wait_for_subscriber=True)) as sim:
        replay_into(replayed, sim, ("BTCUSDT",), AGG_ROWS, "--stream", "aggTrade")
    assert rows(replayed) == rows(direct)


def test_replay_of_a_database_equals_the_database(tmp_path):
    """A stored database of real spot trades replayed into another gives the same trades."""
    source, replayed = tmp_path / "source.db", tmp_path / "replayed.db"
    expected = write_recorded_spot_trades(source)
    with run_in_thread(ExchangeSim(replay_files=(source,), speed=0, wait_for_subscriber=True)) as sim:
        replay_into(replayed, sim, ("BTCUSDT", "ETHUSDT"), expected)
    assert rows(replayed) == rows(source)


def test_replay_of_a_postgresql_database_into_another_equals_it(tmp_path, pg_server):
    """A PostgreSQL database of real spot trades replayed (its URL as the replay source) into a new
    PostgreSQL database by the real ingestor gives the same trades."""
    source, replayed = pg_server.create_database("source"), pg_server.create_database("replayed")
    expected = write_recorded_spot_trades(source)
    with run_in_thread(ExchangeSim(replay_files=(source,), speed=0, wait_for_subscriber=True)) as sim:
        replay_into(replayed, sim, ("BTCUSDT", "ETHUSDT"), expected)
    assert rows(replayed) == rows(source) and len(rows(source)) > 1000


def test_run_all_replay_fills_a_separate_database(tmp_path, unused_port):
    """python run_all.py --replay DUMP --speed 0: the ingestor fills the replay database, then a clean stop."""
    db = tmp_path / "replay.db"
    run_all = subprocess.Popen([sys.executable, str(REPO_ROOT / "run_all.py"), "--replay",
                                str(binance_file(AGG_DUMP)), "--speed", "0", "--db", str(db), "--port",
                                str(unused_port)], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        deadline = time.monotonic() + 60
        while stored_count(db) < AGG_ROWS:
            assert time.monotonic() < deadline and run_all.poll() is None, "replay did not fill the database"
            time.sleep(0.3)
    finally:
        run_all.send_signal(signal.SIGTERM)
        code = run_all.wait(15)
    assert code == 0
    assert store.read_metadata(store.open_reader(db))["stream"] == "aggTrade"
