"""The ``feed_health`` rule: is a followed symbol's feed disconnected, stale or missing trades, and
for how long. Pure: a snapshot of the store's feed status in, events and the rule's state out.

Whether a feed is healthy is the one feed-health rule, ``pairdesk.health.feed_health``: a green
light (live, fresh trades, no gap) is healthy, a grey one (collection paused on purpose) is
neither healthy nor a problem, and red or amber is one of three problems, dated from the store
where it can be:

- ``disconnected``: the light is red (feed disconnected or stopped, no heartbeat, no status row),
  or the feed is still ``starting`` / ``connecting``; since its last message (None: first seen);
- ``stale``: the feed says it is connected (live, silent, or polling REST) but no trade was
  stored for ``health.TRADE_STALE_MS`` or more; since its last trade;
- ``gap open``: trade ids are missing and not filled yet; since the oldest open gap was found.

An amber light that is none of these (polling REST while trades arrive) is not a problem. A rule
fires UNHEALTHY once its symbol has been continuously unhealthy for ``threshold`` seconds (what it
was may change meanwhile: disconnected, then stale), and RECOVERED at the first healthy check
after that (param ``recovery``). The per-rule cooldown suppresses an UNHEALTHY that comes too
soon after the previous event; its recovery is then not announced either. A symbol that is no
longer followed (not in a stored watchlist) is not checked. Times are wall-clock UTC ms: a feed
is live or not now, whatever the data's own clock says. An outage counts from when the checker
started at the earliest, so a restart never reports the time the ingestor itself was off.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pairdesk import health
from pairdesk.alerts.kinds import KINDS
from pairdesk.alerts.rules import AlertRule
from pairdesk.alerts.trigger import AlertEvent, RuleState

UNHEALTHY = "UNHEALTHY"
RECOVERED = "RECOVERED"
DIRECTIONS = (UNHEALTHY, RECOVERED)
CONNECTING_STATES = ("starting", "connecting")


@dataclass(frozen=True)
class FeedSnapshot:
    """What the store says about the feeds at ``now_ms`` (wall clock, UTC ms).

    ``rows``: feed_status rows (mappings of its columns) by symbol; ``open_gap_since_ms``: when the
    oldest open gap of each symbol was found; ``followed``: the stored watchlist, None when no list
    is stored (then every symbol counts as followed); ``watching_since_ms``: when the checker
    started (an outage counts from then at the earliest: rows left by an earlier run say nothing
    about the time in between).
    """

    now_ms: int
    rows: Mapping[str, Mapping[str, Any]]
    open_gap_since_ms: Mapping[str, int]
    followed: frozenset[str] | None = None
    watching_since_ms: int = 0


@dataclass(frozen=True)
class FeedProblem:
    """What is wrong with one feed: ``what`` (disconnected / stale / gap open), the light's reason,
    and since when as the store dates it (None: not recorded; the rule then counts from when it
    first saw it)."""

    what: str
    reason: str
    since_ms: int | None


def _ms(row: Mapping[str, Any], key: str) -> int | None:
    value = row.get(key)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else int(value)  # NaN: a frame's null


def feed_problem(light: health.FeedHealth, row: Mapping[str, Any] | None, snapshot: FeedSnapshot
                 ) -> FeedProblem | None:
    """The problem behind ``light`` (``health.feed_health`` of ``row`` at ``snapshot.now_ms``); None
    when there is none (green, grey, or amber for another reason)."""
    if light.colour in ("green", "grey"):
        return None
    row = row or {}
    if light.colour == "red" or row.get("state") in CONNECTING_STATES:
        return FeedProblem("disconnected", light.reason, _ms(row, "last_message_ms"))
    last_trade = _ms(row, "last_trade_ms")
    if last_trade is None or snapshot.now_ms - last_trade >= health.TRADE_STALE_MS:
        return FeedProblem("stale", light.reason, last_trade)
    if light.symbol in snapshot.open_gap_since_ms or (_ms(row, "open_gaps") or 0) > 0:
        return FeedProblem("gap open", light.reason, snapshot.open_gap_since_ms.get(light.symbol))
    return None


def _event(rule: AlertRule, now_ms: int, seconds: float, direction: str, detail: str) -> AlertEvent:
    text = KINDS[rule.kind].message(rule, seconds, rule.params["threshold"], direction)
    return AlertEvent(ts_ms=int(now_ms), rule_id=rule.rule_id, rule_name=rule.name, kind=rule.kind,
                      symbols=rule.label, timeframe=rule.timeframe, value=float(seconds),
                      threshold=float(rule.params["threshold"]), direction=direction, message=f"{text}: {detail}")


def check_feed(rule: AlertRule, snapshot: FeedSnapshot, state: RuleState) -> tuple[list[AlertEvent], RuleState]:
    """Check one feed_health rule at ``snapshot.now_ms``; returns its events and its new state.

    ``state.feed`` while unhealthy: since_ms (start of the outage), down (UNHEALTHY reached),
    reported (and announced, not swallowed by the cooldown).
    """
    state = state.copy()
    symbol, now = rule.symbols[0], int(snapshot.now_ms)
    if state.since_ms is None:  # first check (later checks change the state only when something happens)
        state.since_ms = now
    if snapshot.followed is not None and symbol not in snapshot.followed:
        return [], state
    row = snapshot.rows.get(symbol)
    light = health.feed_health(symbol, row, now)
    if light.colour == "grey":  # paused on purpose: nothing is wrong, nothing recovered
        return [], state
    problem = feed_problem(light, row, snapshot)
    outage = state.feed
    if problem is None:
        events = []
        if outage.get("reported") and rule.params["recovery"]:
            events.append(_event(rule, now, (now - outage["since_ms"]) / 1000, RECOVERED, light.reason))
        state.feed = {}
        return events, state
    known = [t for t in (outage.get("since_ms"), problem.since_ms) if t is not None]
    since = max(min(known) if known else now, snapshot.watching_since_ms)
    state.feed = {"since_ms": since, "down": bool(outage.get("down")), "reported": bool(outage.get("reported"))}
    seconds = (now - since) / 1000
    if state.feed["down"] or seconds < rule.params["threshold"]:
        return [], state
    state.feed["down"] = True
    if state.last_fired_ms is not None and now - state.last_fired_ms < rule.cooldown_s * 1000:
        state.suppressed += 1
        return [], state
    state.feed["reported"] = True
    state.last_fired_ms = now
    return [_event(rule, now, seconds, UNHEALTHY, f"{problem.what} ({problem.reason})")], state
