"""The local exchange against Binance's wire format, the recorded real frames, and its fault switches.

Real servers on port 0, real WebSocket and HTTP clients, the recorded real frames in tests/data (or $BINANCE_DATA_DIR).
"""
from __future__ import annotations

import contextlib
import gzip
import json
import math
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from conftest import REPO_ROOT, binance_file
from pairdesk import store
from pairdesk.history import replay_source
from pairdesk.sim import (
    JUNK_KINDS,
    RESEND_DEPTH,
    ExchangeSim,
    MarketModel,
    SimConfigError,
    build_arg_parser,
    format_fixed,
    make_spec,
    parse_fixed,
    run_in_thread,
)
from pairdesk.sim.replay_sources import events_from_trade_rows

FAST_RATE_PER_S = 300.0  # trades per second in tests: plenty of frames quickly
RECV_TIMEOUT_S = 3.0
SPOT_BTC_0808 = "hftbacktest/spot/btcusdt_20240808.gz"
SPOT_ETH_0808 = "hftbacktest/spot/ethusdt_20240808.gz"
USDM_BTC_0808 = "hftbacktest/usdm/btcusdt_20240808.gz"
CRYPTOFEED_FUTURES = "cryptofeed/BINANCE_FUTURES.ws.1.0"


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def running(**options: Any) -> Iterator[ExchangeSim]:
    """An ExchangeSim in a background thread, fast and seeded unless told otherwise."""
    options.setdefault("rate_per_s", FAST_RATE_PER_S)
    options.setdefault("seed", 7)
    with run_in_thread(ExchangeSim(**options)) as sim:
        yield sim


def ws_connect(url: str) -> ClientConnection:
    """A WebSocket client that buffers everything it is sent, so closing never waits on unread frames."""
    return connect(url, max_queue=None, close_timeout=1)


def http_get(sim: ExchangeSim, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
    """GET a path; returns (status, decoded JSON body, headers) for any status."""
    request = urllib.request.Request(sim.http_url(path), headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers


def http_post(sim: ExchangeSim, path: str, body: Any) -> tuple[int, Any]:
    """POST a JSON body; returns (status, decoded JSON answer)."""
    request = urllib.request.Request(sim.http_url(path), data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def recv_json(ws: ClientConnection, timeout: float = RECV_TIMEOUT_S) -> Any:
    """The next message, decoded."""
    return json.loads(ws.recv(timeout=timeout))


def collect(ws: ClientConnection, count: int) -> list[Any]:
    """The next `count` messages, decoded."""
    return [recv_json(ws) for _ in range(count)]


def recv_until(ws: ClientConnection, predicate: Any, limit: int = 5000) -> Any:
    """Skip messages until one satisfies `predicate`; return it decoded."""
    for _ in range(limit):
        message = recv_json(ws)
        if predicate(message):
            return message
    raise AssertionError("expected message never came")


def recorded_frames(relative: str, marker: str) -> list[str]:
    """The raw frames (text after the recorder's timestamp) of lines containing `marker`."""
    path = binance_file(relative)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        return [line[line.index("{"):].rstrip("\n") for line in lines if marker in line]


def decimals(text: str) -> int:
    """Digits after the point in a Binance decimal string."""
    return len(text.partition(".")[2])


def closed_code(error: ConnectionClosed) -> int:
    """Close code as the client saw it; 1006 when no close frame arrived."""
    return error.rcvd.code if error.rcvd is not None else 1006


def read_until_closed(ws: ClientConnection) -> ConnectionClosed:
    """Read (and discard) until the server closes the connection; returns how it closed."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=RECV_TIMEOUT_S)
    return closed.value


def wait_for(condition: Any, timeout_s: float = 5.0) -> None:
    """Poll `condition` until it holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


# ------------------------------------------------------------------------------------------------
# pure pieces
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["61800.30", "0.006", "61837.63000000", "0.00009000", "10", "1.01100"])
def test_fixed_point_round_trips_binance_strings(text: str) -> None:
    """Binance's decimal strings survive parse and format unchanged, trailing zeros included."""
    assert format_fixed(*parse_fixed(text)) == text


def test_model_rate_grid_and_cointegration() -> None:
    """The model trades at the asked long-run rate, on tick and lot grids, with a bounded BTC/ETH spread."""
    specs = [make_spec("spot", "BTCUSDT"), make_spec("spot", "ETHUSDT")]
    model = MarketModel(specs, rate_per_s=50.0, rng=random.Random(3), start_us=0)
    fills, spreads = [], []
    for second in range(1, 3601):
        fills.extend(model.take(second * 1_000_000))
        spreads.append(math.log(model.fair_price("ETHUSDT")) - 1.2 * math.log(model.fair_price("BTCUSDT")))
    assert 0.75 * 50 * 3600 < len(fills) < 1.25 * 50 * 3600
    by_symbol = {spec.symbol: spec for spec in specs}
    for fill in fills:
        spec = by_symbol[fill.symbol]
        assert fill.price_units % spec.tick_units == 0 and fill.price_units > 0
        assert fill.qty_units % spec.step_units == 0 and fill.qty_units > 0
    assert max(spreads) - min(spreads) < 0.03  # the OU residual: ~15 bp std, no drift apart
    assert [f.time_us for f in fills] == sorted(f.time_us for f in fills)


# ------------------------------------------------------------------------------------------------
# frame shapes
# ------------------------------------------------------------------------------------------------


def test_spot_frames_have_the_recorded_shape() -> None:
    """Spot @trade frames match the 2024 recording key for key; @aggTrade follows Binance's documented order."""
    recorded = json.loads(recorded_frames(SPOT_BTC_0808, '@trade"')[0])["data"]
    with running() as sim:
        with ws_connect(sim.ws_url("/ws/btcusdt@trade")) as trades, \
                ws_connect(sim.ws_url("/ws/ethusdt@aggTrade")) as aggs:
            trade, agg = recv_json(trades), recv_json(aggs)
    assert list(trade) == list(recorded) == ["e", "E", "s", "t", "p", "q", "T", "m", "M"]
    assert list(agg) == ["e", "E", "s", "a", "p", "q", "f", "l", "T", "m", "M"]
    for frame in (trade, agg):
        assert decimals(frame["p"]) == decimals(recorded["p"]) == 8
        assert decimals(frame["q"]) == decimals(recorded["q"]) == 8
        assert isinstance(frame["m"], bool) and frame["M"] is True and frame["E"] >= frame["T"]
    assert trade["e"] == "trade" and trade["s"] == "BTCUSDT" and agg["e"] == "aggTrade" and agg["s"] == "ETHUSDT"


def test_futures_frames_have_the_recorded_shape() -> None:
    """Futures @trade matches the usdm recording, @aggTrade the cryptofeed one: keys, order, decimals, no M."""
    recorded_trade = json.loads(recorded_frames(USDM_BTC_0808, '@trade"')[0])["data"]
    recorded_agg = json.loads(recorded_frames(CRYPTOFEED_FUTURES, '@aggTrade"')[0])["data"]
    with running(market="futures") as sim:
        with ws_connect(sim.ws_url("/public/ws/btcusdt@trade")) as trades, \
                ws_connect(sim.ws_url("/market/ws/btcusdt@aggTrade")) as aggs:
            trade, agg = recv_json(trades), recv_json(aggs)
    assert list(trade) == list(recorded_trade) == ["e", "E", "T", "s", "t", "p", "q", "X", "m"]
    assert list(agg) == list(recorded_agg) == ["e", "E", "a", "s", "p", "q", "f", "l", "T", "m"]
    assert trade["X"] == "MARKET"
    for frame in (trade, agg):
        assert decimals(frame["p"]) == decimals(recorded_trade["p"]) == 2  # "61800.30"
        assert decimals(frame["q"]) == decimals(recorded_trade["q"]) == 3  # "0.006"
        assert Decimal(frame["p"]) % Decimal("0.10") == 0  # BTCUSDT perpetual tick


def test_futures_extra_fields_option() -> None:
    """With extra_fields, futures frames carry the newer nq (after q) and st keys."""
    with running(market="futures", extra_fields=True) as sim:
        with ws_connect(sim.ws_url("/market/ws/btcusdt@aggTrade")) as ws:
            agg = recv_json(ws)
    assert list(agg) == ["e", "E", "a", "s", "p", "q", "nq", "f", "l", "T", "m", "st"]
    assert agg["nq"] == agg["q"]


def test_combined_stream_wraps_each_event() -> None:
    """/stream?streams= wraps every event as {"stream", "data"} and serves all listed streams."""
    with running() as sim:
        with ws_connect(sim.ws_url("/stream?streams=btcusdt@trade/ethusdt@trade")) as ws:
            frames = collect(ws, 60)
    assert all(list(frame) == ["stream", "data"] for frame in frames)
    assert {f["stream"] for f in frames} == {"btcusdt@trade", "ethusdt@trade"}
    assert all(f["stream"] == f["data"]["s"].lower() + "@trade" for f in frames)


def test_microsecond_time_unit() -> None:
    """?timeUnit=MICROSECOND and X-MBX-TIME-UNIT give E and T in microseconds, consistent with ms."""
    with running() as sim:
        with ws_connect(sim.ws_url("/ws/btcusdt@trade?timeUnit=MICROSECOND")) as ws:
            frame = recv_json(ws)
        assert len(str(frame["T"])) == 16 and frame["E"] >= frame["T"]
        _, [micro], _ = http_get(sim, f"/api/v3/historicalTrades?symbol=BTCUSDT&fromId={frame['t']}&limit=1",
                                 {"X-MBX-TIME-UNIT": "MICROSECOND"})
        _, [milli], _ = http_get(sim, f"/api/v3/historicalTrades?symbol=BTCUSDT&fromId={frame['t']}&limit=1")
    assert micro["time"] == frame["T"] and milli["time"] == frame["T"] // 1000


# ------------------------------------------------------------------------------------------------
# live control messages and routing
# ------------------------------------------------------------------------------------------------


def test_subscribe_unsubscribe_list_and_set_property() -> None:
    """SUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY combined and UNSUBSCRIBE answer and act as Binance's do."""
    with running() as sim:
        with ws_connect(sim.ws_url("/ws")) as ws:
            ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@trade", "ethusdt@aggTrade"], "id": 1}))
            assert recv_json(ws) == {"result": None, "id": 1}
            assert recv_json(ws)["e"] in ("trade", "aggTrade")
            ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 3}))
            listing = recv_until(ws, lambda m: m.get("id") == 3)
            assert listing == {"result": ["btcusdt@trade", "ethusdt@aggTrade"], "id": 3}
            ws.send(json.dumps({"method": "SET_PROPERTY", "params": ["combined", True], "id": 5}))
            recv_until(ws, lambda m: m.get("id") == 5)
            assert set(recv_json(ws)) == {"stream", "data"}
            ws.send(json.dumps({"method": "UNSUBSCRIBE", "params": ["btcusdt@trade", "ethusdt@aggTrade"], "id": 312}))
            assert recv_until(ws, lambda m: m.get("id") == 312) == {"result": None, "id": 312}
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.3)
        with ws_connect(sim.ws_url("/stream")) as ws:
            ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@trade"], "id": "a1"}))
            assert recv_json(ws) == {"result": None, "id": "a1"}
            assert recv_json(ws)["stream"] == "ethusdt@trade"


def test_control_message_errors() -> None:
    """Malformed control messages get Binance's error objects and the connection stays open."""
    with running(paused=True) as sim:
        with ws_connect(sim.ws_url("/ws")) as ws:
            ws.send("{not json")
            assert recv_json(ws)["code"] == 3
            ws.send(json.dumps({"method": "FETCH", "params": [], "id": 2}))
            unknown = recv_json(ws)
            assert unknown["code"] == 2 and unknown["msg"].startswith("Invalid request: unknown variant `FETCH`")
            ws.send(json.dumps({"params": ["btcusdt@trade"], "id": 3}))
            assert recv_json(ws) == {"code": 2, "msg": "Invalid request: missing field `method`"}
            ws.send(json.dumps({"method": "GET_PROPERTY", "params": ["colour"], "id": 4}))
            assert recv_json(ws) == {"code": 0, "msg": "Unknown property", "id": 4}
            time.sleep(1.1)  # stay under 5 messages per second
            ws.send(json.dumps({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 6}))
            assert recv_json(ws) == {"code": 1, "msg": "Invalid value type: expected Boolean"}


@pytest.mark.parametrize(("market", "limit"), [("spot", 5), ("futures", 10)])
def test_too_many_incoming_messages_close_the_connection(market: str, limit: int) -> None:
    """More than 5 (spot) or 10 (futures) incoming messages in a second close the connection (1008)."""
    path = "/ws" if market == "spot" else "/market/ws"
    with running(market=market, paused=True) as sim:
        with ws_connect(sim.ws_url(path)) as ws:
            for n in range(limit):
                ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": n}))
            assert collect(ws, limit)[-1] == {"result": [], "id": limit - 1}
            ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": limit}))
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=RECV_TIMEOUT_S)
    assert closed_code(closed.value) == 1008


def test_futures_wrong_prefix_and_retired_root_paths_are_silent() -> None:
    """Futures streams on the wrong prefix or the retired root paths connect, acknowledge, and send nothing."""
    with running(market="futures") as sim:
        with ws_connect(sim.ws_url("/public/ws/btcusdt@trade")) as good, \
                ws_connect(sim.ws_url("/market/ws/btcusdt@trade")) as wrong_raw, \
                ws_connect(sim.ws_url("/public/stream?streams=btcusdt@aggTrade")) as wrong_combined, \
                ws_connect(sim.ws_url("/ws/btcusdt@aggTrade")) as root_raw, \
                ws_connect(sim.ws_url("/stream")) as root_bare:
            root_bare.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 9}))
            assert recv_json(root_bare) == {"result": None, "id": 9}
            assert len(collect(good, 30)) == 30  # the market is trading meanwhile
            for silent in (wrong_raw, wrong_combined, root_raw, root_bare):
                with pytest.raises(TimeoutError):
                    silent.recv(timeout=0.2)


def test_unknown_symbol_stream_is_silent() -> None:
    """A stream of a symbol the exchange does not list completes the handshake and stays silent."""
    with running() as sim:
        with ws_connect(sim.ws_url("/ws/foousdt@trade")) as ws:
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.3)


def test_unknown_paths_get_404() -> None:
    """Paths the market does not serve answer HTTP 404 (futures REST on spot, /market on spot)."""
    with running() as sim:
        assert urllib_status(sim, "/fapi/v1/ping") == 404
        assert urllib_status(sim, "/market/ws/btcusdt@aggTrade") == 404


def test_server_pings_and_drops_a_client_that_never_pongs() -> None:
    """The server pings every ping_interval_s and drops a client that does not answer in ping_timeout_s."""
    with running(paused=True, ping_interval_s=0.2, ping_timeout_s=0.3) as sim:
        with socket.create_connection((sim.host, sim.port), timeout=3) as raw:
            raw.sendall(b"GET /ws/btcusdt@trade HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        b"Sec-WebSocket-Version: 13\r\n\r\n")
            received = b""
            while b"\r\n\r\n" not in received:
                received += raw.recv(4096)
            assert received.startswith(b"HTTP/1.1 101")
            frames = received.partition(b"\r\n\r\n")[2]
            while chunk := raw.recv(4096):  # never answered: the server gives up and closes
                frames += chunk
    opcodes = []
    while frames:
        length = frames[1] & 0x7F
        opcodes.append(frames[0] & 0x0F)
        frames = frames[2 + length:]
    assert opcodes[0] == 0x9 and opcodes[-1] == 0x8  # ping first, a close frame last


def urllib_status(sim: ExchangeSim, path: str) -> int:
    """HTTP status of a plain GET."""
    try:
        with urllib.request.urlopen(sim.http_url(path), timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


# ------------------------------------------------------------------------------------------------
# REST
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("market", "path", "stream"), [
    ("spot", "/api/v3/historicalTrades", "/ws/btcusdt@trade"),
    ("futures", "/fapi/v1/historicalTrades", "/public/ws/btcusdt@trade"),
])
def test_rest_pages_by_from_id_match_the_ws_frames(market: str, path: str, stream: str) -> None:
    """Paging historicalTrades by fromId gives contiguous ids whose fields equal the WebSocket frames."""
    with running(market=market, api_key="test-key") as sim:
        with ws_connect(sim.ws_url(stream)) as ws:
            frames = collect(ws, 250)
        rows: list[dict[str, Any]] = []
        next_id = frames[0]["t"]
        while len(rows) < len(frames):
            status, page, _ = http_get(sim, f"{path}?symbol=BTCUSDT&fromId={next_id}&limit=100",
                                       {"X-MBX-APIKEY": "test-key"})
            assert status == 200 and page
            rows.extend(page)
            next_id = page[-1]["id"] + 1
    assert [r["id"] for r in rows] == list(range(frames[0]["t"], frames[0]["t"] + len(rows)))
    expected_keys = ["id", "price", "qty", "quoteQty", "time", "isBuyerMaker"]
    if market == "spot":
        expected_keys.append("isBestMatch")
    for frame, row in zip(frames, rows):
        assert list(row) == expected_keys
        assert (row["id"], row["price"], row["qty"], row["time"], row["isBuyerMaker"]) == \
            (frame["t"], frame["p"], frame["q"], frame["T"], frame["m"])
        assert Decimal(row["quoteQty"]) == (Decimal(row["price"]) * Decimal(row["qty"])).quantize(
            Decimal("0.00000001") if market == "spot" else Decimal(row["quoteQty"]), rounding="ROUND_DOWN")


@pytest.mark.parametrize(("market", "path"), [("spot", "/api/v3/aggTrades"), ("futures", "/fapi/v1/aggTrades")])
def test_agg_trades_cover_trade_ids_contiguously(market: str, path: str) -> None:
    """Aggregates have contiguous ids, f/l tile the trade ids, and follow the same-price/side/ms rule."""
    with running(market=market) as sim:
        wait_for(lambda: sim.stats()["symbols"]["BTCUSDT"]["agg_trades"] >= 300)
        first_agg = sim.stats()["symbols"]["BTCUSDT"]["first_agg_id"]
        aggs: list[dict[str, Any]] = []
        for _ in range(3):
            _, page, _ = http_get(sim, f"{path}?symbol=BTCUSDT&fromId={first_agg + len(aggs)}&limit=100")
            aggs.extend(page)
        trades = {t["t"]: t for t in sim.history("BTCUSDT", "trade")}
    assert [a["a"] for a in aggs] == list(range(first_agg, first_agg + 300))
    assert list(aggs[0]) == ["a", "p", "q", "f", "l", "T", "m"] + (["M"] if market == "spot" else [])
    assert aggs[0]["f"] == min(trades)
    for previous, agg in zip(aggs, aggs[1:]):
        assert agg["f"] == previous["l"] + 1
        last = trades[previous["l"]]
        first = trades[agg["f"]]
        assert (last["p"], last["m"], last["T"]) != (first["p"], first["m"], first["T"])  # would have merged
    for agg in aggs:
        members = [trades[i] for i in range(agg["f"], agg["l"] + 1)]
        assert {(t["p"], t["m"], t["T"]) for t in members} == {(agg["p"], agg["m"], agg["T"])}
        assert sum(Decimal(t["q"]) for t in members) == Decimal(agg["q"])


def test_agg_trades_time_window_rules() -> None:
    """startTime/endTime select by trade time; futures refuse fromId with times; windows over 1 h are refused."""
    with running(market="futures") as sim:
        wait_for(lambda: sim.stats()["symbols"]["BTCUSDT"]["agg_trades"] >= 100)
        aggs = sim.history("BTCUSDT", "aggTrade")
        start, end = aggs[20]["T"], aggs[60]["T"]
        _, window, _ = http_get(sim, f"/fapi/v1/aggTrades?symbol=BTCUSDT&startTime={start}&endTime={end}")
        assert window == [a for a in sim_rest_aggs(aggs) if start <= a["T"] <= end]
        status, error, _ = http_get(sim, f"/fapi/v1/aggTrades?symbol=BTCUSDT&fromId={aggs[0]['a']}&startTime={start}")
        assert (status, error["code"]) == (400, -1128)
        too_wide = f"startTime={start}&endTime={start + 3_600_001}"
        status, error, _ = http_get(sim, f"/fapi/v1/aggTrades?symbol=BTCUSDT&{too_wide}")
        assert (status, error["code"]) == (400, -1127)


def sim_rest_aggs(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ground-truth aggregates in the futures REST shape."""
    return [{k: a[k] for k in ("a", "p", "q", "f", "l", "T", "m")} for a in history]


def test_rest_errors_and_weight_header() -> None:
    """Bad requests get Binance's codes; every answer carries X-MBX-USED-WEIGHT-1M, trades weigh 25."""
    with running() as sim:
        wait_for(lambda: sim.stats()["symbols"]["BTCUSDT"]["trades"] >= 5)
        status, body, headers = http_get(sim, "/api/v3/trades?symbol=BTCUSDT&limit=5")
        used = int(headers["X-MBX-USED-WEIGHT-1M"])
        _, _, headers = http_get(sim, "/api/v3/trades?symbol=BTCUSDT&limit=5")
        assert status == 200 and len(body) == 5 and int(headers["X-MBX-USED-WEIGHT-1M"]) == used + 25
        cases = {
            "/api/v3/trades?symbol=DOGEBTC": (400, -1121),
            "/api/v3/trades": (400, -1102),
            "/api/v3/trades?symbol=BTCUSDT&limit=ten": (400, -1100),
            "/api/v3/trades?symbol=BTCUSDT&limit=1001": (400, -1130),
            "/api/v3/trades?symbol=BTCUSDT&fromid=1": (400, -1104),
            "/api/v3/historicalTrades?symbol=BTCUSDT&fromId=-3": (400, -1100),
        }
        for path, expected in cases.items():
            status, body, headers = http_get(sim, path)
            assert (status, body["code"]) == expected, path
            assert list(body) == ["code", "msg"] and "X-MBX-USED-WEIGHT-1M" in headers
    with running(market="futures", api_key="right") as sim:
        status, body, _ = http_get(sim, "/fapi/v1/historicalTrades?symbol=BTCUSDT")
        assert (status, body) == (401, {"code": -2014, "msg": "API-key format invalid."})
        status, body, _ = http_get(sim, "/fapi/v1/historicalTrades?symbol=BTCUSDT", {"X-MBX-APIKEY": "wrong"})
        assert (status, body["code"]) == (401, -2015)


def test_exchange_info_and_ticker() -> None:
    """exchangeInfo lists the filters Binance uses per market; ticker/price answers per symbol."""
    with running() as sim:
        _, info, _ = http_get(sim, "/api/v3/exchangeInfo?symbol=BTCUSDT")
        [btc] = info["symbols"]
        filters = {f["filterType"]: f for f in btc["filters"]}
        identity = [btc[k] for k in ("symbol", "status", "baseAsset", "quoteAsset")]
        assert identity == ["BTCUSDT", "TRADING", "BTC", "USDT"]
        assert (filters["PRICE_FILTER"]["tickSize"], filters["LOT_SIZE"]["stepSize"]) == ("0.01000000", "0.00001000")
        _, tickers, _ = http_get(sim, "/api/v3/ticker/price")
        assert [t["symbol"] for t in tickers] == ["BTCUSDT", "ETHUSDT"] and decimals(tickers[0]["price"]) == 8
        _, [eth], _ = http_get(sim, '/api/v3/ticker/price?symbols=["ETHUSDT"]'.replace('"', "%22"))
        assert list(eth) == ["symbol", "price"] and eth["symbol"] == "ETHUSDT"
    with running(market="futures") as sim:
        _, info, _ = http_get(sim, "/fapi/v1/exchangeInfo")
        filters = {f["filterType"]: f for f in info["symbols"][0]["filters"]}
        assert (filters["PRICE_FILTER"]["tickSize"], filters["LOT_SIZE"]["stepSize"]) == ("0.10", "0.001")
        _, ticker, _ = http_get(sim, "/fapi/v1/ticker/price?symbol=ETHUSDT")
        assert list(ticker) == ["symbol", "price", "time"]


def test_forced_429_and_418_carry_retry_after() -> None:
    """rest_429 / rest_418 answer the next K requests with that status and Retry-After, then recover."""
    with running(rest_429=2, retry_after_s=3) as sim:
        for _ in range(2):
            status, body, headers = http_get(sim, "/api/v3/ping")
            assert (status, body["code"], headers["Retry-After"]) == (429, -1003, "3")
        assert http_get(sim, "/api/v3/ping")[0] == 200
        sim.control(rest_418=1, retry_after_s=120)
        status, body, headers = http_get(sim, "/api/v3/ping")
        assert (status, headers["Retry-After"]) == (418, "120") and "banned until" in body["msg"]
        assert sim.stats()["faults"] == {"rest_429": 2, "rest_418": 1}


def test_weight_limit_answers_429_with_retry_after() -> None:
    """Going over the per-minute request weight gets HTTP 429 with Retry-After, like Binance."""
    with running(weight_limit_1m=60) as sim:
        statuses = [http_get(sim, "/api/v3/trades?symbol=BTCUSDT&limit=1") for _ in range(3)]
    assert [s[0] for s in statuses] == [200, 200, 429]
    assert 1 <= int(statuses[2][2]["Retry-After"]) <= 60 and statuses[2][1]["code"] == -1003


# ------------------------------------------------------------------------------------------------
# faults
# ------------------------------------------------------------------------------------------------


def test_drop_every_closes_abruptly_and_rest_fills_the_gap() -> None:
    """drop_every cuts the TCP connection with no close frame after N frames; trades missed are in REST."""
    with running(drop_every=15) as sim:
        with ws_connect(sim.ws_url("/ws/btcusdt@trade")) as ws:
            before = collect(ws, 15)
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=RECV_TIMEOUT_S)
        assert closed_code(closed.value) == 1006
        time.sleep(0.3)  # the client's reconnect delay: trades keep happening
        with ws_connect(sim.ws_url("/ws/btcusdt@trade")) as ws:
            after = recv_json(ws)
        last_seen = before[-1]["t"]
        assert after["t"] > last_seen + 1
        _, gap, _ = http_get(sim, f"/api/v3/historicalTrades?symbol=BTCUSDT&fromId={last_seen + 1}&limit=1000")
    assert [r["id"] for r in gap[: after["t"] - last_seen - 1]] == list(range(last_seen + 1, after["t"]))


def test_silent_after_goes_quiet_answers_pings_then_resumes_with_a_gap() -> None:
    """silent_after/silent_for_s stop market data while the connection stays up and answers pings."""
    with running(silent_after=5, silent_for_s=1.0) as sim:
        with ws_connect(sim.ws_url("/ws/btcusdt@trade")) as ws:
            before = collect(ws, 5)
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.5)
            assert ws.ping().wait(1.0)
            after = recv_json(ws)
    assert after["t"] > before[-1]["t"] + 1


def classify_junk(message: str | bytes) -> str | None:
    """Which JUNK_KINDS a message is, or None for a good trade frame."""
    if isinstance(message, bytes):
        return "binary"
    if message.startswith("<html"):
        return "not_json"
    try:
        frame = json.loads(message)
    except json.JSONDecodeError:
        return "truncated_json"
    if frame.get("e") == "mystery":
        return "unknown_event"
    if "t" not in frame:
        return "missing_id"
    if frame["p"] == "abc":
        return "non_numeric_price"
    return None


def test_junk_every_rotates_plausible_corruptions() -> None:
    """junk_every injects each kind of corrupted frame in turn without consuming real trades."""
    with running(junk_every=2) as sim:
        with ws_connect(sim.ws_url("/ws/btcusdt@trade")) as ws:
            messages = [ws.recv(timeout=RECV_TIMEOUT_S) for _ in range(18)]
    kinds = [classify_junk(m) for m in messages]
    assert [k for k in kinds if k] == list(JUNK_KINDS)
    good = [json.loads(m)["t"] for m, k in zip(messages, kinds) if k is None]
    assert good == list(range(good[0], good[0] + 12))


def test_resend_every_repeats_a_recent_frame() -> None:
    """resend_every sends an earlier frame again, byte for byte, a few frames later."""
    with running(resend_every=4) as sim:
        with ws_connect(sim.ws_url("/ws/btcusdt@trade")) as ws:
            messages = [ws.recv(timeout=RECV_TIMEOUT_S) for _ in range(30)]
    real: list[str] = []  # first sightings, in order
    distances = []  # how many real frames back each repeat reaches
    for message in messages:
        if message in real:
            distances.append(len(real) - 1 - real.index(message))
        else:
            real.append(message)
    assert len(distances) >= 5 and all(1 <= d <= RESEND_DEPTH for d in distances)
    assert distances[-1] == RESEND_DEPTH


def test_gap_every_skips_trades_that_rest_still_has() -> None:
    """gap_every/gap_size skip K frames on the socket after every N; REST history has them."""
    with running(gap_every=10, gap_size=3) as sim:
        with ws_connect(sim.ws_url("/ws/btcusdt@trade")) as ws:
            ids = [f["t"] for f in collect(ws, 30)]
        steps = [b - a for a, b in zip(ids, ids[1:])]
        assert steps == ([1] * 9 + [4]) * 2 + [1] * 9
        missing = sim.history("BTCUSDT", "trade", from_id=ids[9] + 1, limit=3)
    assert [t["t"] for t in missing] == [ids[9] + 1, ids[9] + 2, ids[9] + 3]


@pytest.mark.parametrize(("path", "wrapped"), [("/ws/btcusdt@trade", False), ("/stream?streams=btcusdt@trade", True)])
def test_server_shutdown_is_announced_then_the_connection_closes(path: str, wrapped: bool) -> None:
    """server_shutdown sends {"e":"serverShutdown"} (combined: stream !serverShutdown), then closes (1001)."""
    with running(shutdown_grace_s=0.2) as sim:
        with ws_connect(sim.ws_url(path)) as ws:
            recv_json(ws)
            sim.control(server_shutdown=True)
            event = recv_until(ws, lambda m: "serverShutdown" in json.dumps(m))
            closed = read_until_closed(ws)
    if wrapped:
        assert event["stream"] == "!serverShutdown"
        event = event["data"]
    assert list(event) == ["e", "E"] and event["e"] == "serverShutdown"
    assert closed_code(closed) == 1001


def test_connection_lifetime_and_scheduled_shutdown() -> None:
    """max_connection_s closes each connection after S seconds; shutdown_after_s announces first."""
    with running(max_connection_s=0.4) as sim:
        with ws_connect(sim.ws_url("/ws/btcusdt@trade")) as ws:
            closed = read_until_closed(ws)
        assert closed_code(closed) == 1001 and closed.rcvd is not None
        assert closed.rcvd.reason == "connection lifetime exceeded"
    with running(shutdown_after_s=0.3, shutdown_grace_s=0.1) as sim:
        with ws_connect(sim.ws_url("/ws/btcusdt@trade")) as ws:
            assert recv_until(ws, lambda m: m.get("e") == "serverShutdown")
            assert closed_code(read_until_closed(ws)) == 1001


def test_http_control_pause_drop_all_and_validation() -> None:
    """POST /sim/control pauses and resumes trading, drops every connection, and refuses bad input whole."""
    with running() as sim:
        with ws_connect(sim.ws_url("/ws/btcusdt@trade")) as ws:
            recv_json(ws)
            assert http_post(sim, "/sim/control", {"paused": True}) == (200, {**sim.control(), "paused": True})
            count = sim.stats()["symbols"]["BTCUSDT"]["trades"]
            time.sleep(0.2)
            assert sim.stats()["symbols"]["BTCUSDT"]["trades"] == count
            status, answer = http_post(sim, "/sim/control", {"drop_all": True})
            assert status == 200
            assert closed_code(read_until_closed(ws)) == 1006
        status, answer = http_post(sim, "/sim/control", {"paused": False, "drop_evry": 3})
        assert status == 400 and "drop_evry" in answer["error"]
        status, answer = http_post(sim, "/sim/control", {"paused": False, "gap_every": -1})
        assert status == 400 and sim.control()["paused"] is True  # nothing applied
        http_post(sim, "/sim/control", {"paused": False})
        wait_for(lambda: sim.stats()["symbols"]["BTCUSDT"]["trades"] > count)


def test_shock_moves_one_symbols_price_level() -> None:
    """A shock of +5 % on ETHUSDT lifts its traded price by about 5 % and leaves BTCUSDT alone."""
    with running() as sim:
        wait_for(lambda: all(s["trades"] for s in sim.stats()["symbols"].values()))
        _, before, _ = http_get(sim, "/api/v3/ticker/price")
        status, _ = http_post(sim, "/sim/control", {"shock": {"symbol": "ETHUSDT", "pct": 5}})
        last_eth = sim.stats()["symbols"]["ETHUSDT"]["last_trade_id"]
        wait_for(lambda: sim.stats()["symbols"]["ETHUSDT"]["last_trade_id"] > last_eth + 5)
        _, after, _ = http_get(sim, "/api/v3/ticker/price")
    ratio = {b["symbol"]: float(a["price"]) / float(b["price"]) for a, b in zip(after, before)}
    assert status == 200
    assert 1.04 < ratio["ETHUSDT"] < 1.06 and 0.99 < ratio["BTCUSDT"] < 1.01


def test_control_body_split_across_packets() -> None:
    """A POST whose head and JSON body arrive in separate TCP writes is still understood."""
    with running() as sim:
        body = json.dumps({"junk_every": 7}).encode()
        with socket.create_connection((sim.host, sim.port), timeout=5) as raw:
            raw.sendall(b"POST /sim/control HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
            time.sleep(0.05)
            raw.sendall(body)
            answer = b""
            while chunk := raw.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200") and sim.control()["junk_every"] == 7


def test_history_endpoint_matches_the_python_api_and_stats() -> None:
    """/sim/history serves the same ground truth as ExchangeSim.history, and /sim/stats counts it."""
    with running() as sim:
        wait_for(lambda: sim.stats()["symbols"]["ETHUSDT"]["agg_trades"] >= 20)
        sim.control(paused=True)
        first = sim.stats()["symbols"]["ETHUSDT"]["first_trade_id"]
        _, trades, _ = http_get(sim, f"/sim/history?symbol=ETHUSDT&kind=trade&fromId={first + 3}&limit=10")
        _, aggs, _ = http_get(sim, "/sim/history?symbol=ETHUSDT&kind=aggTrade")
        _, stats, _ = http_get(sim, "/sim/stats")
        assert trades == sim.history("ETHUSDT", "trade", from_id=first + 3, limit=10)
        assert [t["t"] for t in trades] == list(range(first + 3, first + 13))
        assert list(trades[0]) == ["t", "p", "q", "T", "E", "m"]
        assert list(aggs[0]) == ["a", "p", "q", "f", "l", "T", "E", "m"]
        assert stats["symbols"]["ETHUSDT"]["agg_trades"] == len(aggs)
        assert http_get(sim, "/sim/history?symbol=NOPE")[0] == 400


# ------------------------------------------------------------------------------------------------
# replay and blast
# ------------------------------------------------------------------------------------------------


def frames_by_stream(frames: list[str]) -> dict[str, list[str]]:
    """Combined frames grouped by stream name, order kept."""
    grouped: dict[str, list[str]] = {}
    for frame in frames:
        grouped.setdefault(json.loads(frame)["stream"], []).append(frame)
    return grouped


@pytest.mark.parametrize(("market", "files", "path", "marker"), [
    ("spot", (SPOT_BTC_0808, SPOT_ETH_0808), "/stream?streams=btcusdt@trade/ethusdt@trade", '@trade"'),
    ("futures", (USDM_BTC_0808,), "/public/stream?streams=btcusdt@trade", '@trade"'),
    ("futures", (CRYPTOFEED_FUTURES,),
     "/market/stream?streams=sushiusdt@aggTrade/akrousdt@aggTrade/keepusdt@aggTrade/ctkusdt@aggTrade", '@aggTrade"'),
])
def test_replay_yields_the_recorded_frames_byte_for_byte(market: str, files: tuple[str, ...], path: str,
                                                          marker: str) -> None:
    """Replaying a recording sends exactly its trade (or aggTrade) frames, in order, byte for byte."""
    recorded = [frame for relative in files for frame in recorded_frames(relative, marker)]
    paths = tuple(binance_file(relative) for relative in files)
    with running(market=market, replay_files=paths, speed=0, wait_for_subscriber=True) as sim:
        with ws_connect(sim.ws_url(path)) as ws:
            sent = [ws.recv(timeout=RECV_TIMEOUT_S) for _ in range(len(recorded))]
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.3)
    assert frames_by_stream(sent) == frames_by_stream(recorded)


def test_replay_rest_only_returns_trades_that_already_happened() -> None:
    """At real-time replay speed REST shows only trades up to the replay clock, never the future."""
    path = binance_file(SPOT_BTC_0808)
    with running(replay_files=(path,), speed=1) as sim:
        time.sleep(0.5)
        _, server_time, _ = http_get(sim, "/api/v3/time")
        _, trades, _ = http_get(sim, "/api/v3/trades?symbol=BTCUSDT&limit=1000")
        _, aggs, _ = http_get(sim, "/api/v3/aggTrades?symbol=BTCUSDT&limit=1000")
    first = json.loads(recorded_frames(SPOT_BTC_0808, '@trade"')[0])["data"]  # id 3735683259 in the full file
    assert trades and trades[0]["id"] == first["t"] and len(trades) < 1000
    assert max(t["time"] for t in trades + [{"time": a["T"]} for a in aggs]) <= server_time["serverTime"]
    assert server_time["serverTime"] < first["T"] + 5_000  # the recording's first trade time + a few s


def test_replay_refuses_a_file_of_the_other_market() -> None:
    """Replaying futures frames on a spot sim fails at start with the option to use."""
    with pytest.raises(SimConfigError, match="--market futures"):
        with running(replay_files=(binance_file(USDM_BTC_0808),)):
            pass


def test_blast_sends_every_pregenerated_trade() -> None:
    """blast pre-generates N trades and sends them all, in id order, to the first subscriber."""
    with running(blast=20_000, symbols=("BTCUSDT",)) as sim:
        with ws_connect(sim.ws_url("/ws/btcusdt@trade")) as ws:
            ids = [json.loads(ws.recv(timeout=RECV_TIMEOUT_S))["t"] for _ in range(20_000)]
        wait_for(lambda: sim.stats()["blast"] is not None)
        blast = sim.stats()["blast"]
        _, last, _ = http_get(sim, "/api/v3/trades?symbol=BTCUSDT&limit=1")
    assert ids == list(range(ids[0], ids[0] + 20_000)) and last[0]["id"] == ids[-1]
    assert blast["frames"] == 20_000 and blast["frames_per_s"] > 0


# ------------------------------------------------------------------------------------------------
# replay of Binance dumps (read by pairdesk.history) and of databases (read through the store)
# ------------------------------------------------------------------------------------------------

AGG_DUMP = "HJB-PDE-TEAM-PROJECT/BTCUSDT-aggTrades-2026-01-01.csv"
DUMP_ROWS = 400
SPOT_TRADES_HEADER = "id,price,qty,quoteQty,time,isBuyerMaker,isBestMatch"
FUTURES_TRADES_HEADER = "id,price,qty,quote_qty,time,is_buyer_maker"
FUTURES_AGG_HEADER = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
Expected = list[tuple[int, str, str, int, bool]]  # (id, price text, qty text, T ms, is_buyer_maker)


def recorded_trades(relative: str) -> list[dict[str, Any]]:
    """The first DUMP_ROWS `@trade` events of a recording."""
    return [json.loads(frame)["data"] for frame in recorded_frames(relative, '@trade"')[:DUMP_ROWS]]


def write_dump(path: Path, header: str | None, lines: list[str], zipped: bool = False) -> Path:
    """A dump file named like Binance's (`path`), optionally a header row, optionally inside a .zip."""
    text = "\n".join(([header] if header else []) + lines) + "\n"
    if not zipped:
        path.write_text(text)
        return path
    archive = path.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped_file:
        zipped_file.writestr(path.name, text)
    return archive


def spot_trades_dump(tmp_path: Path, header: bool, micros: bool = False,
                     zipped: bool = False) -> tuple[Path, str, str, Expected]:
    """Spot trades as data.binance.vision writes them (True/False, 8 decimals), from the recorded frames."""
    trades = recorded_trades(SPOT_BTC_0808)
    lines = [f"{t['t']},{t['p']},{t['q']},{Decimal(t['p']) * Decimal(t['q']):.8f},"
             f"{t['T'] * 1000 + 417 if micros else t['T']},{t['m']},True" for t in trades]
    path = write_dump(tmp_path / "BTCUSDT-trades-2024-08-08.csv", SPOT_TRADES_HEADER if header else None, lines,
                      zipped)
    return path, "spot", "trade", [(t["t"], t["p"], t["q"], t["T"], t["m"]) for t in trades]


def futures_trades_dump(tmp_path: Path) -> tuple[Path, str, str, Expected]:
    """USD-M futures trades with their header row and true/false, from the recorded frames."""
    trades = recorded_trades(USDM_BTC_0808)
    lines = [f"{t['t']},{t['p']},{t['q']},{Decimal(t['p']) * Decimal(t['q'])},{t['T']},{str(t['m']).lower()}"
             for t in trades]
    path = write_dump(tmp_path / "BTCUSDT-trades-2024-08-08.csv", FUTURES_TRADES_HEADER, lines)
    return path, "futures", "trade", [(t["t"], t["p"], t["q"], t["T"], t["m"]) for t in trades]


def futures_agg_dump(tmp_path: Path) -> tuple[Path, str, str, Expected]:
    """USD-M futures aggTrades with their header row: one recorded trade per aggregate."""
    trades = recorded_trades(USDM_BTC_0808)
    lines = [f"{9_000_000 + n},{t['p']},{t['q']},{t['t']},{t['t']},{t['T']},{str(t['m']).lower()}"
             for n, t in enumerate(trades)]
    path = write_dump(tmp_path / "BTCUSDT-aggTrades-2024-08-08.csv", FUTURES_AGG_HEADER, lines)
    return path, "futures", "aggTrade", [(9_000_000 + n, t["p"], t["q"], t["T"], t["m"]) for n, t in enumerate(trades)]


def spot_agg_dump(tmp_path: Path) -> tuple[Path, str, str, Expected]:
    """The first rows of the real spot aggTrades dump (no header, microsecond times)."""
    lines = binance_file(AGG_DUMP).read_text().splitlines()[:DUMP_ROWS]
    path = write_dump(tmp_path / "BTCUSDT-aggTrades-2026-01-01.csv", None, lines)
    fields = [line.split(",") for line in lines]
    return path, "spot", "aggTrade", [(int(f[0]), f[1], f[2], int(f[5]) // 1000, f[6] == "True") for f in fields]


DUMP_LAYOUTS: dict[str, Callable[[Path], tuple[Path, str, str, Expected]]] = {
    "spot trades": lambda tmp: spot_trades_dump(tmp, header=False),
    "spot trades with a header row": lambda tmp: spot_trades_dump(tmp, header=True),
    "spot trades in microseconds": lambda tmp: spot_trades_dump(tmp, header=False, micros=True),
    "spot trades zipped": lambda tmp: spot_trades_dump(tmp, header=True, zipped=True),
    "futures trades": futures_trades_dump,
    "spot aggTrades": spot_agg_dump,
    "futures aggTrades": futures_agg_dump,
}


def replayed(path: Path, market: str, kind: str, count: int) -> list[dict[str, Any]]:
    """The ground truth of BTCUSDT after replaying `path` at full speed: `count` trades or aggregates."""
    counted = "trades" if kind == "trade" else "agg_trades"
    with running(market=market, replay_files=(path,), speed=0) as sim:
        wait_for(lambda: sim.stats()["symbols"]["BTCUSDT"][counted] == count)
        return sim.history("BTCUSDT", kind)


def test_replay_of_a_spot_trades_dump_with_a_header_row(tmp_path: Path) -> None:
    """A spot trades CSV with a header row (which the importer accepts) replays its trades exactly."""
    path, market, kind, expected = spot_trades_dump(tmp_path, header=True)
    assert path.read_text().startswith(SPOT_TRADES_HEADER + "\n")
    history = replayed(path, market, kind, len(expected))
    assert [(r["t"], r["p"], r["q"], r["T"], r["m"]) for r in history] == expected


@pytest.mark.parametrize("layout", DUMP_LAYOUTS)
def test_every_dump_layout_the_importer_accepts_replays(layout: str, tmp_path: Path) -> None:
    """Each dump layout of pairdesk.history replays with its ids, price and qty text, ms times and sides."""
    path, market, kind, expected = DUMP_LAYOUTS[layout](tmp_path)
    history = replayed(path, market, kind, len(expected))
    id_key = "t" if kind == "trade" else "a"
    assert [(r[id_key], r["p"], r["q"], r["T"], r["m"]) for r in history] == expected


def test_replay_of_a_klines_dump_is_refused_in_one_line(tmp_path: Path) -> None:
    """A klines file is history the importer takes, but no trades: replay refuses it, saying so."""
    klines = tmp_path / "BTCUSDT-1m-2024-08-08.csv"
    klines.write_text("1723161240000,61800.1,61850.2,61790.0,61820.5,12.5,1723161299999,772000.1,420,6.1,377000.2,0\n")
    with pytest.raises(SimConfigError, match="klines, not trades") as refused:
        with running(replay_files=(klines,)):
            pass
    assert "\n" not in str(refused.value)


def test_database_replay_source_reads_every_trade_by_id_in_pages(tmp_path: Path) -> None:
    """replay_source walks a database symbol by symbol in id order, page by page, with its market and stream."""
    db = tmp_path / "ticks.db"
    rows = [(symbol, 1_000 + n, 1723161255342 + n, 100.0 + n / 100, 0.5, n % 2 == 0)
            for symbol in ("ETHUSDT", "BTCUSDT") for n in reversed(range(25))]
    store.write_trades(db, rows, market="futures", stream="aggTrade")
    source = replay_source.read_stored_trades(db)
    assert (source.market, source.stream) == ("futures", "aggTrade")
    assert list(replay_source.iter_stored_trades(db, page_size=7)) == sorted(rows)
    assert list(source) == sorted(rows)


def test_old_module_address_still_exports_the_public_names() -> None:
    """`pairdesk.sim.exchange` (imported by other tests and tools) re-exports what `pairdesk.sim` exports."""
    from pairdesk.sim import exchange

    assert all(getattr(exchange, name) is getattr(sys.modules["pairdesk.sim"], name) for name in exchange.__all__)
    assert {"ExchangeSim", "run_in_thread", "SimConfig", "SimConfigError", "main"} <= set(exchange.__all__)


def test_stored_prices_become_text_without_losing_digits() -> None:
    """Float prices get one width per symbol, widened until every one is exact (the listing's at least)."""
    rows = [("ABCUSDT", 1, 1723161255342, 0.123, 2.0, False), ("ABCUSDT", 2, 1723161255343, 0.12345, 0.5, True)]
    events = list(events_from_trade_rows("futures", "trade", rows))
    assert [(e["p"], e["q"]) for e in events] == [("0.12300", "2.0"), ("0.12345", "0.5")]
    assert "M" not in events[0] and events[1]["m"] is True


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------


def start_cli(*options: str) -> tuple[subprocess.Popen[str], int]:
    """Start exchange_sim.py; returns the process and the port from its first stdout line."""
    process = subprocess.Popen([sys.executable, str(REPO_ROOT / "exchange_sim.py"), "--port", "0", *options],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.fullmatch(r"exchange_sim listening on 127\.0\.0\.1:(\d+)\n", line)
    assert match, line
    return process, int(match.group(1))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_cli_prints_the_listening_line_and_exits_cleanly_on_signal(signum: int) -> None:
    """The CLI's first stdout line names the port; SIGINT/SIGTERM stop it with exit code 0."""
    process, port = start_cli("--market", "futures")
    try:
        with ws_connect(f"ws://127.0.0.1:{port}/public/ws/btcusdt@trade") as ws:
            assert json.loads(ws.recv(timeout=RECV_TIMEOUT_S))["e"] == "trade"
            process.send_signal(signum)
            assert process.wait(timeout=2) == 0
    finally:
        process.kill()
        process.wait()


def test_cli_reports_bad_input_in_one_line() -> None:
    """A missing replay file or a port in use is one line on stderr and exit code 2."""
    result = subprocess.run([sys.executable, str(REPO_ROOT / "exchange_sim.py"), "--replay", "/nonexistent.gz"],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0 and "not found" in result.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = subprocess.run([sys.executable, str(REPO_ROOT / "exchange_sim.py"), "--port",
                                 str(busy.getsockname()[1])], capture_output=True, text=True, timeout=20)
    assert result.returncode == 2 and "--port" in result.stderr and result.stdout == ""


def test_every_cli_option_is_documented() -> None:
    """Each CLI option has help text (the options are the sim's public interface)."""
    undocumented = [a.option_strings for a in build_arg_parser()._actions if a.option_strings and not a.help]
    assert undocumented == []


def test_agg_trades_dump_replays_each_aggregate_with_its_first_and_last_trade_ids():
    """The real spot aggTrades dump replays with f / l and the texts exactly as the file writes them."""
    from pairdesk.sim.replay_sources import iter_replay_events

    path = binance_file(AGG_DUMP)
    rows = [line.split(",") for line in path.read_text().splitlines() if line]
    events = list(iter_replay_events(path))
    assert [(e["a"], e["p"], e["q"], e["f"], e["l"], e["m"]) for e in events] == \
        [(int(r[0]), r[1], r[2], int(r[3]), int(r[4]), r[6] == "True") for r in rows]
    assert all(e["T"] == int(r[5]) // 1000 for e, r in zip(events, rows))  # microseconds in the file
