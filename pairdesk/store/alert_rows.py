"""Alert rules and events as rows.

The store deals in rows: a rule is a mapping with the ALERT_RULE_FIELDS ("symbols" as "A/B",
"params" a dict, "notify" a list of URLs). ``pairdesk.alerts.repository`` checks rules and converts them. Writers call these
inside a transaction on a writer connection; the ingestor's monitor calls its own through
``TradeWriter.call``, each in a nested ``atomic`` block (a savepoint), so that a failure can never
roll back the trades of the writer's batch.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from pairdesk.store.atomic import atomic
from pairdesk.store.database import now_ms
from pairdesk.store.dialect import greatest
from pairdesk.store.readers import _query_frame, bar_bounds_by_symbol

if TYPE_CHECKING:
    import pandas as pd

ALERT_RULES_SEEDED_KEY = "alert_rules_seeded"  # meta key: default rules were added once (never again)


ALERT_RULE_FIELDS = ("name", "kind", "symbols", "timeframe", "window", "hedge", "params", "cooldown_s",
                     "notify", "enabled")
_JSON_FIELDS = ("params", "notify")
_RULE_COLUMNS = ", ".join(f'"{name}"' for name in ALERT_RULE_FIELDS)  # quoted: "window" is a keyword


_ALERT_EVENT_FIELDS = ("ts_ms", "rule_id", "rule_name", "kind", "symbols", "timeframe", "value", "threshold",
                       "direction", "message", "delivery")


def _alert_rule_values(row: Mapping[str, object]) -> tuple:
    """The stored columns of a rule row, in ALERT_RULE_FIELDS order (``params`` a dict and ``notify`` a
    list, stored as JSON)."""
    return tuple(json.dumps(row[name], sort_keys=True) if name in _JSON_FIELDS
                 else int(bool(row["enabled"])) if name == "enabled" else row[name] for name in ALERT_RULE_FIELDS)


def _data_clock_ms(conn: sqlite3.Connection) -> int | None:
    """Start of the newest one-second bar of any symbol (the store's data time), None when empty."""
    return max((last for _first, last in bar_bounds_by_symbol(conn).values()), default=None)


def insert_alert_rule(conn: sqlite3.Connection, rule: Mapping[str, object]) -> int:
    """Store a new rule row (checked by the caller); returns the new rule_id.

    The rule is evaluated from the store's newest bar on (``data_ms``): never on history.
    """
    now = now_ms()
    return conn.execute(
        f"INSERT INTO alert_rules ({_RULE_COLUMNS}, created_ms, updated_ms, data_ms) "
        f"VALUES ({', '.join('?' * len(ALERT_RULE_FIELDS))}, ?, ?, ?) RETURNING rule_id",
        (*_alert_rule_values(rule), now, now, _data_clock_ms(conn)),
    ).fetchone()[0]


def update_alert_rule(conn: sqlite3.Connection, rule_id: int, rule: Mapping[str, object]) -> bool:
    """Replace rule ``rule_id``'s definition (its evaluation restarts at the newest bar); False if no such rule."""
    assignments = ", ".join(f'"{name}" = ?' for name in ALERT_RULE_FIELDS)
    return conn.execute(
        f"UPDATE alert_rules SET {assignments}, updated_ms = {greatest(conn)}(?, updated_ms + 1), data_ms = ?, "
        "state = '{}' "
        "WHERE rule_id = ?",
        (*_alert_rule_values(rule), now_ms(), _data_clock_ms(conn), int(rule_id)),
    ).rowcount == 1


def set_alert_rule_enabled(conn: sqlite3.Connection, rule_id: int, enabled: bool) -> bool:
    """Switch a rule on or off (switched on, it restarts at the newest bar); False if no such rule."""
    exists = conn.execute("SELECT enabled FROM alert_rules WHERE rule_id = ?", (int(rule_id),)).fetchone()
    if exists is None:
        return False
    if bool(exists[0]) != bool(enabled):
        conn.execute(f"UPDATE alert_rules SET enabled = ?, updated_ms = {greatest(conn)}(?, updated_ms + 1), data_ms = ?, "
                     "state = '{}' WHERE rule_id = ?", (int(bool(enabled)), now_ms(), _data_clock_ms(conn), int(rule_id)))
    return True


def delete_alert_rule(conn: sqlite3.Connection, rule_id: int) -> bool:
    """Delete a rule (its past events stay); False if no such rule."""
    return conn.execute("DELETE FROM alert_rules WHERE rule_id = ?", (int(rule_id),)).rowcount == 1


def read_alert_rule_rows(conn: sqlite3.Connection) -> list[dict]:
    """Every stored rule as a row, by rule_id: rule_id, the ALERT_RULE_FIELDS ("params" a dict,
    "notify" a list, "enabled" a bool), updated_ms, data_ms and state (a dict).

    ``updated_ms`` changes whenever the definition or the enabled flag does; ``data_ms`` is the
    store's newest bar when that happened (None: the store was empty); ``state`` is what the
    monitor saved ({} until it evaluates the current definition).
    """
    columns = ("rule_id", *ALERT_RULE_FIELDS, "updated_ms", "data_ms", "state")
    rows = conn.execute(f"SELECT rule_id, {_RULE_COLUMNS}, updated_ms, data_ms, state FROM alert_rules "
                        "ORDER BY rule_id").fetchall()
    out = []
    for values in rows:
        row = dict(zip(columns, values))
        row["params"] = json.loads(row["params"])
        row["notify"] = json.loads(row["notify"] or "[]")
        row["enabled"] = bool(row["enabled"])
        row["state"] = json.loads(row["state"] or "{}")
        out.append(row)
    return out


def seed_alert_rules(conn: sqlite3.Connection, rules: Sequence[Mapping[str, object]]) -> list[int]:
    """Insert rule rows unless default rules were seeded before (meta key); returns the new rule_ids."""
    with atomic(conn):  # the key first: of several ingestors starting at once, one seeds (the others wait, then see it)
        if conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING key",
                        (ALERT_RULES_SEEDED_KEY, str(now_ms()))).fetchone() is None:
            return []
        return [insert_alert_rule(conn, rule) for rule in rules]


def save_alert_progress(conn: sqlite3.Connection, events: Sequence[dict], states: dict[int, tuple[int, str]]
                        ) -> list[int | None]:
    """Store fired events and the rules' evaluation state together; returns the events' ids.

    ``events``: dicts with the keys of ``alerts.AlertEvent`` (plus ``delivery``); ``states``:
    {rule_id: (updated_ms the state belongs to, state JSON)}. Both are written only where the
    rule still has that ``updated_ms``: a definition changed or deleted meanwhile restarts from
    scratch and its stale events are dropped (their id is None). Events of a rule without an
    entry in ``states`` are always stored.
    """
    with atomic(conn):
        detected = now_ms()
        current = dict(conn.execute("SELECT rule_id, updated_ms FROM alert_rules").fetchall())
        ids = []
        for event in events:
            expected = states.get(event["rule_id"])
            if expected is not None and current.get(event["rule_id"]) != expected[0]:
                ids.append(None)
                continue
            ids.append(conn.execute(
                f"INSERT INTO alert_events ({', '.join(_ALERT_EVENT_FIELDS)}, detected_ms) "
                f"VALUES ({', '.join('?' * len(_ALERT_EVENT_FIELDS))}, ?) RETURNING event_id",
                (*(event.get(name, "") if name == "delivery" else event[name] for name in _ALERT_EVENT_FIELDS),
                 detected),
            ).fetchone()[0])
        conn.executemany("UPDATE alert_rules SET state = ? WHERE rule_id = ? AND updated_ms = ?",
                         [(state, rule_id, updated_ms) for rule_id, (updated_ms, state) in states.items()])
        return ids


def set_alert_delivery(conn: sqlite3.Connection, event_id: int, delivery: str) -> None:
    """Record how an event's notifications went ("sent", "failed: ...", "dropped: ...", or those per URL)."""
    with atomic(conn):
        conn.execute("UPDATE alert_events SET delivery = ? WHERE event_id = ?", (delivery, int(event_id)))


def read_alert_events(conn: sqlite3.Connection, since_ms: int | None = None, rule_id: int | None = None,
                      kind: str | None = None, limit: int | None = None, *, until_ms: int | None = None,
                      direction: str | None = None, unacknowledged: bool = False,
                      after_event_id: int | None = None) -> pd.DataFrame:
    """Alert events, newest first (by bar time): optionally with since_ms <= ts_ms < until_ms, of one
    rule, of one kind, of one direction (UP / DOWN), only those not acknowledged yet, only those
    stored after event ``after_event_id`` (event ids grow as events are stored).

    Columns: event_id, ts_ms (start of the bar that crossed, UTC ms, data time), rule_id,
    rule_name, kind, symbols ("A/B"), timeframe, value, threshold, direction (UP / DOWN),
    message, detected_ms (wall clock when stored), acknowledged_ms (NaN until acknowledged),
    delivery (notifications: "", "pending", "sent", "failed: ...", "dropped: ...", or those per URL).
    """
    clauses, params = [], []
    for column, value in (("ts_ms >=", since_ms), ("ts_ms <", until_ms), ("rule_id =", rule_id), ("kind =", kind),
                          ("direction =", direction), ("event_id >", after_event_id)):
        if value is not None:
            clauses.append(f"{column} ?")
            params.append(value)
    if unacknowledged:
        clauses.append("acknowledged_ms IS NULL")
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = ("SELECT event_id, ts_ms, rule_id, rule_name, kind, symbols, timeframe, value, threshold, direction, "
           f"message, detected_ms, acknowledged_ms, delivery FROM alert_events{where} ORDER BY ts_ms DESC, event_id DESC")
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return _query_frame(conn, sql, params)


def read_rule_firings(conn: sqlite3.Connection) -> dict[int, tuple[int, int]]:
    """{rule_id: (start of the bar of its newest event, UTC ms; how many events it raised)} of every
    stored rule that raised one. Only events stored since the rule was created count: a new rule
    may get the id of a deleted one, whose events stay in the history."""
    return {int(rule_id): (int(last_ms), int(count)) for rule_id, last_ms, count in conn.execute(
        "SELECT e.rule_id, max(e.ts_ms), count(*) FROM alert_events e JOIN alert_rules r ON r.rule_id = e.rule_id "
        "WHERE e.detected_ms >= r.created_ms GROUP BY e.rule_id")}


def last_alert_event_id(conn: sqlite3.Connection) -> int | None:
    """The id of the most recently stored alert event, None when there is none."""
    return conn.execute("SELECT max(event_id) FROM alert_events").fetchone()[0]


def acknowledge_alert_events(conn: sqlite3.Connection, event_ids: Iterable[int]) -> int:
    """Mark events acknowledged (now); returns how many were not acknowledged before."""
    return conn.executemany("UPDATE alert_events SET acknowledged_ms = ? WHERE event_id = ? AND acknowledged_ms IS NULL",
                            [(now_ms(), int(event_id)) for event_id in event_ids]).rowcount

