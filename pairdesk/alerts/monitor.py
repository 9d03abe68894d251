"""Alert evaluation inside the ingestor process, whether or not a dashboard is open.

    monitor = AlertMonitor("ticks.db", writer, symbols=["BTCUSDT", "ETHUSDT"]).start()
    ...
    monitor.stop()   # before writer.close()

A thread (``alert-monitor``) reads the database through its own read-only connection and wakes
whenever another connection committed (``PRAGMA data_version``), at least every 100 ms. Each
pass re-reads the rules (at most once a second: the dashboard and the API edit them from other
processes), finds for every enabled rule the bars that completed since the last one it
evaluated, reads only the one-second bars those need and hands them to ``evaluation.evaluate``. The
events and every rule's state are written together through ``TradeWriter.call`` (the single
writer, one transaction): a restart resumes after the last bar evaluated, neither firing again
nor skipping a bar.

Completed bars, in data time: bar [t, t + tf) is complete once every symbol of the rule has a
one-second bar at or after t + tf, or once any symbol's data is DATA_GRACE_MS past it (a quiet
leg), or, while the data is live (newest bar within LIVE_MAX_LAG_MS of the wall clock), once
the wall clock is WALL_GRACE_MS past it (a quiet market). A replay at any speed therefore sees
every bar; live data is checked about every second. While a burst waits for the writer (more than
YIELD_TO_BACKLOG_TRADES trades: a backfill, a replay at full speed) evaluation pauses, for at
most MAX_YIELD_S, so that alerts never slow ingestion down; the bars are evaluated afterwards.

feed_health rules are not evaluated on bars: about once a second (wall clock) the pass reads the
feed status, the open gaps and the watchlist in the same snapshot and checks them
(``pairdesk.alerts.feed``); their events and state are stored the same way.

Notifications go out from a second thread (``alert-webhooks``, ``pairdesk.alerts.delivery``) through
a bounded queue, to each of the rule's ``notify`` URLs, with a link to the pair on the dashboard
(``pairdesk.alerts.links``): a slow or dead endpoint never delays evaluation or ingestion.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pairdesk import store
from pairdesk.alerts import links, repository
from pairdesk.alerts.channels import event_payload
from pairdesk.alerts.delivery import WebhookSender
from pairdesk.alerts.evaluation import bars_needed, evaluate
from pairdesk.alerts.feed import FeedSnapshot, check_feed
from pairdesk.alerts.kinds import KINDS
from pairdesk.alerts.rules import AlertRule, RuleError
from pairdesk.alerts.trigger import AlertEvent, RuleState
from pairdesk.alerts.validation import default_rules, validate_rule
from pairdesk.alerts.writing import Writer, isolated

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.1  # how often the monitor looks for a commit by another connection
RULES_RELOAD_S = 1.0  # rules edited by other processes are picked up within this
MAX_BARS_PER_PASS = 1200  # per rule: a long catch-up goes in passes, so stop() stays prompt
DATA_GRACE_MS = 1_000
WALL_GRACE_MS = 2_000
LIVE_MAX_LAG_MS = 5_000
WRITE_TIMEOUT_S = 10.0
YIELD_TO_BACKLOG_TRADES = 5_000  # evaluation waits while this many trades wait for the writer ...
MAX_YIELD_S = 5.0  # ... but never longer than this
STATS_INTERVAL_S = 300.0
FEED_CHECK_INTERVAL_S = 1.0  # feed_health rules: how often the feed status is checked (wall clock)


@dataclass
class _Watch:
    """One enabled rule as the monitor follows it."""

    rule: AlertRule
    updated_ms: int
    data_ms: int | None
    state: RuleState
    waiting_logged: bool = False
    failures: int = 0


@dataclass
class _Pass:
    """What one pass read and computed, before it is written."""

    events: list[tuple[AlertEvent, _Watch]] = field(default_factory=list)
    states: dict[int, tuple[_Watch, RuleState]] = field(default_factory=dict)
    bars: int = 0
    behind: bool = False


class AlertMonitor:
    """Evaluates every enabled alert rule on every completed bar; see the module docstring.

    ``symbols``: the ingested symbols; with ``seed_defaults`` the default rules on the first two
    are added to a database that never had them. ``owns_rule(rule_id)``: whether this process
    evaluates that rule (several ingestors on one PostgreSQL database: exactly one of them does).
    ``webhooks``: a WebhookSender (one is made and started when None). ``dashboard_url``: the
    address notifications link to (``links.dashboard_url``: None for the setting's).
    """

    def __init__(self, db_path: str | Path, writer: Writer, symbols: Sequence[str] = (), *,
                 seed_defaults: bool = True, webhooks: WebhookSender | None = None,
                 poll_interval_s: float = POLL_INTERVAL_S, dashboard_url: str | None = None,
                 owns_rule: Callable[[int], bool] = lambda _rule_id: True) -> None:
        self.db_path = db_path
        self.owns_rule = owns_rule
        self.writer = writer
        self.symbols = [s.upper() for s in symbols]
        self.seed_defaults = seed_defaults
        self.poll_interval_s = poll_interval_s
        self.dashboard_url = links.dashboard_url(dashboard_url)
        self.webhooks = webhooks or WebhookSender(writer)
        self._own_webhooks = webhooks is None
        self.counts: Counter[str] = Counter()  # passes, bars, events, suppressed, errors
        self.eval_s = 0.0  # time spent reading and evaluating (not waiting for the writer)
        self._watches: dict[int, _Watch] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-monitor", daemon=True)
        self._next_reload = 0.0
        self._next_stats = 0.0
        self._next_feed_check = 0.0
        self._started_ms = 0
        self._stats_mark = (0.0, 0, 0.0)  # (monotonic, bars, eval_s) at the last stats line

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> AlertMonitor:
        self._started_ms = store.now_ms()
        if self._own_webhooks:
            self.webhooks.start()
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 3.0) -> None:
        """Finish the pass in progress (its events and state are written) and stop."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("alert monitor still busy after %.1f s; leaving it (its last pass is not saved)",
                            timeout_s)
        if self._own_webhooks:
            self.webhooks.stop()
        log.info("alerts stopped: %s", self._summary())

    def stats(self) -> dict[str, Any]:
        """Counters for logs and tests: rules watched, passes, bars evaluated, events, evaluation seconds, webhooks."""
        return {"rules": len(self._watches), **self.counts, "eval_s": self.eval_s,
                "webhooks": dict(self.webhooks.counts)}

    def _summary(self) -> str:
        hooks = self.webhooks.counts
        return (f"{len(self._watches)} rules, {self.counts['bars']} bars evaluated in {self.eval_s:.2f} s, "
                f"{self.counts['events']} events ({self.counts['suppressed']} crossings in cooldown), webhooks "
                f"sent {hooks['sent']} failed {hooks['failed']} dropped {hooks['dropped']}")

    def _run(self) -> None:
        try:
            conn = store.open_reader(self.db_path)
        except store.StoreError as exc:
            log.error("alerts off: %s", exc)
            return
        try:
            if self.seed_defaults:
                self._guarded(self._seed)
            version, last_pass = None, time.monotonic()
            while not self._stop.is_set():
                try:
                    current = store.data_version(conn)
                except store.database_errors() as exc:  # the server restarted: read again once it is back
                    conn = self._reopen(conn, exc)
                    if conn is None:  # stopped meanwhile
                        return
                    continue
                behind = False
                if (getattr(self.writer, "backlog", 0) > YIELD_TO_BACKLOG_TRADES
                        and time.monotonic() - last_pass < MAX_YIELD_S):
                    pass  # a burst (backfill, fast replay) is being stored: ingestion first, bars wait
                elif current != version or time.monotonic() >= self._next_reload:
                    version, last_pass = current, time.monotonic()
                    behind = self._guarded(lambda: self._pass(conn))
                self._log_stats()
                if not behind:
                    self._stop.wait(self.poll_interval_s)
        finally:
            if conn is not None:
                conn.close()

    def _reopen(self, conn, exc: BaseException):
        """A new reader in place of one whose database went away (waits until it can open one, or until stopped)."""
        log.warning("alerts: lost the database (%s); reconnecting", " ".join(str(exc).split()))
        try:
            conn.close()
        except Exception:
            pass
        while not self._stop.wait(1.0):
            try:
                return store.open_reader(self.db_path)
            except store.StoreError:
                continue
        return None

    def _guarded(self, step: Callable[[], Any]) -> Any:
        """Run one step; an error is logged and counted, never raised: alerts must not take ingestion down."""
        try:
            return step()
        except Exception:
            self.counts["errors"] += 1
            if self.counts["errors"] == 1 or self.counts["errors"] % 100 == 0:
                log.exception("alert monitor error (%d so far); retrying", self.counts["errors"])
            self._stop.wait(1.0)
            return None

    def _seed(self) -> None:
        rules = default_rules(self.symbols)
        ids = self._write(lambda conn: repository.seed_rules(conn, rules))
        if ids:
            log.info("new database: default alert rules %s added (%s)", ids, "; ".join(r.name for r in rules))

    def _write(self, fn: Callable[[Any], object]) -> Any:
        """Run ``fn`` in the writer's next transaction and wait for it; raises what it raised."""
        result = self.writer.call(isolated(fn)).result(timeout=WRITE_TIMEOUT_S)
        if isinstance(result, Exception):
            raise result
        return result

    def _log_stats(self) -> None:
        now = time.monotonic()
        if now < self._next_stats:
            return
        if self._next_stats:
            since, bars, eval_s = self._stats_mark
            log.info("alerts: %d rules, %d bars evaluated in the last %.0f s, evaluation %.1f ms per second; %s",
                     len(self._watches), self.counts["bars"] - bars, now - since,
                     1000 * (self.eval_s - eval_s) / max(now - since, 1e-9), self._summary())
        self._stats_mark = (now, self.counts["bars"], self.eval_s)
        self._next_stats = now + STATS_INTERVAL_S

    # ------------------------------------------------------------------ one pass

    def _pass(self, conn) -> bool:
        """Evaluate what completed since the last pass and store it; True when bars are still waiting."""
        started = time.perf_counter()
        if time.monotonic() >= self._next_reload:
            self._reload(conn)
            self._next_reload = time.monotonic() + RULES_RELOAD_S
        if not self._watches:
            return False
        on_bars = [watch for watch in self._watches.values() if not KINDS[watch.rule.kind].feed]
        on_feed = [watch for watch in self._watches.values() if KINDS[watch.rule.kind].feed]
        feed_due = bool(on_feed) and time.monotonic() >= self._next_feed_check
        with store.snapshot(conn):  # one snapshot for the bar bounds, every bar read and the feed status
            bounds = store.bar_bounds_by_symbol(conn)
            reads: dict[tuple[str, int, int], Any] = {}  # rules on the same pair share their reads
            work = [(watch, span, self._read(conn, watch, span, reads)) for watch in on_bars
                    if (span := self._due(watch, bounds)) is not None]
            feeds = self._feed_snapshot(conn) if feed_due else None
        result = _Pass()
        if feeds is not None:
            self._next_feed_check = time.monotonic() + FEED_CHECK_INTERVAL_S
            for watch in on_feed:
                self._check_feed(watch, feeds, result)
        for watch, (first, last, more), bars in work:
            if self._stop.is_set():
                break
            result.behind |= more
            self._evaluate(watch, first, last, bars, result)
        self.eval_s += time.perf_counter() - started
        self.counts["passes"] += 1
        if result.states:
            self._store(result)
        return result.behind and not self._stop.is_set()

    def _reload(self, conn) -> None:
        """Follow rules added, changed, switched or deleted by any process."""
        rows = repository.read_rule_states(conn)
        watches = {}
        for rule, updated_ms, data_ms, state in rows:
            if not rule.enabled or not self.owns_rule(rule.rule_id):  # another ingestor evaluates it
                continue
            known = self._watches.get(rule.rule_id)
            if known is not None and known.updated_ms == updated_ms:
                watches[rule.rule_id] = known
                continue
            try:  # a row another program wrote by hand must not stop the others
                rule = validate_rule(rule.to_spec(), rule.symbols)
            except RuleError as exc:
                log.warning("alert rule %d (%s) skipped: %s", rule.rule_id, rule.name, exc)
                continue
            watches[rule.rule_id] = _Watch(rule, updated_ms, data_ms, RuleState.from_dict(state))
            resumed = state.get("last_bar_ms")
            log.info("alert rule %d watched: %s%s", rule.rule_id, rule.name,
                     f" (resuming after bar {resumed})" if resumed is not None else "")
        for rule_id in self._watches.keys() - watches.keys():
            log.info("alert rule %d no longer watched (disabled, deleted or changed)", rule_id)
        self._watches = watches

    def _due(self, watch: _Watch, bounds: dict[str, tuple[int, int]]) -> tuple[int, int, bool] | None:
        """(first, last, more) bars of ``watch`` to evaluate now, or None; ``more``: others complete too."""
        rule = watch.rule
        missing = [s for s in rule.symbols if s not in bounds]
        if missing:
            if not watch.waiting_logged:
                log.info("alert rule %d waits for bars of %s", rule.rule_id, ", ".join(missing))
                watch.waiting_logged = True
            return None
        tf = rule.timeframe_ms
        data_clock = max(last for _first, last in bounds.values())
        end = max(min(bounds[s][1] for s in rule.symbols), data_clock - DATA_GRACE_MS)
        wall = store.now_ms()
        if wall - data_clock <= LIVE_MAX_LAG_MS:
            end = max(end, wall - WALL_GRACE_MS)
        newest_complete = end // tf * tf - tf  # bars with t + tf <= end
        if watch.state.last_bar_ms is not None:
            first = watch.state.last_bar_ms + tf
        elif watch.data_ms is not None:  # a new rule starts at the data of its creation: no history
            first = watch.data_ms // tf * tf
        elif wall - data_clock <= LIVE_MAX_LAG_MS:  # a rule seeded before any data, on a live feed: it
            first = newest_complete  # watches from its first look (history fetched at start-up fires nothing)
        else:  # ... on data of the past (a replay, an import): from its first bar
            first = max(bounds[s][0] for s in rule.symbols) // tf * tf

        if newest_complete < first:
            return None
        last = min(newest_complete, first + (MAX_BARS_PER_PASS - 1) * tf)
        return first, last, last < newest_complete

    def _read(self, conn, watch: _Watch, span: tuple[int, int, bool], reads: dict) -> dict:
        start, end = bars_needed(watch.rule, span[0], span[1])
        for symbol in watch.rule.symbols:
            if (symbol, start, end) not in reads:
                reads[symbol, start, end] = store.read_bars_1s(conn, symbol, start, end)
        return {s: reads[s, start, end] for s in watch.rule.symbols}

    def _evaluate(self, watch: _Watch, first: int, last: int, bars: dict, result: _Pass) -> None:
        rule = watch.rule
        try:
            events, state = evaluate(rule, bars, first, last, watch.state)
        except Exception as exc:  # one rule's bad day must not stop the others: skip these bars, loudly
            watch.failures += 1
            if watch.failures == 1 or watch.failures % 100 == 0:
                log.exception("alert rule %d: evaluation of bars %d..%d failed (%s); skipped", rule.rule_id, first,
                              last, exc)
            events, state = [], watch.state.copy()
            state.last_bar_ms = last
        result.events += [(event, watch) for event in events]
        result.states[rule.rule_id] = (watch, state)
        result.bars += (last - first) // rule.timeframe_ms + 1
        self.counts["suppressed"] += state.suppressed - watch.state.suppressed

    def _feed_snapshot(self, conn) -> FeedSnapshot:
        """The feed status rows, when each symbol's oldest open gap was found, and the watchlist, now."""
        rows = {str(row["symbol"]): row for row in store.read_feed_status(conn).to_dict("records")}
        gaps = store.read_gaps(conn, open_only=True)
        since = {str(k): int(v) for k, v in gaps.groupby("symbol")["found_ms"].min().items()} if len(gaps) else {}
        followed = frozenset(symbol for symbol, _ in store.read_watchlist(conn)) or None
        return FeedSnapshot(now_ms=store.now_ms(), rows=rows, open_gap_since_ms=since, followed=followed,
                            watching_since_ms=self._started_ms)

    def _check_feed(self, watch: _Watch, snapshot: FeedSnapshot, result: _Pass) -> None:
        """One feed_health rule; its state is stored only when it changed (not every second)."""
        events, state = check_feed(watch.rule, snapshot, watch.state)
        if events or state != watch.state:
            result.events += [(event, watch) for event in events]
            result.states[watch.rule.rule_id] = (watch, state)
        self.counts["suppressed"] += state.suppressed - watch.state.suppressed

    def _store(self, result: _Pass) -> None:
        """Write events and states in one transaction; only then adopt the new states."""
        rows = [{**event.to_dict(), "delivery": "pending" if watch.rule.notify else ""}
                for event, watch in result.events]
        states = {rule_id: (watch.updated_ms, json.dumps(state.to_dict()))
                  for rule_id, (watch, state) in result.states.items()}
        ids = self._write(lambda conn: store.save_alert_progress(conn, rows, states))
        for watch, state in result.states.values():
            watch.state = state
        self.counts["bars"] += result.bars
        for event_id, (event, watch) in zip(ids, result.events):
            if event_id is None:  # the rule was changed or deleted meanwhile: its old definition is void
                continue
            self.counts["events"] += 1
            log.info("alert: %s [rule %s %r, event %d]", event.message, event.rule_id, event.rule_name, event_id)
            if watch.rule.notify:
                link = links.pair_link(self.dashboard_url, event.symbols, event.timeframe)
                self.webhooks.submit_all(watch.rule.notify, event_payload(event_id, event, link), event_id)
