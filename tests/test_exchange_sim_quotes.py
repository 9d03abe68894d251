"""The local exchange's top of book, mark price and funding: `@bookTicker` (model and replay, spot and
futures), `@markPrice@1s`, `GET /fapi/v1/fundingRate` and `/premiumIndex`, checked against the
recorded real frames and the product's own parsers, with the fault switches applied to quotes."""
from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import pytest
from conftest import binance_file
from test_exchange_sim import (
    AGG_DUMP,
    RECV_TIMEOUT_S,
    SPOT_BTC_0808,
    SPOT_ETH_0808,
    USDM_BTC_0808,
    closed_code,
    collect,
    http_get,
    read_until_closed,
    recorded_frames,
    recv_json,
    running,
    urllib_status,
    wait_for,
    ws_connect,
)
from websockets.exceptions import ConnectionClosed

from pairdesk.binance import BadFrame, parse_message
from pairdesk.binance.frames import MarkPrice, Quote, Trade
from pairdesk.markets import FUTURES, SPOT
from pairdesk.sim import MarketModel, make_spec
from pairdesk.sim.funding import FUNDING_INTERVAL_MS, FundingHistory
from pairdesk.sim.quotes import BookQuote
from pairdesk.sim.tape_history import Fill

USDM_ETH_0808 = "hftbacktest/usdm/ethusdt_20240808.gz"
BOOK_MARKER = '@bookTicker"'
FUTURES_BOOK_PATH = "/public/ws/btcusdt@bookTicker"
MARK_PATH = "/market/ws/btcusdt@markPrice@1s"


def recorded_book(relative: str) -> list[dict[str, Any]]:
    """The `data` of every recorded bookTicker frame of a file, in file order."""
    return [json.loads(frame)["data"] for frame in recorded_frames(relative, BOOK_MARKER)]


def decimals(text: str) -> int:
    """Digits after the point in a Binance decimal string."""
    return len(text.partition(".")[2])


def shape(event: dict[str, Any]) -> list[tuple[str, Any]]:
    """Keys in order, with the decimals of text values and the type of the others."""
    return [(k, decimals(v) if isinstance(v, str) and k != "s" and k != "e" else type(v).__name__)
            for k, v in event.items()]


def price_units(text: str, price_decimals: int) -> int:
    """A decimal string as an integer count of 10**-price_decimals."""
    return int(Decimal(text) * 10**price_decimals)


# ------------------------------------------------------------------------------------------------
# the model's book
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("market", [SPOT, FUTURES])
def test_model_book_respects_tick_lot_rates_and_trades_at_the_touch(market: str) -> None:
    """An hour of model: u rises, prices on the tick grid with a 1-tick spread mostly and wide bursts,
    sizes on the lot grid, several updates a second, and every fill at the best bid or ask in force."""
    specs = {s.symbol: s for s in (make_spec(market, "BTCUSDT"), make_spec(market, "ETHUSDT"))}
    model = MarketModel(list(specs.values()), rate_per_s=20.0, rng=random.Random(5), start_us=0,
                        quote_rate_per_s=4.0)
    events = [e for second in range(1, 3601) for e in model.take_events(second * 1_000_000)]
    book: dict[str, BookQuote] = {}
    spreads: dict[str, list[int]] = {s: [] for s in specs}
    fills = 0
    for event in events:
        spec = specs[event.symbol]
        if isinstance(event, BookQuote):
            previous = book.get(event.symbol)
            assert previous is None or event.update_id > previous.update_id
            assert previous is None or event.time_us >= previous.time_us
            bid, ask = price_units(event.bid, spec.price_decimals), price_units(event.ask, spec.price_decimals)
            assert bid % spec.tick_units == 0 and ask % spec.tick_units == 0 and 0 < bid < ask
            for qty in (event.bid_qty, event.ask_qty):
                assert int(Decimal(qty) * 10**spec.qty_decimals) % spec.step_units == 0 and Decimal(qty) > 0
            spreads[event.symbol].append((ask - bid) // spec.tick_units)
            book[event.symbol] = event
        else:
            assert isinstance(event, Fill)
            fills += 1
            touch = book[event.symbol].bid if event.is_buyer_maker else book[event.symbol].ask
            assert event.price_units == price_units(touch, spec.price_decimals)
    assert 0.75 * 20 * 3600 < fills < 1.25 * 20 * 3600
    for widths in spreads.values():
        assert len(widths) > 3600 * 4  # the scheduled requotes alone come 4 a second
        assert sum(w == 1 for w in widths) / len(widths) > 0.6
        assert max(widths) >= 4 and sum(w >= 2 for w in widths) / len(widths) > 0.02


@pytest.mark.parametrize(("market", "path", "recorded"), [
    (SPOT, "/ws/ethusdt@bookTicker", SPOT_ETH_0808),
    (FUTURES, "/public/ws/ethusdt@bookTicker", USDM_ETH_0808),
])
def test_model_book_ticker_frames_have_the_recorded_shape(market: str, path: str, recorded: str) -> None:
    """The model's bookTicker frames have the recorded keys, order and decimals, and parse as Quotes."""
    reference = recorded_book(recorded)[0]
    with running(market=market) as sim:
        with ws_connect(sim.ws_url(path)) as ws:
            raw = [ws.recv(timeout=RECV_TIMEOUT_S) for _ in range(40)]
    events = [json.loads(m) for m in raw]
    assert all(shape(e) == shape(reference) for e in events)
    quotes = [parse_message(m, "trade", received_ms=7) for m in raw]
    assert all(isinstance(q, Quote) and q.symbol == "ETHUSDT" and q.bid < q.ask for q in quotes)
    ids = [q.update_id for q in quotes]
    assert ids == sorted(set(ids))
    if market == FUTURES:
        assert all(e["E"] >= e["T"] for e in events) and all(q.ts_ms == e["T"] for q, e in zip(quotes, events))
    else:
        assert all(q.ts_ms == 7 for q in quotes)  # no time on the wire: the receive time


def test_spot_trades_and_quotes_share_one_combined_connection() -> None:
    """btcusdt@trade/btcusdt@bookTicker on one spot connection: both flow, each trade at the touch."""
    with running() as sim:
        with ws_connect(sim.ws_url("/stream?streams=btcusdt@trade/btcusdt@bookTicker/ethusdt@trade")) as ws:
            frames = collect(ws, 300)
    assert {f["stream"] for f in frames} == {"btcusdt@trade", "btcusdt@bookTicker", "ethusdt@trade"}
    last_quote = None
    checked = 0
    for frame in frames:
        parsed = parse_message(json.dumps(frame), "trade", received_ms=1)
        if isinstance(parsed, Quote):
            last_quote = parsed
        elif isinstance(parsed, Trade) and parsed.symbol == "BTCUSDT" and last_quote is not None:
            assert parsed.price == (last_quote.bid if parsed.is_buyer_maker else last_quote.ask)
            checked += 1
    assert checked > 10


# ------------------------------------------------------------------------------------------------
# routes and live subscriptions
# ------------------------------------------------------------------------------------------------


def test_futures_quote_streams_flow_only_on_their_routes() -> None:
    """bookTicker flows on /public, markPrice on /market; each on the other route (and root) is silent."""
    with running(market="futures") as sim:
        with ws_connect(sim.ws_url(FUTURES_BOOK_PATH)) as book, ws_connect(sim.ws_url(MARK_PATH)) as mark, \
                ws_connect(sim.ws_url("/market/ws/btcusdt@bookTicker")) as book_wrong, \
                ws_connect(sim.ws_url("/public/stream?streams=btcusdt@markPrice@1s")) as mark_wrong, \
                ws_connect(sim.ws_url("/ws/btcusdt@bookTicker")) as book_root:
            assert recv_json(book)["e"] == "bookTicker"
            assert recv_json(mark)["e"] == "markPriceUpdate"
            for silent in (book_wrong, mark_wrong, book_root):
                with pytest.raises(TimeoutError):
                    silent.recv(timeout=0.3)
    with running() as sim:  # spot has no mark price
        with ws_connect(sim.ws_url("/ws/btcusdt@markPrice@1s")) as ws:
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.3)


def test_live_subscribe_and_unsubscribe_of_book_ticker() -> None:
    """SUBSCRIBE adds bookTicker to a futures /public connection, beside trades; UNSUBSCRIBE removes it;
    SUBSCRIBE on the wrong route is acknowledged and stays silent."""
    with running(market="futures") as sim:
        with ws_connect(sim.ws_url("/public/stream")) as ws, ws_connect(sim.ws_url("/market/stream")) as wrong:
            ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@bookTicker", "btcusdt@trade"], "id": 1}))
            wrong.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@bookTicker"], "id": 2}))
            assert recv_json(wrong) == {"result": None, "id": 2}
            frames = []
            while not ({"btcusdt@bookTicker", "btcusdt@trade"} <= {f.get("stream") for f in frames}):
                frames.append(recv_json(ws))
            assert frames[0] == {"result": None, "id": 1}
            ws.send(json.dumps({"method": "UNSUBSCRIBE", "params": ["btcusdt@bookTicker"], "id": 3}))
            streams_after = set()
            for _ in range(2000):
                frame = recv_json(ws)
                if frame.get("id") == 3:
                    break
            for _ in range(20):
                streams_after.add(recv_json(ws)["stream"])
            assert streams_after == {"btcusdt@trade"}
            with pytest.raises(TimeoutError):
                wrong.recv(timeout=0.2)


# ------------------------------------------------------------------------------------------------
# mark price and funding
# ------------------------------------------------------------------------------------------------


def test_mark_price_once_a_second_in_the_documented_shape() -> None:
    """markPrice@1s: e,E,s,p,i,P,r,T once a second, 8-decimal prices with the mark on the tick grid,
    the next 00/08/16 UTC settlement in T, parsed by the product's parser."""
    with running(market="futures") as sim:
        with ws_connect(sim.ws_url(MARK_PATH)) as ws:
            raw = [ws.recv(timeout=RECV_TIMEOUT_S) for _ in range(3)]
    events = [json.loads(m) for m in raw]
    assert all(list(e) == ["e", "E", "s", "p", "i", "P", "r", "T"] for e in events)
    assert [b["E"] - a["E"] for a, b in zip(events, events[1:])] == [1000, 1000]
    for event, message in zip(events, raw):
        assert event["E"] % 1000 == 0 and all(decimals(event[k]) == 8 for k in "piPr")
        assert Decimal(event["p"]) % Decimal("0.10") == 0  # BTCUSDT perpetual tick
        assert event["T"] % FUNDING_INTERVAL_MS == 0 and 0 < event["T"] - event["E"] <= FUNDING_INTERVAL_MS
        parsed = parse_message(message, "aggTrade")
        assert isinstance(parsed, MarkPrice) and parsed.next_funding_ms == event["T"]


def test_funding_history_is_seeded_eight_hourly_and_of_both_signs() -> None:
    """90 days of 8-hourly settlements before the start, reproducible from the seed, rates of both signs."""
    specs = [make_spec(FUTURES, "BTCUSDT"), make_spec(FUTURES, "ETHUSDT")]
    start_ms = 1_723_161_556_275
    one, again, other = (FundingHistory(specs, start_ms, seed) for seed in (4, 4, 5))
    rows = one.rows("BTCUSDT", None, None, 10_000)
    assert rows == again.rows("BTCUSDT", None, None, 10_000) != other.rows("BTCUSDT", None, None, 10_000)
    assert len(rows) == 270 and rows[-1].funding_time_ms <= start_ms < rows[-1].funding_time_ms + FUNDING_INTERVAL_MS
    assert all(b.funding_time_ms - a.funding_time_ms == FUNDING_INTERVAL_MS for a, b in zip(rows, rows[1:]))
    assert all(r.funding_time_ms % FUNDING_INTERVAL_MS == 0 for r in rows)
    rates = [r.rate_units for r in rows]
    assert min(rates) < 0 < max(rates) and max(abs(r) for r in rates) <= 300_000
    announced = one.announced_units("BTCUSDT")
    new = one.settle_until(rows[-1].funding_time_ms + FUNDING_INTERVAL_MS, lambda symbol: 6_180_000_000_000)
    assert (new[0].symbol, new[0].rate_units) == ("BTCUSDT", announced) and len(new) == 2


def test_funding_rate_pages_ascending_by_start_time_end_time_and_limit() -> None:
    """fundingRate: default the last 100, paging from startTime covers every row once, endTime cuts,
    rows in Binance's shape; bad limit and unknown symbol are Binance errors."""
    with running(market="futures") as sim:
        status, latest, _ = http_get(sim, "/fapi/v1/fundingRate?symbol=BTCUSDT")
        assert status == 200 and len(latest) == 100
        assert list(latest[0]) == ["symbol", "fundingRate", "fundingTime", "markPrice"]
        assert all(decimals(r["fundingRate"]) == 8 and decimals(r["markPrice"]) == 8 for r in latest)
        pages, start = [], 0
        while True:
            _, page, _ = http_get(sim, f"/fapi/v1/fundingRate?symbol=BTCUSDT&startTime={start}&limit=40")
            if not page:
                break
            pages.extend(page)
            start = page[-1]["fundingTime"] + 1
        times = [r["fundingTime"] for r in pages]
        assert times == sorted(set(times)) and len(times) == 270 and pages[-100:] == latest
        cut = times[50]
        _, until, _ = http_get(sim, f"/fapi/v1/fundingRate?symbol=BTCUSDT&endTime={cut}&limit=10")
        assert [r["fundingTime"] for r in until] == times[41:51]
        _, window, _ = http_get(sim, f"/fapi/v1/fundingRate?symbol=BTCUSDT&startTime={times[3]}&endTime={times[5]}")
        assert [r["fundingTime"] for r in window] == times[3:6]
        _, both, _ = http_get(sim, "/fapi/v1/fundingRate?limit=1000")
        assert {r["symbol"] for r in both} == {"BTCUSDT", "ETHUSDT"} and len(both) == 540
        assert http_get(sim, "/fapi/v1/fundingRate?symbol=BTCUSDT&limit=1001")[1]["code"] == -1130
        assert http_get(sim, "/fapi/v1/fundingRate?symbol=NOPEUSDT")[1]["code"] == -1121


def test_funding_rate_has_its_own_limit_with_retry_after() -> None:
    """Beyond funding_limit_per_5m requests fundingRate answers 429 with Retry-After; others still answer."""
    with running(market="futures", funding_limit_per_5m=3) as sim:
        statuses = [http_get(sim, "/fapi/v1/fundingRate?symbol=ETHUSDT&limit=1")[0] for _ in range(3)]
        status, body, headers = http_get(sim, "/fapi/v1/fundingRate?symbol=ETHUSDT&limit=1")
        assert statuses == [200, 200, 200] and status == 429 and body["code"] == -1003
        assert 1 <= int(headers["Retry-After"]) <= 300
        assert http_get(sim, "/fapi/v1/premiumIndex?symbol=ETHUSDT")[0] == 200


def test_premium_index_and_spot_has_neither_endpoint() -> None:
    """premiumIndex answers the mark of the markPrice stream, index, rates and next funding; spot 404s."""
    with running(market="futures") as sim:
        with ws_connect(sim.ws_url(MARK_PATH)) as ws:
            mark = recv_json(ws)
        status, one, _ = http_get(sim, "/fapi/v1/premiumIndex?symbol=BTCUSDT")
        _, every, _ = http_get(sim, "/fapi/v1/premiumIndex")
    assert status == 200 and list(one) == ["symbol", "markPrice", "indexPrice", "estimatedSettlePrice",
                                           "lastFundingRate", "interestRate", "nextFundingTime", "time"]
    assert one["lastFundingRate"] == mark["r"] and one["nextFundingTime"] == mark["T"]
    assert abs(float(one["markPrice"]) / float(mark["p"]) - 1) < 0.01
    assert [r["symbol"] for r in every] == ["BTCUSDT", "ETHUSDT"]
    with running() as sim:
        assert urllib_status(sim, "/fapi/v1/fundingRate?symbol=BTCUSDT") == 404
        assert urllib_status(sim, "/fapi/v1/premiumIndex") == 404


# ------------------------------------------------------------------------------------------------
# replay
# ------------------------------------------------------------------------------------------------


def test_futures_replay_sends_the_recorded_book_ticker_frames_in_order() -> None:
    """Replaying the usdm recording at speed 0 sends its bookTicker frames byte for byte, in order, beside
    its trades; the sent-quote log holds them with T; funding settles as the clock passes 00:00 UTC."""
    recorded = recorded_frames(USDM_BTC_0808, BOOK_MARKER)
    trades = recorded_frames(USDM_BTC_0808, '@trade"')
    with running(market="futures", replay_files=(binance_file(USDM_BTC_0808),), speed=0,
                 wait_for_subscriber=True) as sim:
        with ws_connect(sim.ws_url("/public/stream?streams=btcusdt@bookTicker/btcusdt@trade")) as ws:
            sent = [ws.recv(timeout=RECV_TIMEOUT_S) for _ in range(len(recorded) + len(trades))]
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.3)
        log = sim.sent_quotes("BTCUSDT")
        _, records, _ = http_get(sim, "/sim/quotes?symbol=BTCUSDT")
        stats = sim.stats()["symbols"]["BTCUSDT"]
        _, settled, _ = http_get(sim, "/fapi/v1/fundingRate?symbol=BTCUSDT&limit=1")
    assert [m for m in sent if BOOK_MARKER in m] == recorded
    assert [m for m in sent if '@trade"' in m] == trades
    events = [json.loads(frame)["data"] for frame in recorded]
    assert [(q.update_id, q.ts_ms, q.bid, q.bid_qty, q.ask, q.ask_qty) for q in log] == \
        [(e["u"], e["T"], float(e["b"]), float(e["B"]), float(e["a"]), float(e["A"])) for e in events]
    assert records == [{k: e[k] for k in ("u", "T", "b", "B", "a", "A")} for e in events]
    assert stats["frames_sent"]["bookTicker"] == stats["quotes_sent"] == len(recorded)
    assert all(isinstance(parse_message(frame, "trade"), Quote) for frame in recorded)
    assert events[0]["T"] < 1_723_161_600_000 <= events[-1]["T"]  # the recording passes 2024-08-09 00:00 UTC
    assert settled[0]["fundingTime"] == 1_723_161_600_000
    assert abs(float(settled[0]["markPrice"]) / float(events[-1]["b"]) - 1) < 0.001  # the mark of that moment


def test_spot_replay_interleaves_recorded_quotes_with_trades_at_the_send_time() -> None:
    """Spot replay: each symbol's bookTicker and trade frames as recorded, on one combined connection; the
    log times spot quotes by their send time, which never runs backwards."""
    files = (SPOT_BTC_0808, SPOT_ETH_0808)
    streams = "btcusdt@trade/btcusdt@bookTicker/ethusdt@trade/ethusdt@bookTicker"
    recorded = {marker: [f for r in files for f in recorded_frames(r, marker)] for marker in (BOOK_MARKER, '@trade"')}
    total = sum(len(frames) for frames in recorded.values())
    with running(replay_files=tuple(binance_file(r) for r in files), speed=0, wait_for_subscriber=True) as sim:
        with ws_connect(sim.ws_url(f"/stream?streams={streams}")) as ws:
            sent = [ws.recv(timeout=RECV_TIMEOUT_S) for _ in range(total)]
        log = sim.sent_quotes("ETHUSDT")
    for marker, frames in recorded.items():
        for symbol in ("btcusdt", "ethusdt"):
            mine = f'"{symbol}@'
            assert [m for m in sent if marker in m and mine in m] == [f for f in frames if mine in f]
    eth = [json.loads(f)["data"] for f in recorded[BOOK_MARKER] if '"ethusdt@' in f]
    assert [q.update_id for q in log] == [e["u"] for e in eth]
    assert [q.ts_ms for q in log] == sorted(q.ts_ms for q in log)
    first_trade = next(i for i, m in enumerate(sent) if '@trade"' in m)
    assert first_trade < len(sent) // 2 and any(BOOK_MARKER in m for m in sent[first_trade:])  # interleaved


def test_a_replayed_dump_sends_no_quotes() -> None:
    """A Binance trades dump holds no quotes: its replay sends its trades and no bookTicker frame at all."""
    with running(replay_files=(binance_file(AGG_DUMP),), speed=0, wait_for_subscriber=True) as sim:
        with ws_connect(sim.ws_url("/stream?streams=btcusdt@bookTicker/btcusdt@aggTrade")) as ws:
            first = recv_json(ws)
            wait_for(lambda: sim.stats()["symbols"]["BTCUSDT"]["agg_trades"] >= 1000)
        stats = sim.stats()["symbols"]["BTCUSDT"]
    assert first["stream"] == "btcusdt@aggTrade"
    assert stats["quotes_sent"] == 0 and "bookTicker" not in stats["frames_sent"]


# ------------------------------------------------------------------------------------------------
# faults
# ------------------------------------------------------------------------------------------------


def test_drop_every_counts_quote_frames_and_cuts_quote_streams() -> None:
    """drop_every counts bookTicker frames: a quote-only connection is dropped (1006) after N of them,
    and the log holds exactly the quotes that connection received."""
    with running(drop_every=25) as sim:
        with ws_connect(sim.ws_url("/ws/btcusdt@bookTicker")) as ws:
            received = collect(ws, 25)
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=RECV_TIMEOUT_S)
        assert closed_code(closed.value) == 1006
        logged = [q.update_id for q in sim.sent_quotes("BTCUSDT")]
    assert logged == [q["u"] for q in received]


def classify(message: str | bytes) -> str:
    """'quote' for a good bookTicker text frame, 'binary' for a binary one, else the BadFrame kind the
    product's parser gives."""
    if isinstance(message, bytes):
        return "binary"
    try:
        parsed = parse_message(message, "trade", received_ms=1)
    except BadFrame as error:
        return error.kind
    return "quote" if isinstance(parsed, Quote) else type(parsed).__name__


@pytest.mark.parametrize("market", [SPOT, FUTURES])
def test_junk_gap_and_resend_apply_to_quote_frames(market: str) -> None:
    """junk_every sends corrupted bookTicker frames the parser refuses; resend repeats one (a stale u); the
    log holds each good update once, in order, exactly those received."""
    path = "/ws/btcusdt@bookTicker" if market == SPOT else FUTURES_BOOK_PATH
    with running(market=market, junk_every=3, resend_every=7) as sim:
        with ws_connect(sim.ws_url(path)) as ws:
            messages = [ws.recv(timeout=RECV_TIMEOUT_S) for _ in range(60)]
        logged = [q.update_id for q in sim.sent_quotes("BTCUSDT")]
    kinds = [classify(m) for m in messages]
    assert set(kinds) == {"quote", "binary", "not_json", "bad_number", "unknown_event"} | (
        {"missing_field"} if market == FUTURES else set())  # spot without u is no bookTicker: unknown
    assert sum(k != "quote" for k in kinds) >= 10
    ids = [json.loads(m)["u"] for m, k in zip(messages, kinds) if k == "quote"]
    first_seen = list(dict.fromkeys(ids))
    assert len(first_seen) < len(ids)  # a resent frame: its u is not above the last one
    assert logged[: len(first_seen)] == first_seen == sorted(first_seen)


def test_gap_every_skips_quote_frames_and_the_log_leaves_them_out() -> None:
    """gap_every skips bookTicker frames on the socket; skipped updates are not in the sent log."""
    with running(gap_every=5, gap_size=3) as sim:
        with ws_connect(sim.ws_url("/ws/btcusdt@bookTicker")) as ws:
            received = [q["u"] for q in collect(ws, 30)]
        wait_for(lambda: sim.stats()["faults"].get("gap_frames", 0) >= 15)
        logged = [q.update_id for q in sim.sent_quotes("BTCUSDT")]
    assert logged[:30] == received and sim.stats()["faults"]["gap_frames"] >= 15


def test_drop_all_and_server_shutdown_cut_quote_and_mark_streams() -> None:
    """drop_all cuts the futures bookTicker connection abruptly; serverShutdown closes the markPrice one."""
    with running(market="futures", shutdown_grace_s=0.1) as sim:
        with ws_connect(sim.ws_url(FUTURES_BOOK_PATH)) as book:
            recv_json(book)
            sim.control(drop_all=True)
            assert closed_code(read_until_closed(book)) == 1006
        with ws_connect(sim.ws_url(MARK_PATH)) as mark:
            recv_json(mark)
            sim.control(server_shutdown=True)
            assert closed_code(read_until_closed(mark)) == 1001
