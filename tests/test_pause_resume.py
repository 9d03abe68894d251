"""Pause and resume with the real ingestor against the local exchange: the paused symbol's feed says
"paused", what it missed is a paused gap (not fetched), and a resume with backfill loses no trade."""
from __future__ import annotations

from pathlib import Path

from pairdesk import store
from test_ingestor import (SETTLE_TIMEOUT_S, IngestorProcess, assert_every_trade_once, exchange,  # noqa: F401
                           no_ingestor_left_behind, stored_rows, truth_rows, wait_until)

PAUSED = "ETHUSDT"


def feed_state(db: Path, symbol: str) -> str | None:
    with store.write_session(db) as conn:
        status = store.read_feed_status(conn)
    states = status.loc[status["symbol"] == symbol, "state"]
    return states.iloc[0] if len(states) else None


def set_collection(db: Path, paused: bool, backfill: bool = False) -> list[str]:
    with store.write_session(db) as conn:
        return store.set_collection(conn, [PAUSED], paused, backfill)


def pause_until_trades_are_missed(ingestor: IngestorProcess, sim) -> int:
    """Pause PAUSED once it has trades; returns its last stored id after the exchange made 50 more."""
    db = ingestor.db
    wait_until(lambda: len(stored_rows(db, PAUSED)) > 10, 15, ingestor.log)
    assert set_collection(db, paused=True) == [PAUSED]
    wait_until(lambda: f"UNSUBSCRIBE {PAUSED.lower()}@trade" in ingestor.log(), 15, ingestor.log)
    wait_until(lambda: feed_state(db, PAUSED) == "paused", 15, ingestor.log)
    last_stored = stored_rows(db, PAUSED)[-1][0]
    wait_until(lambda: truth_rows(sim, PAUSED)[-1][0] > last_stored + 50, 20)
    assert stored_rows(db, PAUSED)[-1][0] == last_stored  # nothing collected while paused
    assert feed_state(db, "BTCUSDT") != "paused"
    return last_stored


def test_a_paused_symbol_shows_paused_and_its_gap_is_recorded_not_fetched(exchange, db_path):
    """Paused: status "paused"; resumed without backfill: the missed ids are one gap with status paused, not stored."""
    ingestor = IngestorProcess(db_path, exchange.port).start()
    ingestor.wait_connected()
    last_stored = pause_until_trades_are_missed(ingestor, exchange)
    assert set_collection(db_path, paused=False) == [PAUSED]
    wait_until(lambda: f"SUBSCRIBE {PAUSED.lower()}@trade" in ingestor.log().split("UNSUBSCRIBE")[-1], 15,
               ingestor.log)
    wait_until(lambda: feed_state(db_path, PAUSED) not in ("paused", None), 15, ingestor.log)
    with store.write_session(db_path) as conn:
        gaps = store.read_gaps(conn, PAUSED)
    paused_gaps = gaps[gaps["status"] == "paused"]
    assert len(paused_gaps) == 1 and int(paused_gaps["from_id"].iloc[0]) == last_stored + 1
    missed_to = int(paused_gaps["to_id"].iloc[0])
    exchange.control(paused=True)
    truth = truth_rows(exchange, PAUSED)
    expected = [row for row in truth if not last_stored < row[0] <= missed_to]
    wait_until(lambda: stored_rows(db_path, PAUSED) == expected, SETTLE_TIMEOUT_S,
               lambda: f"stored {len(stored_rows(db_path, PAUSED))} of {len(expected)}\n{ingestor.log()[-3000:]}")
    btc = truth_rows(exchange, "BTCUSDT")
    wait_until(lambda: stored_rows(db_path, "BTCUSDT") == btc, SETTLE_TIMEOUT_S, ingestor.log)  # never paused
    assert ingestor.stop()[0] == 0


def test_resume_with_backfill_stores_every_trade_exactly_once(exchange, db_path):
    """Paused then resumed with backfill: both symbols' stored trades equal the exchange's, no paused gap left."""
    ingestor = IngestorProcess(db_path, exchange.port).start()
    ingestor.wait_connected()
    pause_until_trades_are_missed(ingestor, exchange)
    assert set_collection(db_path, paused=False, backfill=True) == [PAUSED]
    wait_until(lambda: feed_state(db_path, PAUSED) not in ("paused", None), 15, ingestor.log)
    assert assert_every_trade_once(exchange, ingestor) > 100
    with store.write_session(db_path) as conn:
        gaps = store.read_gaps(conn, PAUSED)
    assert "paused" not in set(gaps["status"])
    assert ingestor.stop()[0] == 0
