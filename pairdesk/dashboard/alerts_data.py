"""Alert rules and the alert history as the page reads and writes them.

Rules go through ``pairdesk.alerts.repository`` (checked by ``alerts.validate_rule`` against the
database's symbols first); events are read with ``store.read_alert_events``. Each write is one
short transaction on ``data.writer``; the running ingestor picks rule changes up by itself. A
test message goes out through ``alerts.channels.send_test``, as the API's test endpoints send it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from pairdesk import alerts, store
from pairdesk.alerts import channels, links, notify, repository
from pairdesk.dashboard.data import no_events, reader, writer
from pairdesk.dashboard.downloads import csv_bytes, with_local_time

MAX_HISTORY_ROWS = 10_000  # alert events shown (and downloaded) at most, the most recent first



def read_rules(path: str) -> list[alerts.AlertRule]:
    """Every stored alert rule, by rule_id."""
    with reader(path) as conn:
        return repository.list_rules(conn)


def read_firings(path: str) -> dict[int, tuple[int, int]]:
    """{rule_id: (bar of its newest alert, UTC ms; alerts raised)} of every rule that fired."""
    with reader(path) as conn:
        return repository.firings(conn)


def save_rule(path: str, spec: Mapping[str, Any], rule_id: int | None = None) -> int:
    """Check ``spec`` (``alerts.validate_rule`` against the database's symbols) and store it as a new
    rule, or as rule ``rule_id``'s new definition; returns the rule's id. A masked notify URL (as the
    form shows the saved ones) keeps rule ``rule_id``'s saved URL.

    A bad rule, or one identical to another enabled rule, raises ``alerts.RuleError`` (one line) and
    nothing is written; a rule deleted meanwhile raises StoreError.
    """
    with reader(path) as conn:
        known = store.list_symbols(conn)
        spec = repository.with_saved_urls(conn, rule_id, spec)
    rule = alerts.validate_rule({**spec, "rule_id": None}, known)
    with writer(path) as conn:
        if rule_id is None:
            return repository.insert_rule(conn, rule)
        if not repository.update_rule(conn, rule_id, rule):
            raise store.StoreError(f"rule {rule_id} no longer exists (deleted meanwhile)")
    return rule_id


def send_test(path: str, urls: str | Sequence[str], symbols: Sequence[str], timeframe: str,
              rule_id: int | None = None, rule_name: str = "") -> list[dict[str, str]]:
    """Send a test message to ``urls`` (masked ones: rule ``rule_id``'s saved URLs), linking to
    ``symbols`` on the dashboard; per URL {"url": masked, "outcome": "sent" or "failed: ..."}.
    RuleError (one line) for a URL apprise cannot parse, or none at all."""
    with reader(path) as conn:
        given = repository.with_saved_urls(conn, rule_id, {"notify": urls})["notify"]
    checked = notify.check_notify(given)
    if not checked:
        raise alerts.RuleError("type a notify URL to test first (tgram://bot_token/chat_id, json://host/path, ...)")
    payload = channels.sample_payload(links.dashboard_url(), symbols, timeframe, rule_id, rule_name)
    return channels.send_test(checked, payload)


def set_rule_enabled(path: str, rule_id: int, enabled: bool) -> None:
    """Switch a rule on or off (switched on, it starts at the newest bar); StoreError when it no longer
    exists, RuleError when switching it on would make two identical enabled rules."""
    with writer(path) as conn:
        if not repository.set_enabled(conn, rule_id, enabled):
            raise store.StoreError(f"rule {rule_id} no longer exists (deleted meanwhile)")


def delete_rule(path: str, rule_id: int) -> None:
    """Delete a rule (its events stay in the history); StoreError when it no longer exists."""
    with writer(path) as conn:
        if not repository.delete_rule(conn, rule_id):
            raise store.StoreError(f"rule {rule_id} no longer exists (deleted meanwhile)")


# --------------------------------------------------------------------------- alert history


@dataclass(frozen=True)
class HistoryFilter:
    """Which alert events the history shows: None means any. Times are UTC epoch ms, end exclusive."""

    rule_id: int | None = None
    kind: str | None = None
    direction: str | None = None  # "UP" / "DOWN"
    start_ms: int | None = None
    end_ms: int | None = None
    unacknowledged: bool = False


def read_history(path: str, flt: HistoryFilter, limit: int = MAX_HISTORY_ROWS) -> pd.DataFrame:
    """The filtered alert events, newest first (at most ``limit``; ``store.read_alert_events`` columns)."""
    with reader(path) as conn:
        return store.read_alert_events(conn, since_ms=flt.start_ms, rule_id=flt.rule_id, kind=flt.kind,
                                           limit=limit, until_ms=flt.end_ms, direction=flt.direction,
                                           unacknowledged=flt.unacknowledged)


def history_csv(events: pd.DataFrame, tz: str) -> bytes:
    """The history as CSV: every stored column (times in UTC epoch ms) plus ``time``, the bar in ``tz``."""
    return csv_bytes(with_local_time(events, tz))


def acknowledge(path: str, event_ids: Sequence[int]) -> int:
    """Mark events acknowledged now; returns how many were not acknowledged before."""
    if not event_ids:
        return 0
    with writer(path) as conn:
        return repository.acknowledge_events(conn, event_ids)


def new_events(path: str, seen_id: int | None) -> tuple[int, pd.DataFrame]:
    """Events stored after event ``seen_id``, oldest first, and the id to remember next.

    ``seen_id`` None (a session's first look): no events, only the id of the newest one (0 when
    there is none yet), so that a new session does not announce the past.
    """
    with reader(path) as conn:
        if seen_id is None:
            return store.last_alert_event_id(conn) or 0, no_events()
        events = store.read_alert_events(conn, after_event_id=seen_id)
    events = events.sort_values("event_id", ignore_index=True)
    return (int(events["event_id"].iloc[-1]) if len(events) else seen_id), events
