"""The ingestor's quote side without a network: the collector writes closed seconds, marks and gaps
through the real writer into a real SQLite file; funding history pages through a REST client that
meets 429s, and is stored once across restarts."""
from __future__ import annotations

import asyncio
import types

import httpx
import pytest

from pairdesk import binance, store
from pairdesk.binance import BinanceRest, MarkPrice, Quote
from pairdesk.ingest import funding
from pairdesk.ingest.funding import FundingFollower, next_boundary_ms
from pairdesk.ingest.quotes import CLOSE_GRACE_MS, STARTUP_GAP_REASON, QuoteCollector

T0 = 1_723_161_600_000  # 2024-08-09 00:00:00 UTC, a settlement time


@pytest.fixture
def writer(tmp_path):
    w = store.TradeWriter(tmp_path / "q.db", "futures", "aggTrade", flush_interval_ms=10).start()
    yield w
    w.close()


def committed(writer, fn):
    return writer.call(fn).result(timeout=5)


def test_closed_seconds_marks_and_gaps_reach_the_store_once(writer):
    collector = QuoteCollector(writer)
    collector.follow("BTCUSDT", stored_until_ms=T0 - 60_000)
    collector.on_quote(Quote("BTCUSDT", 10, T0 + 100, 100.0, 1.0, 100.5, 2.0), T0 + 100)
    collector.on_quote(Quote("BTCUSDT", 11, T0 + 600, 100.0, 1.0, 101.0, 2.0), T0 + 600)
    collector.on_quote(Quote("ETHUSDT", 1, T0 + 600, 10.0, 1.0, 10.1, 2.0), T0 + 600)  # not followed: ignored
    collector.on_mark(MarkPrice("BTCUSDT", T0 + 5, 100.2, 100.3, 0.0001, T0 + 8 * 3600_000))
    collector.on_mark(MarkPrice("BTCUSDT", T0 + 900, 100.4, 100.3, 0.0001, T0 + 8 * 3600_000))  # same second: last wins
    collector.flush(T0 + 1000)  # the second is not over by the grace yet
    assert committed(writer, lambda c: store.read_quotes(c, "BTCUSDT")).empty
    collector.flush(T0 + 1000 + CLOSE_GRACE_MS)
    quotes = committed(writer, lambda c: store.read_quotes(c, "BTCUSDT"))
    assert quotes[["ts_ms", "bid", "ask", "updates"]].values.tolist() == [[T0, 100.0, 101.0, 2]]
    # known from 100 ms on: 0.5 for 500 ms, 1.0 for 400 ms
    assert quotes["mean_spread"].iloc[0] == pytest.approx((0.5 * 500 + 1.0 * 400) / 900)
    marks = committed(writer, lambda c: store.read_marks(c, "BTCUSDT"))
    assert marks[["ts_ms", "mark"]].values.tolist() == [[T0, 100.4]]
    gaps = committed(writer, lambda c: store.read_quote_gaps(c, ["BTCUSDT"]))
    assert gaps.values.tolist() == [["BTCUSDT", T0 - 60_000, T0 + 100, STARTUP_GAP_REASON]]
    assert collector.next_funding_ms["BTCUSDT"] == T0 + 8 * 3600_000
    collector.flush(T0 + 10_000)  # nothing new: nothing written twice
    assert len(committed(writer, lambda c: store.read_quotes(c, "BTCUSDT"))) == 1


def test_a_paused_symbol_records_the_gap_until_it_is_followed_again(writer):
    collector = QuoteCollector(writer)
    collector.follow("BTCUSDT")
    collector.on_quote(Quote("BTCUSDT", 1, T0 + 200, 100.0, 1.0, 100.5, 2.0), T0 + 200)
    collector.unfollow("BTCUSDT", T0 + 1500, "collection paused")
    collector.on_quote(Quote("BTCUSDT", 2, T0 + 3000, 100.0, 1.0, 100.5, 2.0), T0 + 3000)  # in flight: ignored
    collector.follow("BTCUSDT")
    collector.on_quote(Quote("BTCUSDT", 3, T0 + 9000, 100.0, 1.0, 100.5, 2.0), T0 + 9000)
    collector.flush(T0 + 20_000)
    gaps = committed(writer, lambda c: store.read_quote_gaps(c, ["BTCUSDT"]))
    assert gaps.values.tolist() == [["BTCUSDT", T0 + 1500, T0 + 9000, "collection paused"]]
    assert committed(writer, lambda c: store.read_quotes(c, "BTCUSDT"))["ts_ms"].tolist() == [T0, T0 + 9000]


def funding_rows(start_ms: int, count: int) -> list[dict]:
    return [{"symbol": "BTCUSDT", "fundingTime": start_ms + i * 8 * 3600_000, "fundingRate": f"{(i % 5 - 2) / 1e5:.8f}",
             "markPrice": f"{60000 + i:.8f}"} for i in range(count)]


class FundingExchange:
    """fundingRate over httpx's mock transport: pages by startTime / limit, a 429 every few requests."""

    def __init__(self, history: list[dict], throttle_every: int = 3) -> None:
        self.history = history
        self.requests = 0
        self.throttle_every = throttle_every

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.requests % self.throttle_every == 0:
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"code": -1003, "msg": "Too many requests"})
        start = int(request.url.params["startTime"])
        limit = int(request.url.params["limit"])
        rows = [r for r in self.history if r["fundingTime"] >= start][:limit]
        return httpx.Response(200, json=rows)


def run_catch_up(db, exchange: FundingExchange, monkeypatch) -> int:
    monkeypatch.setattr(binance.rest, "_retry_after_s", lambda response: 0.01)
    monkeypatch.setattr(funding, "REST_PAGE_LIMIT", 10)  # small pages: several requests, a few 429s

    async def go():
        writer = store.TradeWriter(db, "futures", "aggTrade", flush_interval_ms=10).start()
        rest = BinanceRest("http://exchange.test", "futures", "aggTrade",
                           client=httpx.AsyncClient(transport=httpx.MockTransport(exchange)))
        ingestor = types.SimpleNamespace(writer=writer, rest=rest, feeds={"BTCUSDT": None},
                                         quotes=types.SimpleNamespace(next_funding_ms={}))
        try:
            return await FundingFollower(ingestor).catch_up("BTCUSDT")
        finally:
            await rest.close()
            writer.close()

    return asyncio.run(go())


def test_funding_history_is_stored_once_through_429s_and_restarts(tmp_path, monkeypatch):
    now = store.now_ms()
    first = now - 20 * 86_400_000  # within the 30 days fetched for a symbol without funding
    history = funding_rows(first - first % (8 * 3600_000), 47)
    exchange = FundingExchange(history[:35])
    db = tmp_path / "f.db"
    assert run_catch_up(db, exchange, monkeypatch) == 35
    assert exchange.requests > 4  # 4 pages of 10 plus the 429s retried
    assert run_catch_up(db, exchange, monkeypatch) == 0  # a restart fetches from the newest stored on
    exchange.history = history  # twelve more settle
    assert run_catch_up(db, exchange, monkeypatch) == 12
    conn = store.open_reader(db)
    stored = store.read_funding(conn, "BTCUSDT")
    conn.close()
    assert stored["funding_time_ms"].tolist() == [r["fundingTime"] for r in history]
    assert stored["rate"].tolist() == [float(r["fundingRate"]) for r in history]
    assert stored["mark_price"].tolist() == [float(r["markPrice"]) for r in history]


def test_settlement_boundaries():
    assert next_boundary_ms(T0) == T0 + 8 * 3600_000
    assert next_boundary_ms(T0 - 1) == T0


def test_seconds_close_on_the_exchanges_clock_not_the_local_one(writer):
    """Frames timed years before the local clock (a replay, a skewed clock) still close only when
    their second is over on the exchange's timeline."""
    local = T0 + 2 * 365 * 86_400_000
    collector = QuoteCollector(writer)
    collector.follow("BTCUSDT")
    collector.on_quote(Quote("BTCUSDT", 1, T0 + 100, 100.0, 1.0, 100.5, 2.0), local)
    collector.flush(local + 1000)  # exchange time T0 + 1100: the second ended 100 ms ago, within the grace
    collector.on_quote(Quote("BTCUSDT", 2, T0 + 900, 100.0, 1.0, 101.0, 2.0), local + 1000)  # late, same second
    collector.flush(local + 2600)
    quotes = committed(writer, lambda c: store.read_quotes(c, "BTCUSDT"))
    assert quotes[["ts_ms", "ask", "updates"]].values.tolist() == [[T0, 101.0, 2]]
