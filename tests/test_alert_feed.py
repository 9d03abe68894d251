"""The feed_health rule on literal feed-status rows: disconnected, stale and gap-open feeds fire after
threshold seconds, recovery fires once, cooldown, paused and unfollowed symbols, restarts."""
from __future__ import annotations

import pytest

from pairdesk import alerts, health
from pairdesk.alerts.feed import RECOVERED, UNHEALTHY, FeedSnapshot, check_feed

NOW = 1_800_000_000_000  # wall clock of the checks (UTC ms)
KNOWN = ["BTCUSDT", "ETHUSDT"]


def rule(threshold: float = 30.0, **fields) -> alerts.AlertRule:
    spec = {"kind": "feed_health", "symbols": ["BTCUSDT"], "params": {"threshold": threshold}, "cooldown_s": 0.0,
            **fields}
    return alerts.validate_rule({"rule_id": 5, **spec}, KNOWN)


def row(state: str = "live", at: int = NOW, trade_age_ms: int | None = 100, message_age_ms: int | None = 100,
        open_gaps: int = 0, last_error: str = "") -> dict:
    """A feed_status row as the ingestor writes it at ``at`` (its heartbeat)."""
    return {"symbol": "BTCUSDT", "state": state, "transport": "ws", "updated_ms": at,
            "last_trade_ms": None if trade_age_ms is None else at - trade_age_ms,
            "last_message_ms": None if message_age_ms is None else at - message_age_ms,
            "open_gaps": open_gaps, "last_error": last_error}


def snapshot(status: dict | None, at: int = NOW, gap_found_ms: int | None = None, followed=None,
             watching_since_ms: int = 0) -> FeedSnapshot:
    return FeedSnapshot(now_ms=at, rows={} if status is None else {"BTCUSDT": status},
                        open_gap_since_ms={} if gap_found_ms is None else {"BTCUSDT": gap_found_ms},
                        followed=followed, watching_since_ms=watching_since_ms)


def run(r: alerts.AlertRule, checks, state: alerts.RuleState | None = None):
    """Run (snapshot, ...) checks in order; all events and the last state."""
    state = state or alerts.RuleState()
    out = []
    for snap in checks:
        events, state = check_feed(r, snap, state)
        out += events
    return out, state


def test_the_kind_is_one_symbol_with_a_threshold_in_seconds_and_a_recovery_flag():
    """feed_health validates like every kind: one symbol, threshold > 0 seconds, recovery true by default."""
    r = rule()
    assert (r.kind, r.symbols, r.params) == ("feed_health", ("BTCUSDT",), {"threshold": 30.0, "recovery": True})
    assert alerts.KINDS["feed_health"].feed and "feed_health" not in alerts.PAIR_KINDS
    with pytest.raises(alerts.RuleError, match="threshold must be a positive number of seconds"):
        rule(threshold=0)
    with pytest.raises(alerts.RuleError, match="feed_health needs 1 symbol"):
        alerts.validate_rule({"kind": "feed_health", "symbols": KNOWN, "params": {"threshold": 5}}, KNOWN)
    with pytest.raises(ValueError, match="checked on the feed status"):
        alerts.observe(r, {}, NOW, NOW)


def test_a_disconnected_feed_fires_after_threshold_seconds_and_again_when_it_recovers():
    """Red (disconnected) since its last message: UNHEALTHY once 30 s have passed, not before, not twice;
    RECOVERED at the first green check, with how long it lasted."""
    down_since = NOW - 100
    checks = [snapshot(row("disconnected", at=NOW + s * 1000, message_age_ms=s * 1000 + 100,
                           last_error="connection failed: Name or service not known"), at=NOW + s * 1000)
              for s in (0, 10, 29, 30, 31, 45)]
    events, state = run(rule(), checks)
    (down,) = events
    assert (down.direction, down.ts_ms, down.value, down.threshold) == (UNHEALTHY, NOW + 30_000,
                                                                        (NOW + 30_000 - down_since) / 1000, 30.0)
    assert down.message == ("BTCUSDT feed unhealthy for 30 s (alert after 30 s): disconnected (cannot reach the "
                            "exchange: Name or service not known)")
    assert (down.rule_id, down.kind, down.symbols) == (5, "feed_health", "BTCUSDT")
    back, state = run(rule(), [snapshot(row("live", at=NOW + 60_000), at=NOW + 60_000),
                               snapshot(row("live", at=NOW + 61_000), at=NOW + 61_000)], state)
    (up,) = back
    assert (up.direction, up.ts_ms, up.value) == (RECOVERED, NOW + 60_000, 60.1)
    assert up.message == "BTCUSDT feed recovered after 60 s: streaming"
    assert state.feed == {}


def test_a_live_feed_without_trades_is_stale_from_its_last_trade():
    """Live but no trade stored for N s (health's amber 'no trade'): fires when the last trade is 30 s old."""
    checks = [snapshot(row("live", trade_age_ms=age, message_age_ms=50)) for age in (4_000, 29_000)]
    assert run(rule(), checks)[0] == []
    (event,), _ = run(rule(), [snapshot(row("live", trade_age_ms=31_000, message_age_ms=50))])
    assert event.direction == UNHEALTHY and event.value == 31.0
    assert event.message.startswith("BTCUSDT feed unhealthy for 31 s (alert after 30 s): stale (no trade for 31 s")
    (silent,), _ = run(rule(), [snapshot(row("silent", trade_age_ms=40_000))])
    assert "stale (feed silent)" in silent.message


def test_a_gap_open_longer_than_threshold_fires_from_when_it_was_found():
    """Trades flow but ids are missing: counted from the oldest open gap's discovery."""
    fresh = snapshot(row("live", open_gaps=1), gap_found_ms=NOW - 10_000)
    old = snapshot(row("live", open_gaps=1), gap_found_ms=NOW - 45_000)
    assert run(rule(), [fresh])[0] == []
    (event,), _ = run(rule(), [old])
    assert event.value == 45.0 and "gap open (1 open gap(s) being filled)" in event.message


def test_a_healthy_or_polling_feed_fires_nothing_and_an_outage_shorter_than_threshold_is_forgotten():
    """Green never fires; REST polling with fresh trades is no problem; a 10 s blip neither fires nor recovers."""
    checks = [snapshot(row("live")), snapshot(row("polling")),
              snapshot(row("disconnected", at=NOW + 1000, message_age_ms=5000), at=NOW + 1000),
              snapshot(row("live", at=NOW + 2000), at=NOW + 2000)]
    events, state = run(rule(), checks)
    assert events == [] and state.feed == {}


def test_the_cooldown_swallows_a_flapping_feed_and_its_recovery():
    """A second outage within the cooldown is suppressed (counted), and its recovery is not announced."""
    r = rule(threshold=5.0, cooldown_s=300.0)
    timeline = [("disconnected", 0), ("disconnected", 6), ("live", 10),  # fires, recovers
                ("disconnected", 20), ("disconnected", 30), ("live", 40)]  # suppressed: no recovery either
    checks = [snapshot(row(state, at=NOW + s * 1000, message_age_ms=0 if state == "live" else (s % 20) * 1000),
                       at=NOW + s * 1000) for state, s in timeline]
    events, state = run(r, checks)
    assert [e.direction for e in events] == [UNHEALTHY, RECOVERED] and state.suppressed == 1


def test_recovery_can_be_switched_off():
    """recovery false: only UNHEALTHY events."""
    r = rule(threshold=5.0, params={"threshold": 5.0, "recovery": False})
    checks = [snapshot(row("stopped", at=NOW + s * 1000, message_age_ms=s * 1000), at=NOW + s * 1000) for s in (0, 6)]
    events, _state = run(r, [*checks, snapshot(row("live", at=NOW + 9000), at=NOW + 9000)])
    assert [e.direction for e in events] == [UNHEALTHY]


def test_a_paused_or_unfollowed_symbol_is_not_checked():
    """Grey (paused on purpose) and a symbol not in the stored watchlist fire nothing and recover nothing."""
    old = NOW - 600_000
    paused = snapshot(row("paused", trade_age_ms=600_000))
    unfollowed = snapshot(row("disconnected", message_age_ms=600_000), followed=frozenset({"ETHUSDT"}))
    events, state = run(rule(), [paused, unfollowed])
    assert events == [] and state.feed == {}
    down, state = run(rule(), [snapshot(row("disconnected", message_age_ms=NOW - old))])
    assert [e.direction for e in down] == [UNHEALTHY]
    assert run(rule(), [paused], state)[0] == []  # paused while down: no RECOVERED (nothing recovered)


def test_no_status_row_or_no_heartbeat_is_disconnected_counted_from_when_the_checker_started():
    """Rows left by an earlier run (old heartbeat) or none at all: red, but counted from the checker's start,
    so a restart never reports the hours the ingestor itself was off."""
    stale_row = row("live", at=NOW - 3_600_000)  # last heartbeat an hour ago
    assert health.feed_health("BTCUSDT", stale_row, NOW).colour == "red"
    started = NOW - 5_000
    assert run(rule(), [snapshot(stale_row, watching_since_ms=started)])[0] == []
    first_seen, later = (snapshot(None, at=started + s * 1000, watching_since_ms=started) for s in (1, 32))
    (event,), _ = run(rule(), [first_seen, later])  # no row: no date either, so from when it was first seen
    assert event.value == 31.0 and "no status row" in event.message


def test_a_reported_outage_recovers_after_a_restart():
    """The state is stored: a monitor started after the outage was reported announces the recovery, once."""
    (_down,), state = run(rule(), [snapshot(row("disconnected", message_age_ms=40_000))])
    restored = alerts.RuleState.from_dict(state.to_dict())
    events, state = run(rule(), [snapshot(row("live", at=NOW + 90_000), at=NOW + 90_000, watching_since_ms=NOW + 80_000)],
                        restored)
    assert [e.direction for e in events] == [RECOVERED] and events[0].value == 130.0
