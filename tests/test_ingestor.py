"""The real ingestor process against the local exchange: every trade exactly once, whatever happens.

Each test runs ``data_ingestor.py`` as a subprocess, driven by its command-line flags only, against
``exchange_sim`` on a free loopback port, then compares the database row by row with the
exchange's ground truth (every trade it made, with the strings it sent).
"""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from pairdesk import store
from pairdesk.sim.exchange import ExchangeSim, run_in_thread

SYMBOLS = ("BTCUSDT", "ETHUSDT")
SETTLE_TIMEOUT_S = 30.0


class IngestorProcess:
    """``python data_ingestor.py ...`` with its log in a file."""

    def __init__(self, db: Path | str, port: int, *extra: str, market: str = "spot", ws_port: int | None = None,
                 symbols: tuple[str, ...] = SYMBOLS) -> None:
        self.db = db
        self.log_path = (Path(tempfile.mkdtemp(prefix="ingestor-")) / "ingestor.log" if store.is_url(db)
                         else Path(db).with_suffix(".log"))
        self.argv = [sys.executable, str(REPO_ROOT / "data_ingestor.py"), "--db", str(db),
                     "--symbols", ",".join(s.lower() for s in symbols), "--market", market,
                     "--ws-url", f"ws://127.0.0.1:{ws_port or port}", "--rest-url", f"http://127.0.0.1:{port}",
                     *extra]
        self.proc: subprocess.Popen | None = None

    running: list[IngestorProcess] = []  # killed at the end of each test, whatever happened

    def start(self) -> IngestorProcess:
        self.proc = subprocess.Popen(self.argv, stderr=open(self.log_path, "a"), cwd=REPO_ROOT)
        IngestorProcess.running.append(self)
        return self

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, float]:
        """Send ``sig``; returns (exit code, seconds it took to exit)."""
        started = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(10)
        return code, time.monotonic() - started

    def wait_connected(self, timeout_s: float = 15.0) -> None:
        wait_until(lambda: "connected to" in self.log() or "polling REST" in self.log(), timeout_s, self.log)


def wait_until(condition, timeout_s: float, describe=lambda: "") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout_s} s\n{describe()}")


def stored_rows(db: Path | str, symbol: str) -> list[tuple]:
    try:
        conn = store.open_reader(db)
    except store.StoreError:
        return []
    try:
        return conn.execute("SELECT trade_id, ts_ms, price, qty, is_buyer_maker FROM trades WHERE symbol = ? "
                            "ORDER BY trade_id", (symbol,)).fetchall()
    except store.database_errors():
        return []
    finally:
        conn.close()


def truth_rows(sim: ExchangeSim, symbol: str, kind: str = "trade") -> list[tuple]:
    id_key = "t" if kind == "trade" else "a"
    return [(r[id_key], r["T"], float(r["p"]), float(r["q"]), int(r["m"])) for r in sim.history(symbol, kind)]


def assert_every_trade_once(sim: ExchangeSim, ingestor: IngestorProcess, kind: str = "trade") -> int:
    """Pause the exchange, wait for the ingestor to settle, compare every row; returns rows compared."""
    sim.control(paused=True)
    compared = 0
    for symbol in SYMBOLS:
        truth = truth_rows(sim, symbol, kind)
        assert truth, f"the exchange made no {symbol} trades"
        wait_until(lambda: stored_rows(ingestor.db, symbol)[-1:] == truth[-1:] and
                   len(stored_rows(ingestor.db, symbol)) >= len(truth), SETTLE_TIMEOUT_S,
                   lambda: f"{symbol}: stored {len(stored_rows(ingestor.db, symbol))} of {len(truth)}\n"
                           f"{ingestor.log()[-3000:]}")
        assert stored_rows(ingestor.db, symbol) == truth
        compared += len(truth)
    return compared


@pytest.fixture(autouse=True)
def no_ingestor_left_behind():
    """Kill any ingestor a test started and did not stop (a failed assertion, say)."""
    yield
    while IngestorProcess.running:
        proc = IngestorProcess.running.pop().proc
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture
def exchange(request):
    """A local exchange in this process (paused until the first subscriber), with the test's switches."""
    options = {"rate_per_s": 300.0, "seed": 11, "wait_for_subscriber": True, "ping_interval_s": 5.0}
    marker = request.node.get_closest_marker("exchange")
    if marker:
        options.update(marker.kwargs)
    with run_in_thread(ExchangeSim(**options)) as sim:
        yield sim


def run_for(seconds: float) -> None:
    time.sleep(seconds)


@pytest.mark.exchange(drop_every=300, junk_every=97, resend_every=53, gap_every=211, gap_size=7)
def test_drops_junk_resends_and_unseen_gaps_lose_and_double_nothing(exchange, database):
    """Abrupt drops, junk, resent frames and skipped frames: every trade id once, with the prices sent."""
    ingestor = IngestorProcess(database, exchange.port).start()
    run_for(6)
    compared = assert_every_trade_once(exchange, ingestor)
    code, took = ingestor.stop()
    assert code == 0 and took < 2.0
    log = ingestor.log()
    assert compared > 500
    assert re.search(r"gap of \d+ trades", log) and "filled" in log and "reconnecting in" in log
    assert "bad frame skipped" in log
    faults = exchange.stats()["faults"]
    assert faults, "the exchange injected no faults"
    status = store.read_feed_status(store.open_reader(database))
    assert set(status["symbol"]) == set(SYMBOLS) and (status["bad_frames"] > 0).all()
    assert (status["state"] == "stopped").all()


def test_kill_9_then_restart_loses_nothing(exchange, database):
    """kill -9 loses at most the unflushed batch, and the restart refills it from REST."""
    ingestor = IngestorProcess(database, exchange.port).start()
    run_for(3)
    ingestor.proc.kill()
    ingestor.proc.wait()
    run_for(2)  # the market keeps trading while we are down
    restarted = IngestorProcess(database, exchange.port).start()
    restarted.wait_connected()
    run_for(2)
    assert_every_trade_once(exchange, restarted)
    assert "resuming after stored trade id" in restarted.log()
    assert restarted.stop()[0] == 0


@pytest.mark.exchange(silent_after=400, silent_for_s=600.0)
def test_silent_connection_is_replaced(exchange, database):
    """An open connection that stops sending trades is noticed, replaced, and what it missed is fetched."""
    ingestor = IngestorProcess(database, exchange.port, "--silence-timeout", "1.5").start()
    wait_until(lambda: "no trade frame" in ingestor.log(), 20, ingestor.log)
    run_for(2)
    assert_every_trade_once(exchange, ingestor)
    assert ingestor.log().count("connected to") >= 2
    assert ingestor.stop()[0] == 0


def test_server_shutdown_and_connection_age_reconnect_without_loss(exchange, database):
    """serverShutdown and the (shrunk) 24-hour limit make the ingestor reconnect, losing nothing."""
    ingestor = IngestorProcess(database, exchange.port, "--max-connection-age", "2").start()
    ingestor.wait_connected()
    run_for(1)
    exchange.control(server_shutdown=True)
    run_for(4)
    assert_every_trade_once(exchange, ingestor)
    log = ingestor.log()
    assert "serverShutdown" in log and "old (Binance cuts at 24 h)" in log
    assert ingestor.stop(signal.SIGINT)[0] == 0


@pytest.mark.exchange(gap_every=150, gap_size=20, rest_429=2, retry_after_s=1.0)
def test_rest_429_retry_after_is_honoured(exchange, database):
    """Backfill answered 429 waits for Retry-After, then fills every gap."""
    ingestor = IngestorProcess(database, exchange.port).start()
    run_for(4)
    assert_every_trade_once(exchange, ingestor)
    assert "Retry-After" in ingestor.log()
    assert ingestor.stop()[0] == 0


@pytest.mark.exchange(market="futures", drop_every=250, gap_every=170, gap_size=5)
def test_futures_agg_trades_every_aggregate_once(exchange, database):
    """USD-M futures aggTrade (the default futures stream, under /market): every aggregate id once."""
    ingestor = IngestorProcess(database, exchange.port, market="futures").start()
    run_for(5)
    assert_every_trade_once(exchange, ingestor, kind="aggTrade")
    assert store.read_metadata(store.open_reader(database))["stream"] == "aggTrade"
    assert ingestor.stop()[0] == 0


@pytest.mark.exchange(wait_for_subscriber=False)
def test_rest_transport_polls_every_trade(exchange, database):
    """--transport rest stores every trade by polling from the last stored id."""
    ingestor = IngestorProcess(database, exchange.port, "--transport", "rest").start()
    wait_until(lambda: stored_rows(database, "BTCUSDT"), 15, ingestor.log)
    run_for(3)
    exchange.control(paused=True)
    for symbol in SYMBOLS:  # polling starts from the recent trades, so compare from the first stored id
        truth = truth_rows(exchange, symbol)
        wait_until(lambda: stored_rows(database, symbol)[-1:] == truth[-1:], SETTLE_TIMEOUT_S, ingestor.log)
        start = stored_rows(database, symbol)[0][0]
        assert stored_rows(database, symbol) == [row for row in truth if row[0] >= start]
    status = store.read_feed_status(store.open_reader(database))
    assert set(status["transport"]) == {"rest"}
    assert ingestor.stop()[0] == 0


@pytest.mark.exchange(wait_for_subscriber=False)
def test_websocket_failures_fall_back_to_rest_polling(exchange, database, unused_port):
    """A WebSocket that cannot connect while REST answers: polling takes over and the status says so."""
    ingestor = IngestorProcess(database, exchange.port, ws_port=unused_port).start()
    wait_until(lambda: "polling REST" in ingestor.log(), 30, ingestor.log)
    run_for(2.5)
    status = store.read_feed_status(store.open_reader(database))
    assert set(status["transport"]) == {"rest"} and set(status["state"]) == {"polling"}
    assert len(stored_rows(database, "ETHUSDT")) > 0
    assert ingestor.stop()[0] == 0


def test_database_of_the_other_market_is_refused(exchange, database):
    """A futures ingestor on a spot database: one-line error, exit 2, nothing stored is lost."""
    store.write_trades(database, [("BTCUSDT", 1, 1_700_000_000_000, 1.0, 1.0, True)], market="spot")
    proc = subprocess.run(IngestorProcess(database, exchange.port, market="futures").argv, capture_output=True,
                          text=True, timeout=30, cwd=REPO_ROOT)
    assert proc.returncode == 2
    error_lines = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(error_lines) == 1 and "holds spot trade data" in error_lines[0]
    assert len(stored_rows(database, "BTCUSDT")) == 1


def test_unknown_symbol_is_a_one_line_error(exchange, db_path):
    """A symbol the exchange does not list fails at start-up with one line, not a silent empty stream."""
    argv = IngestorProcess(db_path, exchange.port).argv
    argv[argv.index("--symbols") + 1] = "btcusdt,nosuchcoin"
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd=REPO_ROOT)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == \
        "data_ingestor: error: unknown symbol(s) for spot: NOSUCHCOIN (not TRADING in exchangeInfo)"
    assert not db_path.exists()


def test_help_documents_every_flag():
    """Every flag other tools drive is in --help."""
    out = subprocess.run([sys.executable, str(REPO_ROOT / "data_ingestor.py"), "--help"], capture_output=True,
                         text=True, timeout=30).stdout
    for flag in ("--db", "--symbols", "--market", "--stream", "--ws-url", "--rest-url", "--log-level",
                 "--transport", "--silence-timeout", "--backfill-depth", "--max-connection-age"):
        assert flag in out


@pytest.mark.exchange(symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"))
def test_watchlist_change_is_applied_live_on_the_open_connection(exchange, database):
    """A watchlist edit (API, dashboard) subscribes and unsubscribes live, with the new symbol's history; a
    symbol not trading is dropped and recorded with the reason."""
    ingestor = IngestorProcess(database, exchange.port).start()
    ingestor.wait_connected()
    wait_until(lambda: stored_rows(database, "ETHUSDT"), 15, ingestor.log)
    conn = store.open_writer(database, "spot", "trade")
    assert [s for s, _ in store.read_watchlist(conn)] == ["BTCUSDT", "ETHUSDT"]
    with store.transaction(conn):
        store.replace_watchlist(conn, ["BTCUSDT", "SOLUSDT", "NOSUCHCOIN"])
    wait_until(lambda: "SUBSCRIBE solusdt@trade" in ingestor.log(), 15, ingestor.log)
    run_for(3)
    exchange.control(paused=True)
    sol_truth = truth_rows(exchange, "SOLUSDT")
    wait_until(lambda: stored_rows(database, "SOLUSDT")[-1:] == sol_truth[-1:], SETTLE_TIMEOUT_S, ingestor.log)
    sol = stored_rows(database, "SOLUSDT")
    assert len(sol_truth) < 1000  # so the history fetched at SUBSCRIBE reaches back to the first trade:
    assert sol == sol_truth
    log = ingestor.log()
    assert "UNSUBSCRIBE ethusdt@trade" in log and "NOSUCHCOIN not TRADING" in log
    assert [s for s, _ in store.read_watchlist(conn)] == ["BTCUSDT", "SOLUSDT"]
    # why it left the list, and where the API and the page ask the exchange, are recorded for them
    assert store.read_refusals(conn) == {"NOSUCHCOIN": "refused: not trading on spot"}
    assert store.read_rest_url(conn) == f"http://127.0.0.1:{exchange.port}"
    status = store.read_feed_status(store.open_reader(database))
    assert set(status["symbol"]) == {"BTCUSDT", "SOLUSDT"}
    assert stored_rows(database, "ETHUSDT")[-1][0] < truth_rows(exchange, "ETHUSDT")[-1][0]
    assert "reconnecting in" not in log  # control messages stayed within the exchange's rate limit
    assert ingestor.stop()[0] == 0


@pytest.mark.exchange(gap_every=40, gap_size=3)
def test_trades_skipped_just_before_the_market_goes_quiet_are_fetched(exchange, database):
    """A tail gap (no later trade to reveal it) is found by the quiet-stream check, not at the next reconnect."""
    ingestor = IngestorProcess(database, exchange.port).start()
    run_for(3)
    exchange.control(gap_every=1, gap_size=1_000_000)  # from now on nothing reaches the socket
    run_for(0.5)
    assert_every_trade_once(exchange, ingestor)
    assert "reconnecting in" not in ingestor.log()  # found without replacing the connection
    assert "by REST" in ingestor.log()
    assert ingestor.stop()[0] == 0


def test_what_the_backfill_depth_cannot_reach_stays_an_open_gap(exchange, database):
    """A restart after a long outage fetches at most --backfill-depth trades; the rest is an open gap."""
    ingestor = IngestorProcess(database, exchange.port, "--backfill-depth", "30").start()
    wait_until(lambda: len(stored_rows(database, "BTCUSDT")) > 5, 15, ingestor.log)
    ingestor.proc.kill()
    ingestor.proc.wait()
    last_before = stored_rows(database, "BTCUSDT")[-1][0]
    wait_until(lambda: truth_rows(exchange, "BTCUSDT")[-1][0] > last_before + 100, 20)
    restarted = IngestorProcess(database, exchange.port, "--backfill-depth", "30").start()
    wait_until(lambda: "beyond --backfill-depth 30" in restarted.log(), 20, restarted.log)
    assert restarted.stop()[0] == 0
    conn = store.open_reader(database)
    gaps = store.read_gaps(conn, "BTCUSDT")
    open_gap = gaps[gaps["status"] == "open"].iloc[0]
    assert open_gap["from_id"] == last_before + 31
    assert store.count_missing(conn, "BTCUSDT", int(open_gap["from_id"]), int(open_gap["to_id"])) == \
        open_gap["to_id"] - open_gap["from_id"] + 1
    stored_ids = [row[0] for row in stored_rows(database, "BTCUSDT")]
    assert [i for i in stored_ids if last_before < i <= last_before + 30] == list(range(last_before + 1,
                                                                                         last_before + 31))
