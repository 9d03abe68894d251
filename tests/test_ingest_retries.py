"""The ingestor's retry paths in-process, with injected millisecond reconnect delays: drops, a
silent stream and server shutdowns are survived with every trade stored exactly once."""
from __future__ import annotations

import asyncio
import time

import pytest

from pairdesk import store
from pairdesk.binance import BinanceRest
from pairdesk.ingest.claims import SymbolClaims
from pairdesk.ingest.config import IngestorConfig
from pairdesk.ingest.daemon import Ingestor
from pairdesk.sim.exchange import ExchangeSim, run_in_thread

SYMBOLS = ["BTCUSDT", "ETHUSDT"]


def truth(sim: ExchangeSim, symbol: str) -> list[tuple]:
    return [(r["t"], r["T"], float(r["p"]), float(r["q"]), int(r["m"])) for r in sim.history(symbol, "trade")]


def stored(db, symbol: str) -> list[tuple]:
    conn = store.open_reader(db)
    try:
        return conn.execute("SELECT trade_id, ts_ms, price, qty, is_buyer_maker FROM trades WHERE symbol = ? "
                            "ORDER BY trade_id", (symbol,)).fetchall()
    finally:
        conn.close()


async def ingest_until(sim: ExchangeSim, db, delays: list[int], enough, **config) -> Ingestor:
    """Run an Ingestor in this process until ``enough(ingestor)``, then pause the exchange, let it
    settle to the exchange's ground truth, and stop it."""
    def delay_s(attempt: int) -> float:
        delays.append(attempt)
        return 0.005

    settings = IngestorConfig(db=str(db), symbols=SYMBOLS, market="spot", stream="trade",
                              ws_url=f"ws://127.0.0.1:{sim.port}", rest_url=f"http://127.0.0.1:{sim.port}",
                              alerts=False, reconnect_delay_s=delay_s, **config)
    writer = store.TradeWriter(db, "spot", "trade", source="local").start()
    rest = BinanceRest(settings.rest_url, "spot", "trade")
    ownership = store.claim_ownership(db)
    ingestor = Ingestor(settings, writer, rest, SymbolClaims(ownership))
    task = asyncio.create_task(ingestor.run())
    try:
        await wait_for(lambda: enough(ingestor), 20)
        sim.control(paused=True)
        await wait_for(lambda: all(stored(db, s) == truth(sim, s) for s in SYMBOLS), 20)
    finally:
        ingestor.stop()
        await task
        writer.close()
        ownership.release()
        await rest.close()
    return ingestor


async def wait_for(condition, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("faults", [{"drop_every": 40}, {"shutdown_after_s": 0.3, "shutdown_grace_s": 0.05},
                                    {"drop_every": 25, "gap_every": 30, "gap_size": 3}])
def test_reconnects_with_injected_delays_store_every_trade_once(db_path, faults):
    """Many reconnects in a few seconds (delays of 5 ms): the database equals the exchange's trades."""
    delays: list[int] = []
    with run_in_thread(ExchangeSim(rate_per_s=400.0, seed=5, wait_for_subscriber=True, **faults)) as sim:
        ingestor = asyncio.run(ingest_until(sim, db_path, delays, lambda ing: ing.reconnects >= 4))
        for symbol in SYMBOLS:
            assert stored(db_path, symbol) == truth(sim, symbol)
    assert ingestor.reconnects >= 4 and len(delays) >= 4
    assert all(attempt >= 0 for attempt in delays)


def test_consecutive_failures_grow_the_attempt_number(db_path, unused_port):
    """Refused connections count up the attempt handed to the delay function (backoff grows)."""
    delays: list[int] = []

    async def refused() -> None:
        settings = IngestorConfig(db=str(db_path), symbols=SYMBOLS, market="spot", stream="trade",
                                  ws_url=f"ws://127.0.0.1:{unused_port}", rest_url=f"http://127.0.0.1:{unused_port}",
                                  alerts=False, reconnect_delay_s=lambda attempt: delays.append(attempt) or 0.001)
        writer = store.TradeWriter(db_path, "spot", "trade", source="local").start()
        rest = BinanceRest(settings.rest_url, "spot", "trade")
        ownership = store.claim_ownership(db_path)
        ingestor = Ingestor(settings, writer, rest, SymbolClaims(ownership))
        task = asyncio.create_task(ingestor.run())
        await wait_for(lambda: len(delays) >= 5, 10)
        ingestor.stop()
        await task
        writer.close()
        ownership.release()
        await rest.close()

    asyncio.run(refused())
    assert delays[:5] == [1, 2, 3, 4, 5]


def test_feed_lights_are_logged_with_the_shared_rule(db_path, caplog):
    """The ingestor logs a feed's light when it changes, in the words of pairdesk.health."""
    caplog.set_level("INFO", logger="data_ingestor")
    with run_in_thread(ExchangeSim(rate_per_s=300.0, seed=3, wait_for_subscriber=True)) as sim:
        asyncio.run(ingest_until(sim, db_path, [], lambda ing: all(f.health_colour == "green"
                                                                   for f in ing.feeds.values())))
    messages = [r.getMessage() for r in caplog.records if " feed " in r.getMessage()]
    for symbol in SYMBOLS:
        assert f"{symbol} feed live (green): streaming" in messages
