"""Alerts with real parts: rules and events in a real SQLite file, the monitor thread behind a real writer,
webhooks to a real local HTTP server, and the real ingestor process against the local exchange.
"""
from __future__ import annotations

import dataclasses
import gzip
import http.server
import json
import math
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pairdesk.alerts import delivery as alert_delivery
from pairdesk.alerts import monitor as alert_monitor
from pairdesk.alerts import writing as alert_writing
from pairdesk import alerts
from pairdesk import analytics
from pairdesk.ingest import cli as data_ingestor
from pairdesk.alerts import repository
from pairdesk import store
from conftest import REPO_ROOT, binance_file, read_db
from pairdesk.sim.exchange import ExchangeSim, run_in_thread
from test_api import client_for
from test_ingestor import SYMBOLS, IngestorProcess, exchange, stored_rows, wait_until  # noqa: F401 (fixture)

T0_MS = 1_700_000_000_000  # data time of the constructed trades (not live: only data time completes bars)
LATENCY_BUDGET_S = 3.0  # issue 5: an event is in the database within 3 s of the move


# --------------------------------------------------------------------------- helpers


def price_rule(threshold: float, **fields) -> alerts.AlertRule:
    spec = {"kind": "price_cross", "symbols": ["BTCUSDT"], "params": {"threshold": threshold, "hysteresis": 1.0},
            "cooldown_s": 0.0, **fields}
    return alerts.validate_rule(spec, SYMBOLS)


class Feed:
    """Constructed trades into a real TradeWriter: one trade per data-time second per symbol."""

    def __init__(self, writer: store.TradeWriter) -> None:
        self.writer = writer
        self.next_id = {"BTCUSDT": 1, "ETHUSDT": 1}

    def prices(self, first_second: int, prices, symbol: str = "BTCUSDT") -> None:
        trades = []
        for offset, price in enumerate(prices):
            trades.append((symbol, self.next_id[symbol], T0_MS + (first_second + offset) * 1000 + 500, float(price),
                           1.0, False))
            self.next_id[symbol] += 1
        self.writer.submit(trades)



def rule_states(db: Path) -> dict[int, dict]:
    return read_db(db, lambda conn: {r.rule_id: s for r, _u, _d, s in repository.read_rule_states(conn)})


def events(db: Path, rule_id: int | None = None) -> pd.DataFrame:
    """Events oldest first."""
    frame = read_db(db, lambda conn: store.read_alert_events(conn, rule_id=rule_id))
    return frame.iloc[::-1].reset_index(drop=True)


def fired(db: Path, rule_id: int) -> list[tuple[int, str]]:
    """(data-time second, direction) of a rule's events, oldest first."""
    frame = events(db, rule_id)
    return [((ts - T0_MS) // 1000, d) for ts, d in zip(frame["ts_ms"], frame["direction"])]


def wait_evaluated(db: Path, rule_id: int, second: int, timeout_s: float = 10.0) -> None:
    """Wait until the monitor has evaluated (and stored) the rule up to bar ``second``."""
    def done():
        last = rule_states(db).get(rule_id, {}).get("last_bar_ms")
        return last is not None and last >= T0_MS + second * 1000
    wait_until(done, timeout_s, lambda: f"rule {rule_id} state: {rule_states(db).get(rule_id)}")


def add_rule(db: Path, rule: alerts.AlertRule) -> int:
    """Insert a rule the way the dashboard and the API do: their own writer connection, one transaction."""
    meta = read_db(db, store.read_metadata)
    conn = store.open_writer(db, meta["market"], meta["stream"], meta["source"])
    try:
        with store.transaction(conn):
            return repository.insert_rule(conn, rule)
    finally:
        conn.close()


def edit(db: Path, fn):
    conn = store.open_writer(db, "spot", "trade")
    try:
        with store.transaction(conn):
            return fn(conn)
    finally:
        conn.close()


@pytest.fixture
def writer(db_path):
    """A real single writer on a fresh database."""
    writer = store.TradeWriter(db_path, "spot", "trade", flush_interval_ms=50).start()
    yield writer
    writer.close()


@pytest.fixture
def monitor_factory(db_path, writer):
    """Start AlertMonitors on the fixture's database (no default rules); all are stopped at the end."""
    started = []

    def start(**options) -> alert_monitor.AlertMonitor:
        options = {"seed_defaults": False, "poll_interval_s": 0.05, **options}
        monitor = alert_monitor.AlertMonitor(db_path, writer, SYMBOLS, **options).start()
        started.append(monitor)
        return monitor

    yield start
    for monitor in started:
        monitor.stop()


class Recorder(http.server.ThreadingHTTPServer):
    """A local HTTP server that records each POST's JSON body and answers with scripted statuses.

    ``hold``: every request waits, counted in ``waiting``, until ``release`` is set (a stuck endpoint).
    """

    def __init__(self, statuses=(), hold: bool = False) -> None:
        self.bodies: list[dict] = []
        self.statuses = list(statuses)
        self.waiting = 0
        self.release = threading.Event()
        if not hold:
            self.release.set()
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                recorder.waiting += 1
                recorder.release.wait()
                status = recorder.statuses.pop(0) if recorder.statuses else 200
                if status == 200:
                    recorder.bodies.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    def __enter__(self) -> Recorder:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()


@pytest.fixture
def ingestors():
    """IngestorProcess instances to stop (or kill) at the end, whatever the test did."""
    started: list[IngestorProcess] = []
    yield started
    for ingestor in started:
        if ingestor.proc is not None and ingestor.proc.poll() is None:
            ingestor.proc.kill()
            ingestor.proc.wait()


# --------------------------------------------------------------------------- storage


def test_rules_are_stored_listed_updated_switched_and_deleted(db_path):
    """The tickstore functions the dashboard and the API use: every field survives, each change is reported."""
    store.write_trades(db_path, [("BTCUSDT", 1, T0_MS, 100.0, 1.0, False)])
    rule = alerts.validate_rule({"name": "desk z", "kind": "zscore", "symbols": ["BTCUSDT", "ETHUSDT"],
                                 "timeframe": "1m", "window": 30, "hedge": "theilsen",
                                 "params": {"threshold": 2.5, "side": "up"}, "cooldown_s": 120,
                                 "webhook_url": "https://example.com/hook"}, SYMBOLS)
    rule_id = edit(db_path, lambda conn: repository.insert_rule(conn, rule))
    conn = store.open_reader(db_path)
    [(stored, updated_ms, data_ms, state)] = repository.read_rule_states(conn)
    assert stored == dataclasses.replace(rule, rule_id=rule_id)
    assert repository.list_rules(conn) == [stored]
    assert data_ms == T0_MS and state == {}  # evaluation starts at the data there was: no history
    changed = dataclasses.replace(rule, params={**rule.params, "threshold": 3.0})
    assert edit(db_path, lambda c: repository.update_rule(c, rule_id, changed))
    assert repository.list_rules(conn)[0].params["threshold"] == 3.0
    assert repository.read_rule_states(conn)[0][1] > updated_ms
    assert edit(db_path, lambda c: store.set_alert_rule_enabled(c, rule_id, False))
    assert repository.list_rules(conn)[0].enabled is False
    assert not edit(db_path, lambda c: repository.update_rule(c, 999, changed))
    assert not edit(db_path, lambda c: store.set_alert_rule_enabled(c, 999, True))
    assert edit(db_path, lambda c: store.delete_alert_rule(c, rule_id))
    assert not edit(db_path, lambda c: store.delete_alert_rule(c, rule_id))
    assert repository.list_rules(conn) == []


def test_a_bad_rule_is_rejected_and_nothing_is_saved(db_path):
    """A rule that fails validation (at the form, or when stored) raises RuleError and leaves the table empty."""
    store.write_trades(db_path, [])
    with pytest.raises(alerts.RuleError, match="unknown symbol 'DOGEUSDT'"):
        alerts.validate_rule({"kind": "price_cross", "symbols": ["DOGEUSDT"], "params": {"threshold": 1}}, SYMBOLS)
    broken = dataclasses.replace(price_rule(100.0), window=0)  # built by hand, bypassing validate_rule
    with pytest.raises(alerts.RuleError, match="window must be a positive whole number of bars, got 0"):
        edit(db_path, lambda conn: repository.insert_rule(conn, broken))
    nan_threshold = dataclasses.replace(price_rule(100.0), params={"threshold": math.nan})
    with pytest.raises(alerts.RuleError, match="threshold must be a finite number"):
        edit(db_path, lambda conn: repository.insert_rule(conn, nan_threshold))
    assert read_db(db_path, repository.list_rules) == []


def test_events_are_read_newest_first_filtered_and_acknowledged(db_path):
    """read_alert_events filters by time, rule and kind, newest first; acknowledging counts only new ones."""
    store.write_trades(db_path, [])
    rows = [{"ts_ms": T0_MS + i * 1000, "rule_id": 1 + i % 2, "rule_name": "r", "kind": ("zscore", "price_cross")[i % 2],
             "symbols": "BTCUSDT", "timeframe": "1s", "value": float(i), "threshold": 1.0, "direction": "UP",
             "message": f"event {i}"} for i in range(6)]
    ids = edit(db_path, lambda conn: store.save_alert_progress(conn, rows, {}))
    conn = store.open_reader(db_path)
    frame = store.read_alert_events(conn)
    assert list(frame["message"]) == [f"event {i}" for i in range(5, -1, -1)]
    assert (frame["detected_ms"] > 0).all() and frame["acknowledged_ms"].isna().all()
    assert list(store.read_alert_events(conn, since_ms=T0_MS + 3000)["value"]) == [5.0, 4.0, 3.0]
    assert list(store.read_alert_events(conn, rule_id=2, limit=2)["value"]) == [5.0, 3.0]
    assert set(store.read_alert_events(conn, kind="zscore")["kind"]) == {"zscore"}
    assert edit(db_path, lambda c: store.acknowledge_alert_events(c, ids[:2])) == 2
    assert edit(db_path, lambda c: store.acknowledge_alert_events(c, ids[:3])) == 1
    assert store.read_alert_events(conn)["acknowledged_ms"].notna().sum() == 3


def test_a_failing_alert_write_never_rolls_back_the_writers_trades(db_path, writer):
    """An alert write that fails inside the writer's batch is undone alone: the batch's trades are committed."""
    Feed(writer).prices(0, [100.0, 101.0])
    result = writer.call(alert_writing.isolated(
        lambda conn: store.save_alert_progress(conn, [{"ts_ms": T0_MS}], {}))).result(5)
    assert isinstance(result, KeyError)
    wait_until(lambda: len(stored_rows(db_path, "BTCUSDT")) == 2, 5)
    assert writer.error is None and len(events(db_path)) == 0


# --------------------------------------------------------------------------- the monitor


def test_monitor_fires_once_per_crossing_and_a_restart_neither_refires_nor_skips(db_path, writer, monitor_factory,
                                                                                caplog):
    """Events are stored once per crossing with one INFO line each; a new monitor resumes after the last bar."""
    caplog.set_level("INFO", logger="pairdesk.alerts.monitor")
    rule_id = add_rule(db_path, price_rule(105.0))
    feed = Feed(writer)
    monitor = monitor_factory()
    feed.prices(0, [100] * 10 + [110] * 10 + [100] * 11)  # bar 30 completes bar 29
    wait_evaluated(db_path, rule_id, 29)
    assert fired(db_path, rule_id) == [(10, "UP"), (20, "DOWN")]
    messages = [r.getMessage() for r in caplog.records if r.getMessage().startswith("alert: ")]
    assert messages[0].startswith("alert: BTCUSDT price 110 crossed 105 UP (1s) [rule")
    monitor.stop()

    monitor_factory()  # a restart: state comes from the database
    feed.prices(31, [110] * 9)  # a new crossing at bar 31 ...
    wait_evaluated(db_path, rule_id, 38)
    feed.prices(40, [110] * 3)
    wait_evaluated(db_path, rule_id, 41)
    assert fired(db_path, rule_id) == [(10, "UP"), (20, "DOWN"), (31, "UP")]  # ... fires once; nothing again
    assert rule_states(db_path)[rule_id]["since_ms"] == T0_MS


def test_rules_changed_by_another_connection_are_picked_up(db_path, writer, monitor_factory):
    """Rules added, edited, switched off and on by another connection take effect from the data they were made at."""
    feed = Feed(writer)
    monitor = monitor_factory()
    feed.prices(0, [100] * 6)
    wait_until(lambda: len(stored_rows(db_path, "BTCUSDT")) == 6, 5)
    rule_id = add_rule(db_path, price_rule(105.0))  # made at bar 5: bars 0..4 are history, never evaluated
    feed.prices(6, [110] * 5)
    wait_evaluated(db_path, rule_id, 9)
    assert fired(db_path, rule_id) == [(6, "UP")]
    assert rule_states(db_path)[rule_id]["since_ms"] == T0_MS + 5000

    edit(db_path, lambda conn: repository.update_rule(conn, rule_id, price_rule(120.0)))
    feed.prices(11, [125] * 5)
    wait_evaluated(db_path, rule_id, 14)
    assert fired(db_path, rule_id)[-1] == (11, "UP")
    assert events(db_path, rule_id)["threshold"].iloc[-1] == 120.0

    edit(db_path, lambda conn: store.set_alert_rule_enabled(conn, rule_id, False))
    wait_until(lambda: monitor.stats()["rules"] == 0, 5)
    witness = add_rule(db_path, price_rule(125.0))  # enabled, same symbol: proves the monitor saw bars 16..20
    wait_until(lambda: monitor.stats()["rules"] == 1, 5)
    feed.prices(16, [100] * 3 + [130] * 3)
    wait_evaluated(db_path, witness, 20)
    assert fired(db_path, witness) == [(19, "UP")]
    assert len(events(db_path, rule_id)) == 2  # switched off: the crossing at bar 19 is not evaluated

    edit(db_path, lambda conn: store.set_alert_rule_enabled(conn, rule_id, True))  # at bar 21, price 130
    feed.prices(22, [100] * 3 + [130] * 3)
    wait_evaluated(db_path, rule_id, 26)
    assert fired(db_path, rule_id)[2:] == [(22, "DOWN"), (25, "UP")]


def test_a_live_bar_completes_by_the_wall_clock_when_the_market_goes_quiet(db_path, writer, monitor_factory):
    """Live data with no later trade: the crossing bar is still evaluated, about WALL_GRACE_MS after it ended."""
    rule_id = add_rule(db_path, price_rule(105.0))
    monitor_factory()
    second = store.now_ms() // 1000 * 1000
    writer.submit([("BTCUSDT", 1, second - 2000, 100.0, 1.0, False), ("BTCUSDT", 2, second - 1000 + 10, 110.0, 1.0,
                                                                          False)])  # then silence
    wait_until(lambda: len(events(db_path, rule_id)) == 1, 3 + alert_monitor.WALL_GRACE_MS / 1000)
    assert events(db_path, rule_id)["ts_ms"].iloc[0] == second - 1000


def test_webhook_posts_the_event_as_json_to_a_local_server(db_path, writer, monitor_factory):
    """A rule's webhook receives the event and the rule name as JSON; the event's delivery says sent."""
    with Recorder(statuses=[503]) as server:  # the first attempt fails and is retried
        sender = alert_delivery.WebhookSender(writer, timeout_s=2.0, backoff_s=0.05).start()
        rule_id = add_rule(db_path, price_rule(105.0, name="BTC over 105", webhook_url=server.url))
        monitor_factory(webhooks=sender)
        Feed(writer).prices(0, [100] * 3 + [110] * 3)
        wait_until(lambda: server.bodies, 10)
        body = server.bodies[0]
        stored = events(db_path, rule_id).iloc[0]
        assert body == {"event_id": int(stored["event_id"]), "ts_ms": T0_MS + 3000, "rule_id": rule_id,
                        "rule_name": "BTC over 105", "kind": "price_cross", "symbols": "BTCUSDT", "timeframe": "1s",
                        "value": 110.0, "threshold": 105.0, "direction": "UP",
                        "message": "BTCUSDT price 110 crossed 105 UP (1s)",
                        "link": "http://127.0.0.1:8501/?a=BTCUSDT&tf=1s&tab=prices"}
        wait_until(lambda: events(db_path, rule_id)["delivery"].iloc[0] == "sent", 5)
        assert dict(sender.counts) == {"sent": 1, "retried": 1}
        sender.stop()


def test_webhook_failures_are_counted_logged_and_never_block_ingestion(db_path, writer, unused_port, caplog):
    """A dead endpoint is retried, then counted and logged once; a full queue drops with a count; trades flow on."""
    sender = alert_delivery.WebhookSender(writer, timeout_s=0.5, retries=2, backoff_s=0.01, queue_size=1).start()
    url = f"http://127.0.0.1:{unused_port}/hook"
    ids = writer.call(lambda conn: store.save_alert_progress(conn, [
        {"ts_ms": T0_MS, "rule_id": 1, "rule_name": "r", "kind": "price_cross", "symbols": "BTCUSDT",
         "timeframe": "1s", "value": 1.0, "threshold": 1.0, "direction": "UP", "message": "m", "delivery": "pending"}
    ] * 3, {})).result(5)
    accepted = [sender.submit(url, {"event_id": event_id}, event_id) for event_id in ids]  # never waits: see below
    Feed(writer).prices(0, [100.0] * 50)
    wait_until(lambda: sender.counts["failed"] == accepted.count(True), 10)
    assert accepted.count(False) >= 1 and sender.counts["dropped"] == accepted.count(False)
    assert sender.counts["retried"] == 2 * sender.counts["failed"]
    wait_until(lambda: len(stored_rows(db_path, "BTCUSDT")) == 50, 5)
    delivery = set(events(db_path)["delivery"])
    wait_until(lambda: not {"pending"} & set(events(db_path)["delivery"]), 5, lambda: str(delivery))
    assert any(d.startswith("failed: ConnectError") for d in events(db_path)["delivery"])
    assert "dropped: queue full" in set(events(db_path)["delivery"])
    failures = [r for r in caplog.records if "failed after 3 attempts" in r.getMessage()]
    assert len(failures) == sender.counts["failed"]
    sender.stop()


def test_submit_returns_at_once_while_an_endpoint_holds_a_delivery(writer):
    """While a stuck endpoint holds a delivery open, submit() still returns: one event waits, the others drop."""
    with Recorder(hold=True) as server:
        sender = alert_delivery.WebhookSender(writer, timeout_s=30.0, retries=0, queue_size=1).start()
        assert sender.submit(server.url, {"n": 0})
        wait_until(lambda: server.waiting == 1, 5)  # the sender is inside delivery 0 and cannot take more
        accepted = [sender.submit(server.url, {"n": n}) for n in (1, 2, 3)]
        assert server.waiting == 1 and not server.release.is_set()  # every submit returned while it was held
        assert accepted == [True, False, False] and sender.counts["dropped"] == 2
        server.release.set()
        wait_until(lambda: sender.counts["sent"] == 2, 5)
        assert [body["n"] for body in server.bodies] == [0, 1]
        sender.stop()


def test_no_alerts_flag_is_parsed_and_documented():
    """--no-alerts switches the monitor off and is listed in --help."""
    argv = ["--db", "x.db"]
    assert data_ingestor.parse_args(argv).alerts is True
    assert data_ingestor.parse_args([*argv, "--no-alerts"]).alerts is False
    out = subprocess.run([sys.executable, str(REPO_ROOT / "data_ingestor.py"), "--help"], capture_output=True,
                         text=True, timeout=30).stdout
    assert "--no-alerts" in out


# --------------------------------------------------------------------------- the real ingestor


def test_a_shock_drives_the_spread_through_the_threshold_and_the_event_is_stored_within_3_s(
        exchange, db_path, ingestors):
    """No dashboard: the ingestor alone stores the event of a +1.5 % ETH shock within 3 s, from the shock."""
    store.write_trades(db_path, [], source="local")
    rule = alerts.validate_rule({"name": "fast z", "kind": "zscore", "symbols": ["ETHUSDT", "BTCUSDT"],
                                 "window": 12, "hedge": "huber", "params": {"threshold": 2.5, "lookback": 15},
                                 "cooldown_s": 0}, SYMBOLS)
    rule_id = add_rule(db_path, rule)
    ingestor = IngestorProcess(db_path, exchange.port).start()
    ingestors.append(ingestor)
    # z is defined once the 15 hedge bars exist; shock only while the UP edge is armed (z below 2.0)
    wait_until(lambda: rule_states(db_path).get(rule_id, {}).get("armed", {}).get("UP") is True, 30, ingestor.log)
    shocked_ms, started = store.now_ms(), time.monotonic()
    exchange.control(shock={"symbol": "ETHUSDT", "pct": 1.5})
    def after() -> pd.DataFrame:
        stored = events(db_path, rule_id)
        return stored[stored["ts_ms"] >= shocked_ms - 1000]
    wait_until(lambda: len(after()) > 0, 10, ingestor.log)
    latency_s = time.monotonic() - started
    event = after().iloc[0]
    print(f"event stored {latency_s:.2f} s after the shock (detected_ms - shock: "
          f"{event['detected_ms'] - shocked_ms} ms): {event['message']}")
    assert latency_s < LATENCY_BUDGET_S
    assert event["direction"] == "UP" and event["value"] >= 2.5 and "ETHUSDT/BTCUSDT z-score" in event["message"]
    assert f"alert: {event['message']}" in ingestor.log()
    defaults = [(r.kind, r.symbols, r.params["threshold"]) for r in read_db(db_path, repository.list_rules)]
    assert defaults[1:] == [("zscore", ("BTCUSDT", "ETHUSDT"), 2.0), ("zscore_extreme", ("BTCUSDT", "ETHUSDT"), 3.0)]
    assert ingestor.stop()[0] == 0


def expected_crossings(zs: list[tuple[int, float]], threshold: float, hysteresis: float, cooldown_ms: float
                       ) -> list[tuple[int, str]]:
    """An independent reading of the issue's rule: fire when |z| reaches the level, re-arm past the hysteresis."""
    armed: dict[str, bool] = {}
    last_fired, out = None, []
    for ts, z in zs:
        if not math.isfinite(z):
            continue
        for direction, holds, cleared in (("UP", z >= threshold, z < threshold - hysteresis),
                                          ("DOWN", z <= -threshold, z > -threshold + hysteresis)):
            if direction not in armed:
                armed[direction] = not holds
            elif armed[direction] and holds:
                armed[direction] = False
                if last_fired is None or ts - last_fired >= cooldown_ms:
                    out.append((ts, direction))
                    last_fired = ts
            elif not armed[direction] and cleared:
                armed[direction] = True
    return out


def recorded_trade_counts(files) -> dict[str, int]:
    """Distinct trade ids per symbol in hftbacktest recordings, read here without the sim or the ingestor."""
    ids: dict[str, set[int]] = {}
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                if '"e":"trade"' in line:
                    frame = json.loads(line[line.index("{"):])
                    trade = frame.get("data", frame)
                    ids.setdefault(trade["s"], set()).add(trade["t"])
    return {symbol: len(trade_ids) for symbol, trade_ids in ids.items()}


def last_complete_bar_ms(db: Path) -> int:
    """The newest 1 s bar the monitor can call complete once historical data stops (no wall clock: the
    data is not live): its end must be reached by every symbol's newest bar, or lie DATA_GRACE_MS behind
    the newest bar of any symbol."""
    newest = read_db(db, lambda conn: [conn.execute("SELECT MAX(ts_ms) FROM trades WHERE symbol = ?",
                                                    (s,)).fetchone()[0] // 1000 * 1000 for s in SYMBOLS])
    end = max(min(newest), max(newest) - alert_monitor.DATA_GRACE_MS)
    return end // 1000 * 1000 - 1000


def test_replayed_real_trades_fire_the_rules_once_per_crossing_of_the_charts_z(db_path, ingestors):
    """Real recorded BTC/ETH trades replayed as fast as possible: each rule's events (the two default rules
    and two with a short hedge window, which the trimmed recordings can fill) equal the crossings of
    pair_panel's z on the stored bars (the chart's signal with the rule's settings), bar by bar, and
    each alert's value is /api/spread's z at its bar."""
    files = tuple(binance_file(f"hftbacktest/spot/{s}usdt_2024080{d}.gz") for s in ("btc", "eth") for d in (8, 9))
    recorded = recorded_trade_counts(files)
    assert sorted(recorded) == sorted(SYMBOLS) and min(recorded.values()) > 1_000  # 2 min trimmed (tests/data), 11 min in full
    store.write_trades(db_path, [], source="local")
    for kind, threshold in (("zscore", 1.5), ("zscore_extreme", 2.5)):
        add_rule(db_path, alerts.validate_rule({"name": f"short {kind}", "kind": kind, "symbols": list(SYMBOLS),
                                                "window": 20, "params": {"threshold": threshold, "lookback": 40},
                                                "cooldown_s": 5}, SYMBOLS))
    with run_in_thread(ExchangeSim(replay_files=files, speed=0, wait_for_subscriber=True)) as sim:
        ingestor = IngestorProcess(db_path, sim.port).start()
        ingestors.append(ingestor)
        def stored() -> dict[str, int]:
            return {s: len(stored_rows(db_path, s)) for s in SYMBOLS}
        wait_until(lambda: stored() == recorded, 60, lambda: f"stored {stored()} of {recorded}\n{ingestor.log()}")
        assert {s: len(sim.history(s)) for s in SYMBOLS} == recorded  # the sim replayed every recorded trade

        final_bar_ms = last_complete_bar_ms(db_path)
        def evaluated_to_the_end() -> bool:
            states = rule_states(db_path)
            return len(states) == 4 and all(s.get("last_bar_ms") == final_bar_ms for s in states.values())
        wait_until(evaluated_to_the_end, 60,
                   lambda: f"want last_bar_ms {final_bar_ms}: {rule_states(db_path)}\n{ingestor.log()}")
        assert ingestor.stop()[0] == 0

    conn = store.open_reader(db_path)
    rules = repository.read_rule_states(conn)
    assert sorted(r.kind for r, *_ in rules) == ["zscore", "zscore", "zscore_extreme", "zscore_extreme"]
    bars = {s: store.read_bars_1s(conn, s) for s in SYMBOLS}
    finite_short = 0
    for rule, _updated, _data, state in rules:
        assert state["last_bar_ms"] == final_bar_ms  # nothing was evaluated after the wait ended
        chart = analytics.pair_panel(bars["BTCUSDT"], bars["ETHUSDT"], rule.timeframe, rule.window, rule.hedge,
                                     hedge_window=rule.params["lookback"])
        zs = [(int(t), float(z)) for t, z in zip(chart["ts_ms"], chart["zscore"])
              if state["since_ms"] <= t <= state["last_bar_ms"]]
        if rule.name.startswith("short"):
            finite_short += int(np.isfinite([z for _t, z in zs]).sum())
        expected = expected_crossings(zs, rule.params["threshold"], rule.params["hysteresis"], rule.cooldown_s * 1000)
        stored = events(db_path, rule.rule_id)
        print(f"{rule.name}: {len(stored)} events over {len(zs)} bars")
        assert list(zip(stored["ts_ms"], stored["direction"])) == expected
        assert stored["ts_ms"].is_unique
        if len(stored):  # end to end: each stored alert's value is /api/spread's z at its bar
            spread = client_for(db_path).get("/api/spread", params={
                "symbols": ",".join(rule.symbols), "timeframe": rule.timeframe, "window": rule.window,
                "hedge": rule.hedge, "hedge_window": rule.params["lookback"], "limit": 100_000}).json()
            z_at = {row["ts_ms"]: row["zscore"] for row in spread["rows"]}
            for ts_ms, value in zip(stored["ts_ms"], stored["value"]):
                assert value == pytest.approx(z_at[int(ts_ms)], rel=1e-9, abs=1e-12)
    assert finite_short > 100
    assert len(events(db_path)) >= 1


# --------------------------------------------------------------------------- notifications and feed health


def test_an_alert_reaches_apprise_json_at_a_local_receiver_with_the_pairs_link(db_path, writer, monitor_factory):
    """A rule whose notify is apprise's json:// at a real local server: the monitor's alert arrives with the
    pair, value, threshold, direction and the dashboard link; the event's delivery says sent."""
    with Recorder() as server:
        target = f"json://127.0.0.1:{server.server_address[1]}/desk"
        sender = alert_delivery.WebhookSender(writer, timeout_s=2.0).start()
        rule_id = add_rule(db_path, price_rule(105.0, name="BTC over 105", notify=[target]))
        monitor_factory(webhooks=sender, dashboard_url="http://desk.local:8600")
        Feed(writer).prices(0, [100] * 3 + [110] * 3)
        wait_until(lambda: server.bodies, 10)
        body = server.bodies[0]
        assert body["title"] == "pairdesk: BTCUSDT UP"
        lines = body["message"].splitlines()
        assert lines[0] == "BTCUSDT price 110 crossed 105 UP (1s)"
        for expected in ("pair: BTCUSDT", "value: 110", "threshold: 105", "direction: UP",
                         "open: http://desk.local:8600/?a=BTCUSDT&tf=1s&tab=prices"):
            assert expected in lines
        wait_until(lambda: events(db_path, rule_id)["delivery"].iloc[0] == "sent", 5)
        sender.stop()


def status(writer: store.TradeWriter, **fields) -> None:
    """Write BTCUSDT's feed_status row as the ingestor does (through the writer; heartbeat now)."""
    writer.call(lambda conn: store.upsert_status(conn, "BTCUSDT", **fields)).result(5)


def test_feed_health_fires_on_a_disconnected_feed_and_on_its_recovery(db_path, writer, monitor_factory):
    """A feed_health rule in the monitor, driven by the store's feed_status rows: disconnected for 1 s ->
    UNHEALTHY (once); live with a fresh trade -> RECOVERED; the monitor keeps evaluating bar rules beside it."""
    store.write_trades(db_path, [("BTCUSDT", 1, T0_MS, 100.0, 1.0, False)])  # the symbol is known
    rule_id = add_rule(db_path, alerts.validate_rule(
        {"kind": "feed_health", "symbols": ["BTCUSDT"], "params": {"threshold": 1.0}, "cooldown_s": 0}, SYMBOLS))
    status(writer, state="live", last_trade_ms=store.now_ms(), last_message_ms=store.now_ms())
    monitor = monitor_factory()
    wait_until(lambda: monitor.stats()["rules"] == 1, 5)
    status(writer, state="disconnected", last_message_ms=store.now_ms(), last_error="connection failed: refused")
    def directions() -> list[str]:
        return list(events(db_path, rule_id)["direction"])
    def keep_writing(state: str, want: list[str]) -> bool:  # the ingestor refreshes its row every second
        now = store.now_ms()
        status(writer, state=state, last_trade_ms=now if state == "live" else T0_MS,
               last_message_ms=None if state != "live" else now)
        return directions() == want
    wait_until(lambda: keep_writing("disconnected", ["UNHEALTHY"]), 10, lambda: str(rule_states(db_path)))
    (down,) = events(db_path, rule_id).itertuples()
    assert down.kind == "feed_health" and down.symbols == "BTCUSDT" and down.threshold == 1.0 and down.value >= 1.0
    assert "disconnected (cannot reach the exchange: refused)" in down.message
    wait_until(lambda: keep_writing("live", ["UNHEALTHY", "RECOVERED"]), 10, lambda: str(rule_states(db_path)))
    assert events(db_path, rule_id)["message"].iloc[-1].startswith("BTCUSDT feed recovered after ")
    assert rule_states(db_path)[rule_id]["feed"] == {}


def test_feed_health_fires_on_a_stale_feed(db_path, writer, monitor_factory):
    """Live, messages arriving, but the last stored trade is older than the threshold: UNHEALTHY, stale."""
    store.write_trades(db_path, [("BTCUSDT", 1, T0_MS, 100.0, 1.0, False)])
    rule_id = add_rule(db_path, alerts.validate_rule(
        {"kind": "feed_health", "symbols": ["BTCUSDT"], "params": {"threshold": 6.0}}, SYMBOLS))
    last_trade = store.now_ms() - 7_000  # the light's own rule says amber after 5 s
    monitor_factory()
    def stale_reported() -> bool:
        status(writer, state="live", last_trade_ms=last_trade, last_message_ms=store.now_ms())
        return len(events(db_path, rule_id)) == 1
    wait_until(stale_reported, 10, lambda: str(rule_states(db_path)))
    assert "stale (no trade for" in events(db_path, rule_id)["message"].iloc[0]


def test_on_a_live_feed_a_rule_seeded_before_the_data_ignores_the_history_fetched_at_start_up(
        db_path, writer, monitor_factory):
    """The demo's case: rules seeded on an empty database, then an hour of history arrives with the live
    trades. Crossings in the history fire nothing (no toast flood about the past); a new one fires."""
    rule_id = add_rule(db_path, price_rule(105.0))
    now_s = store.now_ms() // 1000
    live_start = now_s - 30  # trades timed by the wall clock, the newest a second old: a live feed
    history = [(("BTCUSDT", i + 1, (live_start + i) * 1000 + 500, float(p), 1.0, False))
               for i, p in enumerate([100] * 10 + [110] * 10 + [100] * 10)]  # two crossings, 30 s ago
    writer.submit(history)
    monitor_factory()
    wait_until(lambda: rule_states(db_path).get(rule_id, {}).get("last_bar_ms") is not None, 10)
    later = store.now_ms() // 1000 + 1
    writer.submit([("BTCUSDT", 31 + i, (later + i) * 1000 + 500, 110.0, 1.0, False) for i in range(3)])
    wait_until(lambda: len(events(db_path, rule_id)) >= 1, 15)
    stored = events(db_path, rule_id)
    assert len(stored) == 1 and stored["direction"].tolist() == ["UP"]
    assert stored["ts_ms"].iloc[0] >= later * 1000
