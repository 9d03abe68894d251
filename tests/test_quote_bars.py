"""The quote-bar rule (pairdesk.quote_bars): hand-checked seconds, and every recorded bookTicker frame
folded into bars that match a brute-force reference computed millisecond by millisecond."""
from __future__ import annotations

import json

import pytest

from pairdesk import binance
from pairdesk.quote_bars import QuoteBar, QuoteBarBuilder, QuoteGap
from conftest import binance_file
from recordings import recorded_frames


def feed(builder: QuoteBarBuilder, updates) -> tuple[list[QuoteBar], list[QuoteGap]]:
    bars, gaps = [], []
    for u, ts, bid, ask in updates:
        closed, gap = builder.update(u, ts, bid, 1.0, ask, 2.0)
        bars += closed
        gaps += [gap] if gap else []
    return bars, gaps


def test_a_second_is_the_time_weighted_book_and_its_widest_spread():
    builder = QuoteBarBuilder("BTCUSDT")
    # second 1000: spread 1 from 1000, spread 2 from 1500 -> mean (1*500 + 2*500)/1000 = 1.5, max 2
    # second 2000: spread 2 carried for 250 ms, then 1 -> mean (2*250 + 1*750)/1000 = 1.25, max 2
    bars, gaps = feed(builder, [(1, 1000, 10, 11), (2, 1500, 10, 12), (3, 2250, 10, 11), (4, 3100, 10, 10.5)])
    assert gaps == []
    assert bars == [QuoteBar("BTCUSDT", 1000, 10, 12, 1.0, 2.0, 1.5, 2, 2),
                    QuoteBar("BTCUSDT", 2000, 10, 11, 1.0, 2.0, 1.25, 2, 1)]
    # second 3000 closes on time: spread 1 carried for 100 ms, then 0.5 -> (100 + 0.5*900)/1000 = 0.55
    assert builder.close_before(4000) == [QuoteBar("BTCUSDT", 3000, 10, 10.5, 1.0, 2.0, 0.55, 1, 1)]
    assert builder.close_before(9000) == []  # a quiet book writes no bars


def test_the_first_second_counts_from_its_first_update_only():
    builder = QuoteBarBuilder("BTCUSDT")
    feed(builder, [(1, 1400, 10, 12), (2, 1900, 10, 11)])
    # known from 1400: spread 2 for 500 ms, 1 for 100 ms -> (1000 + 100) / 600
    assert builder.close_before(2000)[0].mean_spread == pytest.approx(1100 / 600)


def test_stale_updates_by_update_id_are_dropped():
    builder = QuoteBarBuilder("ETHUSDT")
    bars, _ = feed(builder, [(5, 1000, 10, 11), (4, 1200, 10, 50), (5, 1300, 10, 50), (6, 1500, 10, 12)])
    assert builder.stale == 2
    bar = builder.close_before(2000)[0]
    assert (bar.max_spread, bar.updates, bar.mean_spread) == (2, 2, 1.5)


def test_time_never_runs_backwards():
    """An update timed before the last one counts at the later time (its u says it is newer)."""
    builder = QuoteBarBuilder("ETHUSDT")
    feed(builder, [(1, 1000, 10, 11), (2, 1600, 10, 12), (3, 1500, 10, 13)])
    bar = builder.close_before(2000)[0]
    assert (bar.ask, bar.updates) == (13, 3)
    assert bar.mean_spread == pytest.approx((1 * 600 + 3 * 400) / 1000)


def test_an_interruption_is_a_quote_gap_never_bridged():
    builder = QuoteBarBuilder("BTCUSDT")
    feed(builder, [(1, 1000, 10, 11), (2, 1500, 10, 12)])
    builder.interrupt(1800, "connection lost")
    bars, gaps = feed(builder, [(2, 9000, 10, 50), (3, 9300, 10, 11)])  # a resent old update is still stale
    assert gaps == [QuoteGap("BTCUSDT", 1500, 9300, "connection lost")]  # from the last update received
    # the second of the drop: known from 1000 to 1500 only (spread 1); nothing after the last update
    assert [(b.ts_ms, b.ask, b.mean_spread, b.updates) for b in bars] == [(1000, 12, 1.0, 2)]
    bar = builder.close_before(10_000)[0]
    assert bar.mean_spread == 1 and bar.max_spread == 1  # nothing carried over the outage


def test_a_quick_reconnect_keeps_the_rest_of_the_second_in_it():
    """Updates after a reconnect within the same second count in that second, not the next one."""
    builder = QuoteBarBuilder("BTCUSDT")
    feed(builder, [(1, 1000, 10, 11)])
    builder.interrupt(1100, "connection lost")
    bars, gaps = feed(builder, [(2, 1300, 10, 12), (3, 1700, 10, 11)])
    assert bars == [] and gaps == [QuoteGap("BTCUSDT", 1000, 1300, "connection lost")]
    bar = builder.close_before(2000)[0]
    # known 1300..1700 at spread 2, 1700..2000 at 1 (1000..1300 unknown): (800 + 300) / 700
    assert (bar.ts_ms, bar.updates, bar.max_spread) == (1000, 3, 2) and bar.mean_spread == pytest.approx(1100 / 700)


def test_a_deliberate_stop_is_a_gap_from_the_stop():
    builder = QuoteBarBuilder("BTCUSDT")
    feed(builder, [(1, 1000, 10, 11), (2, 1500, 10, 12)])
    builder.interrupt(4200, "collection paused", lossy=False)
    bars, gaps = feed(builder, [(3, 9300, 10, 11)])
    assert gaps == [QuoteGap("BTCUSDT", 4200, 9300, "collection paused")]  # the book stood until the stop
    assert [(b.ts_ms, b.mean_spread) for b in bars] == [(1000, 1.5)]  # known to its end: 1 then 2


def test_a_start_up_gap_runs_from_the_stored_quotes():
    builder = QuoteBarBuilder("BTCUSDT", gap_from_ms=5000, gap_reason="not running")
    _, gaps = feed(builder, [(7, 8000, 10, 11)])
    assert gaps == [QuoteGap("BTCUSDT", 5000, 8000, "not running")]


def reference_bars(updates: list[tuple[int, int, float, float, float, float]], symbol: str) -> list[QuoteBar]:
    """Brute force: the book's spread at every millisecond from the first update on, by second (the
    maximum also counts quotes replaced within the millisecond they appeared)."""
    kept, last_u, last_t = [], -1, 0  # in arrival order: an update older (by u) than one seen is stale
    for u, t, bid, bid_qty, ask, ask_qty in updates:
        if u > last_u:
            last_t = max(last_t, t)
            kept.append((last_t, bid, bid_qty, ask, ask_qty))
            last_u = u
    bars = []
    by_second: dict[int, list] = {}
    for item in kept:
        by_second.setdefault(item[0] // 1000 * 1000, []).append(item)
    i = 0
    for second in sorted(by_second):
        spreads = []
        state = None
        # the state in force at each ms of the second, from the last update at or before it
        while i < len(kept) and kept[i][0] < second:
            state = kept[i]
            i += 1
        j = i
        for ms in range(second, second + 1000):
            while j < len(kept) and kept[j][0] <= ms:
                state = kept[j]
                j += 1
            if state is not None:
                spreads.append(state[3] - state[1])
        last = by_second[second][-1]
        quoted = spreads + [item[3] - item[1] for item in by_second[second]]  # sub-ms quotes were quoted too
        bars.append(QuoteBar(symbol, second, last[1], last[3], last[2], last[4], sum(spreads) / len(spreads),
                             max(quoted), len(by_second[second])))
    return bars


@pytest.mark.parametrize("relative", ["hftbacktest/usdm/btcusdt_20240808.gz", "hftbacktest/usdm/ethusdt_20240808.gz"])
def test_recorded_futures_book_tickers_fold_into_the_reference_bars(relative):
    """Every recorded USD-M bookTicker frame parses (timed by T) and the bars equal the reference."""
    quotes = []
    for frame in recorded_frames(binance_file(relative)):
        item = binance.parse_message(frame, "trade")  # these recordings carry futures @trade
        if isinstance(item, binance.Quote):
            data = json.loads(frame)["data"]
            assert (item.update_id, item.ts_ms, item.bid, item.ask) == (data["u"], data["T"], float(data["b"]),
                                                                        float(data["a"]))
            quotes.append(item)
    assert len(quotes) > 1000
    builder = QuoteBarBuilder(quotes[0].symbol)
    bars = []
    for q in quotes:
        bars += builder.update(q.update_id, q.ts_ms, q.bid, q.bid_qty, q.ask, q.ask_qty)[0]
    bars += builder.close_before(10**13)
    expected = reference_bars([(q.update_id, q.ts_ms, q.bid, q.bid_qty, q.ask, q.ask_qty) for q in quotes],
                              quotes[0].symbol)
    assert len(bars) == len(expected) > 30
    for got, want in zip(bars, expected):
        assert got[:6] == want[:6] and got.updates == want.updates and got.max_spread == pytest.approx(want.max_spread)
        assert got.mean_spread == pytest.approx(want.mean_spread, rel=1e-9)
    assert all(0 < b.max_spread < 0.01 * b.bid for b in bars)


@pytest.mark.parametrize("relative", ["hftbacktest/spot/btcusdt_20240808.gz", "hftbacktest/spot/ethusdt_20240809.gz"])
def test_recorded_spot_book_tickers_parse_timed_by_receipt(relative):
    """Spot bookTicker frames carry no time: the parser takes the receive time it is given."""
    count = 0
    for frame in recorded_frames(binance_file(relative)):
        item = binance.parse_message(frame, "trade", received_ms=1_723_161_600_123)
        if isinstance(item, binance.Quote):
            data = json.loads(frame)["data"]
            assert set(data) == {"u", "s", "b", "B", "a", "A"}
            assert item == binance.Quote(data["s"], data["u"], 1_723_161_600_123, float(data["b"]), float(data["B"]),
                                         float(data["a"]), float(data["A"]))
            count += 1
    assert count > 1000


def test_malformed_book_tickers_are_bad_frames():
    base = {"u": 1, "s": "BTCUSDT", "b": "10.0", "B": "1", "a": "11.0", "A": "1"}
    for change, kind in [({"b": "12.0"}, "crossed_book"), ({"a": "x"}, "bad_number"), ({"u": -1}, "bad_id"),
                         ({"b": "0"}, "bad_number")]:
        with pytest.raises(binance.BadFrame) as caught:
            binance.parse_message(json.dumps({**base, **change}), "trade", 5)
        assert caught.value.kind == kind
    with pytest.raises(binance.BadFrame):
        binance.parse_message(json.dumps({k: v for k, v in base.items() if k != "A"}), "trade", 5)


def test_mark_price_and_funding_rows_parse():
    frame = {"stream": "btcusdt@markPrice@1s", "data": {"e": "markPriceUpdate", "E": 1723161256000, "s": "BTCUSDT",
                                                        "p": "61801.10", "i": "61830.2", "P": "61810.0",
                                                        "r": "-0.00010000", "T": 1723161600000}}
    assert binance.parse_message(json.dumps(frame), "aggTrade") == binance.MarkPrice(
        "BTCUSDT", 1723161256000, 61801.1, 61830.2, -0.0001, 1723161600000)
    row = {"symbol": "BTCUSDT", "fundingTime": 1723161600000, "fundingRate": "0.00010000", "markPrice": "61800.1"}
    assert binance.parse_rest_funding(row) == binance.FundingRate("BTCUSDT", 1723161600000, 0.0001, 61800.1)
    assert binance.parse_rest_funding({**row, "markPrice": ""}).mark_price is None
