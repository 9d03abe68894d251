"""A replay that ends says so: the local exchange closes every connection with "replay finished",
the ingestor stops polling for more and its light turns grey "finished", with every trade stored."""
from __future__ import annotations

from pairdesk import health, store
from pairdesk.sim.server import ExchangeSim
from pairdesk.sim.thread_runner import run_in_thread
from conftest import binance_file
from recordings import trade_count
from test_ingestor import IngestorProcess, wait_until

RECORDING = "hftbacktest/spot/btcusdt_20240809.gz"


def status_row(db) -> dict | None:
    try:
        conn = store.open_reader(db)
    except store.StoreError:
        return None
    try:
        rows = store.read_feed_status(conn).to_dict("records")
        return rows[0] if rows else None
    finally:
        conn.close()


def test_a_finished_replay_is_grey_finished_not_red_or_silent(db_path):
    with run_in_thread(ExchangeSim(replay_files=(binance_file(RECORDING),), speed=0, wait_for_subscriber=True)) as sim:
        ingestor = IngestorProcess(db_path, sim.port, "--no-quotes", symbols=("BTCUSDT",)).start()
        wait_until(lambda: (status_row(db_path) or {}).get("state") == "finished", 30, ingestor.log)
        row = status_row(db_path)
        light = health.feed_health("BTCUSDT", row, store.now_ms())
        assert (light.colour, light.label) == ("grey", "finished")
        assert light.reason.startswith("replay finished")
        assert "replay finished" in row["last_error"]
        assert row["trades"] >= trade_count(RECORDING)
        assert "polling REST" not in ingestor.log()
        code, _ = ingestor.stop()
        assert code == 0
