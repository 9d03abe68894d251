"""The wire layer: URLs, frame parsers on every kind of recorded real frame, REST rows, pacing."""
from __future__ import annotations

import json

import pytest

from pairdesk import binance
from pairdesk.binance import BadFrame, Control, Trade
from conftest import binance_file
from recordings import other_frame_count, recorded_frames, trade_events

MIDNIGHT_0809_MS = 1_723_161_600_000  # 2024-08-09 00:00:00 UTC
# The first @trade frame of hftbacktest's full spot/btcusdt_20240808.gz (after the recorder's timestamp), byte for byte.
FIRST_SPOT_FRAME = ('{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,'
                    '"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}')


def parse_recording(relative: str, kind: str) -> tuple[list[Trade], int]:
    trades, skipped = [], 0
    for frame in recorded_frames(binance_file(relative)):
        item = binance.parse_message(frame, kind)
        if type(item) is Trade:
            trades.append(item)
        else:  # bookTicker quotes (stored apart) and depth (not stored)
            skipped += 1
    return trades, skipped


@pytest.mark.parametrize(
    ("relative", "symbol"),
    [
        ("hftbacktest/spot/btcusdt_20240808.gz", "BTCUSDT"),
        ("hftbacktest/spot/ethusdt_20240808.gz", "ETHUSDT"),
        ("hftbacktest/spot/btcusdt_20240809.gz", "BTCUSDT"),
        ("hftbacktest/spot/btcusdt_20230405.dat.gz", "BTCUSDT"),
        ("hftbacktest/usdm/btcusdt_20240808.gz", "BTCUSDT"),
        ("hftbacktest/usdm/ethusdt_20240808.gz", "ETHUSDT"),
    ],
)
def test_recorded_trade_frames_parse_exactly(relative, symbol):
    """Every @trade frame of a real recording parses, ids are contiguous, depth/bookTicker are skipped."""
    trades, skipped = parse_recording(relative, "trade")
    recorded = trade_events(relative)  # the same frames decoded with json alone
    count, first_id = len(recorded), recorded[0]["t"]
    assert len(trades) == count > 500
    assert skipped > 0 and skipped == other_frame_count(relative)  # the files interleave bookTicker (and depth)
    assert {t.symbol for t in trades} == {symbol}
    ids = [t.trade_id for t in trades]
    assert ids[0] == first_id and ids == list(range(first_id, first_id + count))
    assert all(t.price > 0 and t.qty > 0 and 10**12 < t.ts_ms < 10**13 for t in trades)
    assert [(t.ts_ms, t.price, t.qty, t.is_buyer_maker) for t in trades] == [
        (e["T"], float(e["p"]), float(e["q"]), e["m"]) for e in recorded]


def test_spot_days_continue_across_midnight():
    """The 2024-08-09 spot recordings start with the trade id after the 2024-08-08 ones end (BTC and ETH)."""
    for symbol in ("btc", "eth"):
        before = trade_events(f"hftbacktest/spot/{symbol}usdt_20240808.gz")
        after = trade_events(f"hftbacktest/spot/{symbol}usdt_20240809.gz")
        assert after[0]["t"] == before[-1]["t"] + 1
        assert before[0]["T"] < MIDNIGHT_0809_MS < after[-1]["T"]


def test_recorded_spot_trade_matches_its_frame():
    """Strings become numbers exactly: the recorded spot trade 3735693015 (the last of 2024-08-08)."""
    trades, _ = parse_recording("hftbacktest/spot/btcusdt_20240808.gz", "trade")
    assert trades[-1] == Trade("BTCUSDT", 3735693015, 1723161601271, 61685.99, 0.0014, True)


def test_first_spot_trade_matches_its_frame():
    """Strings become numbers exactly: the first recorded spot trade's frame (copied from the full recording)."""
    assert binance.parse_message(FIRST_SPOT_FRAME, "trade") == Trade("BTCUSDT", 3735683259, 1723161255342, 61837.63,
                                                                     0.02, True)


def test_recorded_futures_agg_trades_parse():
    """The 2021 futures @aggTrade frames parse (a before s, no M); klines, depth, bookTicker skipped."""
    trades, skipped = parse_recording("cryptofeed/BINANCE_FUTURES.ws.1.0", "aggTrade")
    assert len(trades) == 91
    assert {t.symbol for t in trades} == {"SUSHIUSDT", "CTKUSDT", "AKROUSDT", "KEEPUSDT"}
    assert skipped == other_frame_count("cryptofeed/BINANCE_FUTURES.ws.1.0") >= 12  # every other stream once or more
    ctk = [t for t in trades if t.symbol == "CTKUSDT"][0]
    assert ctk == Trade("CTKUSDT", 16599292, 1626992741421, 1.011, 10.0, False)


def test_trade_stream_refuses_agg_trades():
    """A trade-id connection that receives an aggTrade counts it as bad instead of mixing id spaces."""
    frame = next(f for f in recorded_frames(binance_file("cryptofeed/BINANCE_FUTURES.ws.1.0")) if "aggTrade\"" in f)
    with pytest.raises(BadFrame) as excinfo:
        binance.parse_message(frame, "trade")
    assert excinfo.value.kind == "unexpected_event"


SPOT_TRADE = {"e": "trade", "E": 1723161255343, "s": "BTCUSDT", "t": 3735683259, "p": "61837.63000000",
              "q": "0.02000000", "T": 1723161255342, "m": True, "M": True}


def frame_with(**changes) -> str:
    event = {**SPOT_TRADE, **changes}
    return json.dumps({"stream": "btcusdt@trade", "data": {k: v for k, v in event.items() if v is not ...}})


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("not json at all", "not_json"),
        ('{"stream":"btcusdt@trade","data":{"e":"trade"', "not_json"),
        ("[1, 2, 3]", "not_object"),
        (frame_with(t=...), "missing_field"),
        (frame_with(p="abc"), "bad_number"),
        (frame_with(p=61837.63), "bad_number"),
        (frame_with(p="NaN"), "bad_number"),
        (frame_with(p="-1"), "bad_number"),
        (frame_with(p="0"), "bad_number"),
        (frame_with(t="3735683259"), "bad_id"),
        (frame_with(t=True), "bad_id"),
        (frame_with(T=1.5), "bad_time"),
        (frame_with(m="true"), "bad_flag"),
        (frame_with(s=None), "bad_symbol"),
        ('{"e":"mystery","E":1}', "unknown_event"),
        ('{"hello":"world"}', "unknown_event"),
    ],
)
def test_malformed_frames_raise_bad_frame_with_kind(raw, kind):
    """Non-JSON, wrong types and missing ids are refused with a countable kind, never stored."""
    with pytest.raises(BadFrame) as excinfo:
        binance.parse_message(raw, "trade")
    assert excinfo.value.kind == kind


def test_unknown_extra_keys_are_tolerated():
    """Newer frames add keys (futures nq/st): they are ignored, the trade still parses."""
    raw = json.dumps({"e": "aggTrade", "E": 2, "a": 7, "s": "ETHUSDT", "p": "2600.10", "q": "1.5", "f": 10, "l": 12,
                      "T": 1, "m": False, "nq": "1.5", "st": 0, "zz": [1]})
    assert binance.parse_message(raw, "aggTrade") == Trade("ETHUSDT", 7, 1, 2600.1, 1.5, False)


def test_raw_frames_and_microsecond_times():
    """Raw (unwrapped) frames parse too; microsecond trade times become milliseconds."""
    raw = json.dumps({**SPOT_TRADE, "T": 1723161255342123})
    assert binance.parse_message(raw, "trade").ts_ms == 1723161255342


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ('{"e":"serverShutdown","E":1767225600000}', "server_shutdown"),
        ('{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1767225600000}}', "server_shutdown"),
        ('{"result":null,"id":1}', "result"),
        ('{"code":2,"msg":"Invalid request: unknown variant"}', "error"),
    ],
)
def test_control_messages(raw, kind):
    """serverShutdown (raw and combined), SUBSCRIBE answers and errors are control events."""
    item = binance.parse_message(raw, "trade")
    assert isinstance(item, Control) and item.kind == kind


def test_stream_urls():
    """Spot URLs sit at the root; futures aggTrade under /market, futures trade under /public."""
    assert binance.combined_stream_url("wss://stream.binance.com:9443", "spot", "trade", ["BTCUSDT", "ETHUSDT"]) == \
        "wss://stream.binance.com:9443/stream?streams=btcusdt@trade/ethusdt@trade"
    assert binance.combined_stream_url("wss://fstream.binance.com", "futures", "aggTrade", ["BTCUSDT"]) == \
        "wss://fstream.binance.com/market/stream?streams=btcusdt@aggTrade"
    assert binance.raw_stream_url("wss://fstream.binance.com/", "futures", "trade", "ETHUSDT") == \
        "wss://fstream.binance.com/public/ws/ethusdt@trade"
    assert binance.raw_stream_url("ws://127.0.0.1:9000", "spot", "aggTrade", "ETHUSDT") == \
        "ws://127.0.0.1:9000/ws/ethusdt@aggTrade"


def test_rest_rows_parse():
    """historicalTrades and aggTrades rows become the same Trade records as the stream's."""
    row = {"id": 3735683259, "price": "61837.63000000", "qty": "0.02000000", "quoteQty": "1236.7526",
           "time": 1723161255342, "isBuyerMaker": True, "isBestMatch": True}
    assert binance.parse_rest_trade(row, "BTCUSDT") == Trade("BTCUSDT", 3735683259, 1723161255342, 61837.63, 0.02,
                                                               True)
    agg = {"a": 26129, "p": "0.01633102", "q": "4.70443515", "f": 27781, "l": 27781, "T": 1498793709153, "m": True,
           "M": True}
    assert binance.parse_rest_agg_trade(agg, "LTCBTC") == Trade("LTCBTC", 26129, 1498793709153, 0.01633102,
                                                                4.70443515, True)
    with pytest.raises(BadFrame):
        binance.parse_rest_agg_trade({**agg, "p": None}, "LTCBTC")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_weight_pacer_keeps_under_budget_and_honours_retry_after():
    """Requests wait once the minute's share is spent, the exchange's count wins, Retry-After pauses."""
    clock = FakeClock()
    pacer = binance.WeightPacer(limit_per_min=100, share=0.5, clock=clock)
    for _ in range(2):
        assert pacer.delay_for(25) == 0
        pacer.spend(25)
    assert pacer.delay_for(25) == pytest.approx(60)
    clock.now += 60
    assert pacer.delay_for(25) == 0
    pacer.observe("45")  # other clients on this IP used weight too
    assert pacer.delay_for(25) == pytest.approx(60)
    clock.now += 60
    pacer.pause(7)
    assert pacer.delay_for(1) == pytest.approx(7)


def serve_json(body: object):
    """A real HTTP server on a free loopback port answering every GET with ``body`` (test helper)."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            payload = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize(
    ("info", "expected_error"),
    [
        ({"symbols": [{"symbol": "BTCUSDT"}, {"symbol": "ETHUSDT"}]}, None),  # no "status": trading
        ({"symbols": []}, None),  # lists nothing: cannot tell, so no refusal
        ({"symbols": [{"symbol": "BTCUSDT", "status": "TRADING"}, {"symbol": "ETHUSDT", "status": "BREAK"}]},
         "unknown symbol(s) for spot: ETHUSDT (not TRADING in exchangeInfo)"),
    ],
)
def test_symbol_check_is_strict_only_when_exchange_info_says_something(info, expected_error):
    """A trimmed or empty exchangeInfo never refuses good symbols; a symbol not TRADING is refused."""
    import asyncio

    from pairdesk.ingest import cli as data_ingestor
    server = serve_json(info)
    try:
        async def check() -> str | None:
            rest = binance.BinanceRest(f"http://127.0.0.1:{server.server_port}", "spot", "trade")
            try:
                return await data_ingestor.check_symbols(rest, ["BTCUSDT", "ETHUSDT"])
            finally:
                await rest.close()

        assert asyncio.run(check()) == expected_error
    finally:
        server.shutdown()
