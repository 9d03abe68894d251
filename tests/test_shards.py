"""Sharded ingestion into one PostgreSQL database: real ingestor processes against the local exchange.

Three ``data_ingestor.py --shards 3`` write one database concurrently, one is killed with SIGKILL and
restarted: every trade of every symbol is stored exactly once. Two lone ingestors asking for the
same symbol: the second is refused with one line naming the first. Each alert rule is evaluated
by exactly one shard.
"""
from __future__ import annotations

import re
import signal
import subprocess

import pytest
from conftest import REPO_ROOT
from test_ingestor import (  # noqa: F401 - no_ingestor_left_behind: the autouse fixture kills what a test left
    SETTLE_TIMEOUT_S,
    IngestorProcess,
    no_ingestor_left_behind,
    run_for,
    stored_rows,
    truth_rows,
    wait_until,
)

from pairdesk import store
from pairdesk.sim.exchange import ExchangeSim, run_in_thread

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "ADAUSDT")
ADDED = "LTCUSDT"  # listed by the exchange, added to the watchlist during a test


@pytest.fixture
def exchange():
    options = {"rate_per_s": 240.0, "seed": 5, "wait_for_subscriber": True, "ping_interval_s": 5.0,
               "symbols": (*SYMBOLS, ADDED), "drop_every": 400, "resend_every": 71}
    with run_in_thread(ExchangeSim(**options)) as sim:
        yield sim


def followed(ingestor: IngestorProcess) -> list[str]:
    """What the shard said it follows at start."""
    match = re.search(r"shard: following (\S+) of the watchlist", ingestor.log())
    return [] if match is None or match.group(1) == "none" else match.group(1).split(",")


def test_three_shards_one_killed_and_restarted_store_every_trade_once(exchange, pg_url) -> None:
    shards = [IngestorProcess(pg_url, exchange.port, "--shards", "3", symbols=SYMBOLS).start() for _ in range(3)]
    for shard in shards:
        wait_until(lambda shard=shard: followed(shard), 30, shard.log)
    shares = [followed(shard) for shard in shards]
    assert sorted(s for share in shares for s in share) == sorted(SYMBOLS)  # disjoint, and every symbol taken
    assert [len(share) for share in shares] == [2, 2, 2]  # an even split
    victim = shards[1]
    wait_until(lambda: all(stored_rows(pg_url, s) for s in shares[1]), 30, victim.log)
    run_for(2)
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait(10)
    run_for(3)  # the exchange trades on; nobody writes the victim's symbols
    restarted = IngestorProcess(pg_url, exchange.port, "--shards", "3", symbols=SYMBOLS).start()
    wait_until(lambda: followed(restarted), 30, restarted.log)
    assert sorted(followed(restarted)) == sorted(shares[1])  # the restart takes back what was left
    with store.write_session(pg_url) as conn:
        store.add_to_watchlist(conn, [ADDED])  # as PUT /api/watchlist would: it lands on exactly one shard
    live = (shards[0], shards[2], restarted)
    wait_until(lambda: stored_rows(pg_url, ADDED), 30, restarted.log)
    run_for(3)
    assert sum(f"SUBSCRIBE {ADDED.lower()}@trade" in shard.log() for shard in live) == 1
    exchange.control(paused=True)
    added_truth = truth_rows(exchange, ADDED)
    wait_until(lambda: stored_rows(pg_url, ADDED)[-1:] == added_truth[-1:], SETTLE_TIMEOUT_S, restarted.log)
    first_added = stored_rows(pg_url, ADDED)[0][0]
    assert stored_rows(pg_url, ADDED) == [row for row in added_truth if row[0] >= first_added]
    for symbol in SYMBOLS:
        truth = truth_rows(exchange, symbol)
        wait_until(lambda: stored_rows(pg_url, symbol)[-1:] == truth[-1:], SETTLE_TIMEOUT_S,
                   lambda: f"{symbol}: {len(stored_rows(pg_url, symbol))} of {len(truth)}\n{restarted.log()[-2000:]}")
        assert stored_rows(pg_url, symbol) == truth
    # each alert rule was evaluated by exactly one shard (its lock's holder), never twice
    watched = [re.findall(r"alert rule (\d+) watched", s.log()) for s in live]
    rules = [rule for per_shard in watched for rule in per_shard]
    assert rules and len(rules) == len(set(rules))
    for shard in live:
        assert shard.stop()[0] == 0


def test_a_second_ingestor_for_the_same_symbol_is_refused(exchange, pg_url) -> None:
    first = IngestorProcess(pg_url, exchange.port, symbols=("BTCUSDT", "ETHUSDT")).start()
    wait_until(lambda: stored_rows(pg_url, "BTCUSDT"), 30, first.log)
    second = IngestorProcess(pg_url, exchange.port, symbols=("SOLUSDT", "BTCUSDT"))
    proc = subprocess.run(second.argv, capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert proc.returncode == 2
    line = proc.stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"data_ingestor: error: BTCUSDT in postgresql://\S+ is already written by pairdesk "
                        rf"ingestor pid {first.proc.pid} on \S+ \(connected since [-\d: ]+ UTC\); stop that "
                        r"ingestor first, or run several with --shards N", line), line
    assert not stored_rows(pg_url, "SOLUSDT")  # refused before writing anything
    assert first.stop()[0] == 0


def test_shards_need_a_postgresql_database(tmp_path) -> None:
    argv = IngestorProcess(str(tmp_path / "ticks.db"), 1, "--shards", "2").argv
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert proc.returncode == 2
    assert "--shards needs a PostgreSQL database" in proc.stderr.strip().splitlines()[-1]
    assert not store.database_exists(tmp_path / "ticks.db")


def test_a_server_restart_loses_and_doubles_nothing(exchange, own_pg_server) -> None:
    """The PostgreSQL server restarts under a live ingestor (every session cut, 2 s down): the writer keeps
    its batch and reconnects, the ownership is taken back, every trade is stored once."""
    server = own_pg_server
    url = server.create_database()
    ingestor = IngestorProcess(url, exchange.port, symbols=SYMBOLS[:2]).start()
    wait_until(lambda: all(stored_rows(url, s) for s in SYMBOLS[:2]), 30, ingestor.log)
    server.restart(down_s=2.0)
    wait_until(lambda: "reconnected to the database" in ingestor.log(), 30, ingestor.log)
    run_for(3)
    exchange.control(paused=True)
    for symbol in SYMBOLS[:2]:
        truth = truth_rows(exchange, symbol)
        wait_until(lambda: stored_rows(url, symbol)[-1:] == truth[-1:], SETTLE_TIMEOUT_S, ingestor.log)
        assert stored_rows(url, symbol) == truth
    assert ingestor.proc.poll() is None  # it kept its symbols: nobody else took them
    assert ingestor.stop()[0] == 0


def test_lone_ingestors_with_their_own_symbols_share_a_database(exchange, pg_url) -> None:
    """Three ingestors without --shards, each with its own --symbols, on one database (three machines,
    say): each follows its own, the watchlist is their union, a symbol added to it lands on exactly one
    of them, and one killed and restarted takes its symbols back: every trade once."""
    groups = [SYMBOLS[0:2], SYMBOLS[2:4], SYMBOLS[4:5]]
    lone = [IngestorProcess(pg_url, exchange.port, symbols=group).start() for group in groups]
    for ingestor, group in zip(lone, groups):
        wait_until(lambda group=group: all(stored_rows(pg_url, s) for s in group), 30, ingestor.log)
    with store.write_session(pg_url) as conn:
        assert sorted(s for s, _ in store.read_watchlist(conn)) == sorted(SYMBOLS[:5])
        store.add_to_watchlist(conn, [SYMBOLS[5]])  # as the API's PUT /api/watchlist would
    wait_until(lambda: stored_rows(pg_url, SYMBOLS[5]), 30, lone[0].log)
    takers = [i for i, ingestor in enumerate(lone) if f"SUBSCRIBE {SYMBOLS[5].lower()}@trade" in ingestor.log()]
    assert len(takers) == 1, takers
    lone[1].proc.send_signal(signal.SIGKILL)
    lone[1].proc.wait(10)
    run_for(2)
    restarted = IngestorProcess(pg_url, exchange.port, symbols=groups[1]).start()  # exits 2 if another took them
    wait_until(lambda: "connected to" in restarted.log(), 30, restarted.log)
    run_for(3)
    exchange.control(paused=True)
    for symbol in SYMBOLS:
        truth = truth_rows(exchange, symbol)
        wait_until(lambda: stored_rows(pg_url, symbol)[-1:] == truth[-1:], SETTLE_TIMEOUT_S,
                   lambda: f"{symbol}: stored {len(stored_rows(pg_url, symbol))} of {len(truth)}\n"
                           + "\n".join(i.log()[-1500:] for i in (lone[0], lone[2], restarted)))
        if symbol == SYMBOLS[5]:  # followed from the moment it was added, with the history fetched then
            assert stored_rows(pg_url, symbol) == [row for row in truth if row[0] >= stored_rows(pg_url, symbol)[0][0]]
        else:
            assert stored_rows(pg_url, symbol) == truth
    for ingestor in (lone[0], lone[2], restarted):
        assert ingestor.stop()[0] == 0
    with store.write_session(pg_url) as conn:
        assert sorted(s for s, _ in store.read_watchlist(conn)) == sorted(SYMBOLS)
