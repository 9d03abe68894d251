"""Alert rules (validated once, here at the edge, by ``pairdesk.alerts.validate_rule``; stored through
``pairdesk.alerts.repository``) and the alerts they raised."""
from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam

from pairdesk import alerts, store
from pairdesk.alerts import repository
from pairdesk.api.convert import json_safe, records
from pairdesk.api.deps import DatabaseDep, Reader, write_transaction
from pairdesk.api.errors import BAD_BODY, ERRORS, not_found, unprocessable
from pairdesk.api.params import DEFAULT_LIMIT, LimitParam, parse_time_ms
from pairdesk.api.schemas.alerts import (
    AlertDeleted,
    AlertEventsResponse,
    AlertKind,
    AlertRuleOut,
    AlertRuleSpec,
    AlertRulesResponse,
)

log = logging.getLogger(__name__)

router = APIRouter(tags=["alerts"])

MAX_RULE_ID = 2**62
ALERT_KINDS_DOC = "\n".join(
    f"* `{kind}`: {alerts.KIND_DESCRIPTIONS[kind]}; params: "
    + "; ".join(f"`{name}` {meaning}" for name, meaning in alerts.KIND_PARAMS[kind].items())
    for kind in alerts.RULE_KINDS)

RuleIdPath = Annotated[int, PathParam(ge=1, le=MAX_RULE_ID, description="the rule's id (see GET /api/alerts)")]


@router.get("/api/alerts", response_model=AlertRulesResponse, summary="Alert rules")
def get_alert_rules(conn: Reader) -> dict[str, Any]:
    """Every stored alert rule with its parameters (defaults filled in), by rule_id. The ingestor
    evaluates the enabled ones on every completed bar."""
    return {"rules": [rule.to_spec() for rule in repository.list_rules(conn)]}


@router.post("/api/alerts", response_model=AlertRuleOut, status_code=201, responses={422: ERRORS[422], **BAD_BODY},
             summary="Add an alert rule",
             description="Check a rule (`alerts.validate_rule`) and store it; the ingestor starts evaluating it "
                         "from the newest bar on. A rule that does not validate is a 422 saying what to fix "
                         "(an unknown symbol included: it is part of the body). Kinds:\n\n" + ALERT_KINDS_DOC)
def add_alert_rule(spec: AlertRuleSpec, conn: Reader, db: DatabaseDep) -> dict[str, Any]:
    try:
        rule = alerts.validate_rule(spec.model_dump(exclude_none=True), store.list_symbols(conn))
    except alerts.RuleError as exc:
        raise unprocessable(str(exc)) from None
    with write_transaction(db) as writer:
        rule_id = repository.insert_rule(writer, rule)
    log.info("alert rule %d added: %s", rule_id, rule.name)
    return {**rule.to_spec(), "rule_id": rule_id}


@router.delete("/api/alerts/{rule_id}", response_model=AlertDeleted, responses=ERRORS,
               summary="Delete an alert rule")
def delete_alert_rule(rule_id: RuleIdPath, db: DatabaseDep) -> dict[str, Any]:
    """Delete the rule (the alerts it raised stay in the history); 404 when there is no such rule."""
    with write_transaction(db) as writer:
        deleted = store.delete_alert_rule(writer, rule_id)
    if not deleted:
        raise not_found(f"no alert rule {rule_id} (GET /api/alerts lists them)")
    log.info("alert rule %d deleted", rule_id)
    return {"rule_id": rule_id, "deleted": True}


@router.get("/api/alerts/triggered", response_model=AlertEventsResponse, responses=ERRORS, summary="Alerts raised")
def get_alert_events(
    conn: Reader,
    since: Annotated[str | None, Query(description="only alerts of bars at or after this time: epoch ms or ISO 8601",
                                       examples=["2024-08-09T00:00:00Z"])] = None,
    rule_id: Annotated[int | None, Query(ge=1, le=MAX_RULE_ID, description="only this rule's alerts")] = None,
    kind: Annotated[AlertKind | None, Query(description="only alerts of this kind")] = None,
    limit: LimitParam = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """Alerts the ingestor raised, newest first (by the time of the bar that crossed), with the value,
    threshold, direction, message and webhook delivery."""
    since_ms = None if since is None else parse_time_ms(since, "since")
    events = store.read_alert_events(conn, since_ms=since_ms, rule_id=rule_id, kind=kind, limit=limit)
    return {"count": len(events), "events": [json_safe(event) for event in records(events)]}
