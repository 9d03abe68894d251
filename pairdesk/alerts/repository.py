"""Alert rules in the store: every rule is checked by ``validate_rule`` on its way in, and turned
back into an ``AlertRule`` on its way out. The store itself deals only in rows.

These are the rule and event writes the dashboard (``pairdesk.dashboard.alerts_data``) and the REST
API (``pairdesk.api.routes.alerts``) share; each caller opens its own transaction. Two enabled
rules may not be identical (``AlertRule.signature``: they would fire the same events): storing,
editing or switching on the second is refused with ``DuplicateRule``, inside the transaction that
would write it."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pairdesk import store
from pairdesk.alerts.notify import restore_masked
from pairdesk.alerts.rules import AlertRule, RuleError
from pairdesk.alerts.validation import validate_rule


class DuplicateRule(RuleError):
    """An enabled rule identical to another enabled one (the API's 409)."""


def rule_row(rule: AlertRule) -> dict[str, Any]:
    """The stored columns of ``rule``, re-checked (RuleError: nothing is written)."""
    checked = validate_rule({**rule.to_spec(), "rule_id": None}, rule.symbols)
    return {"name": checked.name, "kind": checked.kind, "symbols": "/".join(checked.symbols),
            "timeframe": checked.timeframe, "window": checked.window, "hedge": checked.hedge,
            "params": checked.params, "cooldown_s": checked.cooldown_s, "notify": list(checked.notify),
            "enabled": checked.enabled}


def rule_from_row(row: dict[str, Any]) -> AlertRule:
    """The rule a stored row holds, as stored (the monitor re-checks it before evaluating it)."""
    return AlertRule(rule_id=row["rule_id"], name=row["name"], kind=row["kind"],
                     symbols=tuple(row["symbols"].split("/")), timeframe=row["timeframe"], window=row["window"],
                     hedge=row["hedge"], params=row["params"], cooldown_s=row["cooldown_s"],
                     notify=tuple(row["notify"]), enabled=bool(row["enabled"]))


def check_not_duplicate(conn, rule: AlertRule, rule_id: int | None = None) -> None:
    """DuplicateRule when ``rule`` is enabled and another enabled rule (not ``rule_id``) is identical."""
    if not rule.enabled:
        return
    for other in list_rules(conn):
        if other.enabled and other.rule_id != rule_id and other.signature == rule.signature:
            raise DuplicateRule(f"an identical enabled rule exists: #{other.rule_id} “{other.name}” (same kind, "
                                f"symbols, timeframe, window, hedge and parameters); change one of them, or switch "
                                f"#{other.rule_id} off first")


def insert_rule(conn, rule: AlertRule) -> int:
    """Store a new rule (its rule_id is ignored); returns the new rule_id. It is evaluated from the
    store's newest bar on: never on history. DuplicateRule: nothing is written."""
    row = rule_row(rule)
    check_not_duplicate(conn, rule)
    return store.insert_alert_rule(conn, row)


def update_rule(conn, rule_id: int, rule: AlertRule) -> bool:
    """Replace rule ``rule_id``'s definition (its evaluation restarts at the newest bar); False if no
    such rule. DuplicateRule: nothing is written."""
    row = rule_row(rule)
    check_not_duplicate(conn, rule, rule_id)
    return store.update_alert_rule(conn, rule_id, row)


def with_saved_urls(conn, rule_id: int | None, spec: Mapping[str, Any]) -> dict[str, Any]:
    """``spec`` (a form's or an API body) with each masked ``notify`` URL that rule ``rule_id``
    stores replaced by the stored URL: what it was shown, sent back unchanged, keeps its secret."""
    spec = dict(spec)
    rule = None if rule_id is None else find_rule(conn, rule_id)
    notify = spec.get("notify")
    if rule is not None and isinstance(notify, (list, tuple, str)):
        given = notify.split() if isinstance(notify, str) else list(notify)
        spec["notify"] = restore_masked(given, rule.notify)
    return spec


def firings(conn) -> dict[int, tuple[int, int]]:
    """{rule_id: (bar of its newest event, UTC ms; events raised)} of every rule that fired."""
    return store.read_rule_firings(conn)


def seed_rules(conn, rules: Sequence[AlertRule]) -> list[int]:
    """Insert ``rules`` unless default rules were seeded before; returns the new rule_ids."""
    return store.seed_alert_rules(conn, [rule_row(rule) for rule in rules])


def read_rule_states(conn) -> list[tuple[AlertRule, int, int | None, dict]]:
    """(rule, updated_ms, data_ms, state dict) of every rule, by rule_id: what the monitor needs."""
    return [(rule_from_row(row), row["updated_ms"], row["data_ms"], row["state"])
            for row in store.read_alert_rule_rows(conn)]


def list_rules(conn) -> list[AlertRule]:
    """Every stored rule, by rule_id."""
    return [rule for rule, _updated_ms, _data_ms, _state in read_rule_states(conn)]


def find_rule(conn, rule_id: int) -> AlertRule | None:
    """Stored rule ``rule_id``, None if there is no such rule."""
    return next((rule for rule in list_rules(conn) if rule.rule_id == rule_id), None)


def set_enabled(conn, rule_id: int, enabled: bool) -> bool:
    """Switch a rule on or off (switched on, it starts at the newest bar); False if no such rule.
    DuplicateRule when switching it on would make two identical enabled rules."""
    rule = find_rule(conn, rule_id) if enabled else None
    if rule is not None and not rule.enabled:
        check_not_duplicate(conn, dataclasses.replace(rule, enabled=True), rule_id)
    return store.set_alert_rule_enabled(conn, rule_id, enabled)


def delete_rule(conn, rule_id: int) -> bool:
    """Delete a rule (the events it raised stay in the history); False if no such rule."""
    return store.delete_alert_rule(conn, rule_id)


def acknowledge_events(conn, event_ids: Iterable[int]) -> int:
    """Mark events acknowledged now; returns how many were not acknowledged before (unknown ids count 0)."""
    return store.acknowledge_alert_events(conn, [int(i) for i in event_ids])


def acknowledge_rule_events(conn, rule_id: int) -> int:
    """Acknowledge every event of rule ``rule_id`` not acknowledged yet; returns how many."""
    pending = store.read_alert_events(conn, rule_id=rule_id, unacknowledged=True)
    return acknowledge_events(conn, pending["event_id"].tolist())
