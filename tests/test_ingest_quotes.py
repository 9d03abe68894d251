"""The real ingestor against the local exchange: top of book stored as one-second quote bars equal
to the bars computed independently from the bookTicker frames that were sent (futures: timed by T,
compared exactly); drops, junk and resent frames lose or invent nothing; outages are quote gaps;
mark price and funding stored once."""
from __future__ import annotations

import signal

import pytest

from pairdesk import store
from pairdesk.sim.server import ExchangeSim
from pairdesk.sim.thread_runner import run_in_thread
from conftest import binance_file
from test_ingestor import IngestorProcess, wait_until
from test_quote_bars import reference_bars

SYMBOLS = ("BTCUSDT", "ETHUSDT")


def stored(db, read):
    try:
        conn = store.open_reader(db)
    except store.StoreError:  # not created yet
        return None
    try:
        return read(conn)
    finally:
        conn.close()


def stored_bars(db, symbol) -> list[tuple]:
    frame = stored(db, lambda conn: store.read_quotes(conn, symbol))
    return [] if frame is None else [(symbol, *row) for row in frame.itertuples(index=False)]


def run_and_stop(sim: ExchangeSim, db, *extra: str, market: str = "futures", seconds: float = 4.0,
                 symbols=SYMBOLS) -> IngestorProcess:
    """Run the ingestor until each symbol has sent quotes for ``seconds`` of exchange time, pause the
    exchange, and stop the ingestor (SIGTERM writes the open seconds)."""
    ingestor = IngestorProcess(db, sim.port, *extra, market=market, symbols=symbols).start()
    wait_until(lambda: all(len(sim.sent_quotes(s)) > 0 for s in symbols), 20, ingestor.log)
    first = {s: sim.sent_quotes(s)[0][1] for s in symbols}
    wait_until(lambda: all(sim.sent_quotes(s)[-1][1] - first[s] >= seconds * 1000 for s in symbols), 30,
               ingestor.log)
    sim.control(paused=True)

    def written_up_to_the_last_second() -> bool:  # the last second itself is written at the stop
        for s in symbols:
            seconds = sorted({q[1] // 1000 * 1000 for q in sim.sent_quotes(s)})
            bars = stored_bars(db, s)
            if len(seconds) > 1 and (not bars or bars[-1][1] < seconds[-2]):
                return False
        return True

    wait_until(written_up_to_the_last_second, 15, ingestor.log)
    code, _ = ingestor.stop(signal.SIGTERM)
    assert code == 0, ingestor.log()[-3000:]
    return ingestor


def reference(sim: ExchangeSim, symbol: str) -> list[tuple]:
    return [tuple(bar) for bar in reference_bars([tuple(q) for q in sim.sent_quotes(symbol)], symbol)]


def assert_same_bars(got: list[tuple], want: list[tuple], stopped_in_last: bool = True) -> None:
    """Equal bars. ``stopped_in_last``: the ingestor stopped during the last second, so the book is known
    only until the stop there (the reference integrates it to the second's end): its mean is left out."""
    assert [g[:6] for g in got] == [w[:6] for w in want]  # symbol, second, bid, ask, sizes
    assert [g[8] for g in got] == [w[8] for w in want]  # updates
    for i, (g, w) in enumerate(zip(got, want)):
        assert g[7] == pytest.approx(w[7])  # max spread
        if not (stopped_in_last and i == len(got) - 1):
            assert g[6] == pytest.approx(w[6], rel=1e-9, abs=1e-12)  # mean spread


@pytest.fixture
def exchange(request):
    options = {"market": "futures", "rate_per_s": 100.0, "seed": 5, "wait_for_subscriber": True,
               "ping_interval_s": 5.0, "quote_rate_per_s": 20.0}
    marker = request.node.get_closest_marker("exchange")
    if marker:
        options.update(marker.kwargs)
    with run_in_thread(ExchangeSim(**options)) as sim:
        yield sim


def test_futures_quote_bars_equal_the_bars_of_the_frames_sent(exchange, db_path):
    """No faults: every second of every symbol, exactly (bid, ask, sizes, updates, mean and max spread)."""
    run_and_stop(exchange, db_path)
    for symbol in SYMBOLS:
        want = reference(exchange, symbol)
        got = stored_bars(db_path, symbol)
        assert len(want) >= 4
        assert_same_bars(got, want)
    assert stored(db_path, lambda conn: store.read_quote_gaps(conn, list(SYMBOLS))).empty
    marks = stored(db_path, lambda conn: store.read_marks(conn, "BTCUSDT"))
    assert len(marks) >= 3 and marks["ts_ms"].is_unique and (marks["ts_ms"] % 1000 == 0).all()
    assert (marks["next_funding_ms"] % (8 * 3600_000) == 0).all()
    funding = stored(db_path, lambda conn: store.read_funding(conn, "BTCUSDT"))
    assert len(funding) >= 80 and funding["funding_time_ms"].is_unique  # 30 days at 8 h
    assert funding["funding_time_ms"].max() < store.now_ms()


@pytest.mark.exchange(drop_every=500, junk_every=37, resend_every=23)
def test_drops_junk_and_resends_lose_nothing_that_arrived_and_invent_nothing(exchange, db_path):
    """Abrupt drops, junk and resent (older) updates: each stored second ends on an update that was
    sent in it; seconds away from an outage equal the reference exactly; each outage is a quote gap."""
    ingestor = run_and_stop(exchange, db_path, seconds=10.0)
    assert "reconnecting" in ingestor.log()
    gaps = stored(db_path, lambda conn: store.read_quote_gaps(conn, list(SYMBOLS)))
    assert len(gaps) >= 1 and (gaps["to_ms"] > gaps["from_ms"]).all()
    for symbol in SYMBOLS:
        sent = exchange.sent_quotes(symbol)
        got = stored_bars(db_path, symbol)
        want = {bar[1]: bar for bar in reference(exchange, symbol)}
        by_second: dict[int, list] = {}
        for q in sent:
            by_second.setdefault(q[1] // 1000 * 1000, []).append(q)
        spans = [(f - 1000, t + 1000) for s, f, t in gaps[["symbol", "from_ms", "to_ms"]].itertuples(index=False)
                 if s == symbol]
        exact = 0
        for bar in got:
            second = bar[1]
            updates = by_second[second]  # a stored second had updates sent in it
            assert (bar[2], bar[3], bar[4], bar[5]) in {(q[2], q[4], q[3], q[5]) for q in updates}
            assert bar[8] <= len(updates)
            assert not any(f + 1000 <= second and second + 1000 <= t - 1000 for f, t in spans)  # none inside a gap
            # exact where no frame can have been lost with a dropped connection: not next to an outage,
            # and not the first stored second (a connection dropped before any quote arrived leaves no gap)
            stored_seconds = {b[1] for b in got}
            if (not any(f <= second < t for f, t in spans) and second != got[0][1]
                    and {second - 1000, second + 1000} <= stored_seconds and second - 1000 in want):
                assert_same_bars([bar], [want[second]], stopped_in_last=False)
                exact += 1
        assert exact >= 3, f"{symbol}: only {exact} of {len(got)} seconds away from outages"


@pytest.mark.exchange(replay_files=(binance_file("hftbacktest/usdm/btcusdt_20240808.gz"),
                                    binance_file("hftbacktest/usdm/ethusdt_20240808.gz")), speed=4.0)
def test_replayed_recorded_book_tickers_are_stored_second_by_second(exchange, db_path):
    """Real recorded USD-M bookTicker frames, replayed: the stored bars equal the bars of the frames sent."""
    run_and_stop(exchange, db_path, "--stream", "trade", seconds=8.0)
    for symbol in SYMBOLS:
        want = reference(exchange, symbol)
        assert len(want) >= 8
        assert_same_bars(stored_bars(db_path, symbol), want)


@pytest.mark.exchange(market="spot")
def test_spot_quotes_ride_on_the_trade_connection_timed_on_receipt(exchange, db_path):
    """Spot bookTicker frames carry no time: each stored second ends on a sent update, and every
    update sent is counted once (the receive time may put it in the neighbouring second)."""
    ingestor = run_and_stop(exchange, db_path, market="spot")
    assert "quotes: connected" not in ingestor.log()  # one connection carries trades and quotes
    for symbol in SYMBOLS:
        sent = exchange.sent_quotes(symbol)
        got = stored_bars(db_path, symbol)
        assert sum(bar[8] for bar in got) == len(sent)
        sent_books = {(q[2], q[4], q[3], q[5]) for q in sent}
        assert all((bar[2], bar[3], bar[4], bar[5]) in sent_books for bar in got)
