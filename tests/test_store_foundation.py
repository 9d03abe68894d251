"""The store's foundation: nesting atomic blocks, migrations under the write lock, one owner per file."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest

from pairdesk import store


def test_atomic_nests_and_rolls_back_only_the_inner_block(db_path):
    """An exception in an inner atomic block undoes that block alone; the outer block still commits."""
    conn = store.open_writer(db_path, "spot", "trade")
    with store.atomic(conn):
        store.replace_watchlist(conn, ["BTCUSDT"])
        with pytest.raises(ZeroDivisionError):
            with store.atomic(conn):
                store.replace_watchlist(conn, ["ETHUSDT"])
                1 / 0
        assert [s for s, _ in store.read_watchlist(conn)] == ["BTCUSDT"]
    assert not conn.in_transaction
    assert [s for s, _ in store.read_watchlist(store.open_reader(db_path))] == ["BTCUSDT"]


def test_writers_migrating_a_new_file_at_once_all_succeed(tmp_path):
    """Six writers opening one new file at the same moment: each migration runs once, none fails."""
    for attempt in range(12):
        path = tmp_path / f"race{attempt}.db"
        barrier, errors = threading.Barrier(6), []

        def open_at_once():
            barrier.wait()
            try:
                store.open_writer(path, "spot", "trade").close()
            except Exception as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=open_at_once) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
        meta = store.read_metadata(store.open_reader(path))
        assert (meta["market"], meta["stream"], int(meta["schema_version"])) == ("spot", "trade", store.SCHEMA_VERSION)


def test_a_second_owner_is_refused_with_the_owner_named(db_path):
    """While one process owns the file a second claim fails naming its pid; after release it succeeds."""
    first = store.claim_ownership(db_path, "ingestor")
    with pytest.raises(store.WriterBusy) as refused:
        store.claim_ownership(db_path, "ingestor")
    message = str(refused.value)
    assert f"ingestor pid {os.getpid()} since " in message and "\n" not in message
    assert store.read_owner(db_path).pid == os.getpid()
    first.release()
    assert store.read_owner(db_path) is None
    store.claim_ownership(db_path, "ingestor").release()


def test_a_stale_owner_file_left_by_kill_9_does_not_block(db_path):
    """The kernel drops the lock of a killed owner: its file stays behind, but a new claim succeeds."""
    code = ("import sys, time; from pairdesk import store; store.claim_ownership(sys.argv[1]); "
            "print('owned', flush=True); time.sleep(60)")
    owner = subprocess.Popen([sys.executable, "-c", code, str(db_path)], stdout=subprocess.PIPE, text=True,
                             cwd=os.getcwd())
    assert owner.stdout.readline().strip() == "owned"
    assert store.read_owner(db_path).pid == owner.pid
    owner.send_signal(signal.SIGKILL)
    owner.wait(10)
    assert store.owner_file(db_path).exists()
    assert store.read_owner(db_path) is None
    store.claim_ownership(db_path).release()


def test_a_cancelled_call_neither_runs_nor_stops_the_writer(db_path):
    """A caller that gives up on ``writer.call`` (a cancelled task) leaves the writer thread storing."""
    writer = store.TradeWriter(db_path, "spot", "trade", flush_interval_ms=50).start()
    ran = []
    cancelled = writer.call(lambda conn: ran.append("cancelled one ran"))
    assert cancelled.cancel()
    writer.submit([("BTCUSDT", 1, 1_723_161_255_342, 61837.63, 0.02, True)])
    assert writer.call(lambda conn: "done").result(10) == "done"
    writer.submit([("BTCUSDT", 2, 1_723_161_255_400, 61837.64, 0.01, False)])
    writer.close()
    assert ran == [] and writer.error is None
    assert store.last_trade_id(store.open_reader(db_path), "BTCUSDT") == 2
