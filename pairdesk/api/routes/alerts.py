"""Alert rules (validated once, here at the edge, by ``pairdesk.alerts.validate_rule``; stored through
``pairdesk.alerts.repository``), the alerts they raised, and test messages to their destinations.

Destinations are shown masked (``pairdesk.alerts.notify``); a PUT that sends a masked URL back keeps
the saved one. An enabled rule identical to another enabled one is a 409 saying which."""
from __future__ import annotations

import dataclasses
import logging
import sqlite3
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi import Path as PathParam

from pairdesk import alerts, store
from pairdesk.alerts import channels, links, notify, repository
from pairdesk.api.convert import json_safe, records
from pairdesk.api.deps import DatabaseDep, Reader, write_transaction
from pairdesk.api.errors import BAD_BODY, ERRORS, ErrorBody, ResponsesDoc, not_found, unprocessable
from pairdesk.api.params import DEFAULT_LIMIT, MAX_ROW_ID, LimitParam, parse_time_ms
from pairdesk.api.schemas.alerts import (
    AlertDeleted,
    AlertEventsAcknowledge,
    AlertEventsResponse,
    AlertKind,
    AlertRuleOut,
    AlertRuleSpec,
    AlertRulesResponse,
    AlertRuleSwitch,
    AlertsAcknowledged,
    NotifyTest,
    NotifyTestResponse,
)

log = logging.getLogger(__name__)

router = APIRouter(tags=["alerts"])

ALERT_KINDS_DOC = "\n".join(
    f"* `{kind}`: {alerts.KIND_DESCRIPTIONS[kind]}; params: "
    + "; ".join(f"`{name}` {meaning}" for name, meaning in alerts.KIND_PARAMS[kind].items())
    for kind in alerts.RULE_KINDS)

RuleIdPath = Annotated[int, PathParam(ge=1, le=MAX_ROW_ID, description="the rule's id (see GET /api/alerts)")]
DUPLICATE: ResponsesDoc = {409: {"model": ErrorBody, "description": "an identical enabled rule exists (it is named)"}}


def rule_out(rule: alerts.AlertRule, fired: dict[int, tuple[int, int]]) -> dict[str, Any]:
    """A rule as the API shows it: its spec with the destinations masked, when it last fired and how often."""
    last_fired_ms, events = fired.get(rule.rule_id, (None, 0))
    return {**rule.to_spec(), "notify": notify.masked(rule.notify),
            "webhook_url": None if rule.webhook_url is None else notify.mask_url(rule.webhook_url),
            "last_fired_ms": last_fired_ms, "events": events}


def stored_rule_out(conn: sqlite3.Connection, rule_id: int) -> dict[str, Any]:
    """Rule ``rule_id`` as the API shows it, read back from the store (404 when it is gone)."""
    rule = repository.find_rule(conn, rule_id)
    if rule is None:
        raise no_rule(rule_id)
    return rule_out(rule, repository.firings(conn))


@router.get("/api/alerts", response_model=AlertRulesResponse, summary="Alert rules")
def get_alert_rules(conn: Reader) -> dict[str, Any]:
    """Every stored alert rule with its parameters (defaults filled in), by rule_id, its destinations
    (masked), and when it last fired. The ingestor evaluates the enabled ones on every completed bar
    (feed_health rules: on the feed status, every second)."""
    fired = repository.firings(conn)
    return {"rules": [rule_out(rule, fired) for rule in repository.list_rules(conn)]}


def checked_rule(spec: AlertRuleSpec, conn: sqlite3.Connection, rule_id: int | None = None) -> alerts.AlertRule:
    """``spec`` through ``alerts.validate_rule`` against the database's symbols (masked URLs of rule
    ``rule_id`` restored first); 422 saying what to fix."""
    body = repository.with_saved_urls(conn, rule_id, spec.model_dump(exclude_none=True))
    try:
        return alerts.validate_rule(body, store.list_symbols(conn))
    except alerts.RuleError as exc:
        raise unprocessable(str(exc)) from None


def no_rule(rule_id: int) -> HTTPException:
    return not_found(f"no alert rule {rule_id} (GET /api/alerts lists them)")


def duplicate(exc: repository.DuplicateRule) -> HTTPException:
    return HTTPException(status_code=409, detail=str(exc))


@router.post("/api/alerts", response_model=AlertRuleOut, status_code=201,
             responses={422: ERRORS[422], **DUPLICATE, **BAD_BODY}, summary="Add an alert rule",
             description="Check a rule (`alerts.validate_rule`) and store it; the ingestor starts evaluating it "
                         "from the newest bar on. A rule that does not validate is a 422 saying what to fix "
                         "(an unknown symbol included: it is part of the body); an enabled rule identical to an "
                         "enabled one (same kind, symbols, timeframe, window, hedge and parameters) is a 409. "
                         "Kinds:\n\n" + ALERT_KINDS_DOC)
def add_alert_rule(spec: AlertRuleSpec, conn: Reader, db: DatabaseDep) -> dict[str, Any]:
    rule = checked_rule(spec, conn)
    try:
        with write_transaction(db) as writer:
            rule_id = repository.insert_rule(writer, rule)
    except repository.DuplicateRule as exc:
        raise duplicate(exc) from None
    log.info("alert rule %d added: %s", rule_id, rule.name)
    return rule_out(dataclasses.replace(rule, rule_id=rule_id), {})


@router.delete("/api/alerts/{rule_id}", response_model=AlertDeleted, responses=ERRORS,
               summary="Delete an alert rule")
def delete_alert_rule(rule_id: RuleIdPath, db: DatabaseDep) -> dict[str, Any]:
    """Delete the rule (the alerts it raised stay in the history); 404 when there is no such rule."""
    with write_transaction(db) as writer:
        deleted = repository.delete_rule(writer, rule_id)
    if not deleted:
        raise no_rule(rule_id)
    log.info("alert rule %d deleted", rule_id)
    return {"rule_id": rule_id, "deleted": True}


@router.get("/api/alerts/triggered", response_model=AlertEventsResponse, responses=ERRORS, summary="Alerts raised")
def get_alert_events(
    conn: Reader,
    since: Annotated[str | None, Query(description="only alerts of bars at or after this time: epoch ms or ISO 8601",
                                       examples=["2024-08-09T00:00:00Z"])] = None,
    rule_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID, description="only this rule's alerts")] = None,
    kind: Annotated[AlertKind | None, Query(description="only alerts of this kind")] = None,
    limit: LimitParam = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """Alerts the ingestor raised, newest first (by the time of the bar that crossed), with the value,
    threshold, direction, message and notification delivery."""
    since_ms = None if since is None else parse_time_ms(since, "since")
    events = store.read_alert_events(conn, since_ms=since_ms, rule_id=rule_id, kind=kind, limit=limit)
    return {"count": len(events), "events": [json_safe(event) for event in records(events)]}


@router.put("/api/alerts/{rule_id}", response_model=AlertRuleOut, responses={**ERRORS, **DUPLICATE, **BAD_BODY},
            summary="Edit an alert rule",
            description="Replace the rule's whole definition with a full rule spec (the body of POST /api/alerts, "
                        "checked by `alerts.validate_rule`), as the dashboard's rule form does; the ingestor "
                        "evaluates the new definition from the newest bar on. A masked notify URL, as GET shows "
                        "it, keeps the saved URL. 404 when there is no such rule; 409 when it would be identical "
                        "to another enabled rule.")
def edit_alert_rule(rule_id: RuleIdPath, spec: AlertRuleSpec, conn: Reader, db: DatabaseDep) -> dict[str, Any]:
    rule = checked_rule(spec, conn, rule_id)
    try:
        with write_transaction(db) as writer:
            if not repository.update_rule(writer, rule_id, rule):
                raise no_rule(rule_id)
            shown = stored_rule_out(writer, rule_id)
    except repository.DuplicateRule as exc:
        raise duplicate(exc) from None
    log.info("alert rule %d edited: %s", rule_id, rule.name)
    return shown


@router.patch("/api/alerts/{rule_id}", response_model=AlertRuleOut, responses={**ERRORS, **DUPLICATE, **BAD_BODY},
              summary="Enable or disable an alert rule")
def switch_alert_rule(rule_id: RuleIdPath, body: AlertRuleSwitch, db: DatabaseDep) -> dict[str, Any]:
    """`{"enabled": false}` stops evaluating the rule, `{"enabled": true}` starts it again at the newest
    bar (as the dashboard's switch does). Returns the rule; 404 when there is no such rule; 409 when
    switching it on would make it a second identical enabled rule."""
    try:
        with write_transaction(db) as writer:
            if not repository.set_enabled(writer, rule_id, body.enabled):
                raise no_rule(rule_id)
            shown = stored_rule_out(writer, rule_id)
    except repository.DuplicateRule as exc:
        raise duplicate(exc) from None
    log.info("alert rule %d %s", rule_id, "enabled" if body.enabled else "disabled")
    return shown


@router.post("/api/alerts/test", response_model=NotifyTestResponse, responses={422: ERRORS[422], **BAD_BODY},
             summary="Send a test message to destinations")
def send_test_to_urls(body: NotifyTest, conn: Reader) -> dict[str, Any]:
    """Send a test message to each URL (checked as a rule's `notify` is: a URL apprise cannot parse is
    a 422 naming it), one attempt each, and say per URL how it went. Nothing is stored."""
    try:
        urls = notify.check_notify(body.notify)
    except alerts.RuleError as exc:
        raise unprocessable(str(exc)) from None
    if not urls:
        raise unprocessable("notify lists no URL to test")
    symbols = [s.strip().upper() for s in body.symbols or [] if s.strip()]
    known = set(store.list_symbols(conn))
    unknown = [s for s in symbols if s not in known]
    if unknown:
        raise unprocessable(f"unknown symbol {unknown[0]!r}: not in this database")
    payload = channels.sample_payload(links.dashboard_url(), symbols[:2], body.timeframe or "1s")
    return {"rule_id": None, "results": channels.send_test(urls, payload)}


@router.post("/api/alerts/{rule_id}/test", response_model=NotifyTestResponse, responses=ERRORS,
             summary="Send a test message to a rule's destinations")
def send_test_to_rule(rule_id: RuleIdPath, conn: Reader) -> dict[str, Any]:
    """Send a test message, linking to the rule's pair on the dashboard, to each of the rule's notify
    URLs (as its alerts travel, one attempt each) and say per URL how it went. 404 when there is no
    such rule; 422 when it has no destination."""
    rule = repository.find_rule(conn, rule_id)
    if rule is None:
        raise no_rule(rule_id)
    if not rule.notify:
        raise unprocessable(f"alert rule {rule_id} has no notify URL to test; add one (PUT /api/alerts/{rule_id})")
    payload = channels.sample_payload(links.dashboard_url(), rule.symbols, rule.timeframe, rule.rule_id, rule.name)
    return {"rule_id": rule_id, "results": channels.send_test(rule.notify, payload)}


@router.post("/api/alerts/triggered/acknowledge", response_model=AlertsAcknowledged,
             responses={422: ERRORS[422], **BAD_BODY}, summary="Acknowledge alerts by event id")
def acknowledge_alert_events(body: AlertEventsAcknowledge, db: DatabaseDep) -> dict[str, Any]:
    """Mark the given events acknowledged now, as the dashboard's alert history does; ids unknown or
    acknowledged before are left as they are. Returns how many were acknowledged now."""
    with write_transaction(db) as writer:
        count = repository.acknowledge_events(writer, body.event_ids)
    return {"rule_id": None, "acknowledged": count}


@router.post("/api/alerts/{rule_id}/acknowledge", response_model=AlertsAcknowledged, responses=ERRORS,
             summary="Acknowledge a rule's alerts")
def acknowledge_rule_alerts(rule_id: RuleIdPath, db: DatabaseDep) -> dict[str, Any]:
    """Mark every alert of the rule not acknowledged yet as acknowledged now. Returns how many; 404
    when there is no such rule."""
    with write_transaction(db) as writer:
        if repository.find_rule(writer, rule_id) is None:
            raise no_rule(rule_id)
        count = repository.acknowledge_rule_events(writer, rule_id)
    return {"rule_id": rule_id, "acknowledged": count}
