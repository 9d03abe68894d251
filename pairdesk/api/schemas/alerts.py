"""Models of alert rules and the alerts they raised; a rule's meaning is checked by
``pairdesk.alerts.validate_rule``, these models only give it its shape."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from pairdesk import alerts
from pairdesk.api.params import HedgeMethod, Timeframe
from pairdesk.api.schemas.base import Model

AlertKind = Literal[alerts.RULE_KINDS]  # type: ignore[valid-type]


class AlertRuleSpec(Model):
    """A new alert rule; only kind, symbols and params.threshold are required (alerts.validate_rule checks it)."""

    kind: AlertKind = Field(description="what the rule watches (see the endpoint's description)")
    symbols: list[str] | str = Field(description="one symbol, or the pair [A, B] for pair kinds ('A/B' works too); "
                                                 "symbols of this database", examples=[["BTCUSDT", "ETHUSDT"]])
    params: dict[str, Any] = Field(description="threshold (required) and the kind's optional parameters",
                                   examples=[{"threshold": 2.0, "hysteresis": 0.5}])
    name: str | None = Field(None, description="label (default: made from kind, threshold and symbols)")
    timeframe: Timeframe | None = Field(None, description="bar length the rule evaluates (default 1s)")
    window: int | None = Field(None, description="bars; meaning and default per kind")
    hedge: HedgeMethod | None = Field(None, description="hedge ratio of pair kinds (default ols)")
    cooldown_s: float | None = Field(None, description="seconds (data time) after a firing without another "
                                                       "(default 60)")
    notify: list[str] | str | None = Field(
        None, description="where each alert is sent: apprise URLs (tgram://bot_token/chat_id, discord://id/token, "
                          "slack://..., mailto://user:password@host, ntfy://topic, json://host:port/path, ...) or "
                          "plain http(s) webhooks (the alert as JSON); a masked URL as GET shows it keeps the saved one",
        examples=[["json://127.0.0.1:9/hook", "http://127.0.0.1:9/hook"]])
    webhook_url: str | None = Field(None, description="older field: one http(s) URL the alert is POSTed to as "
                                                      "JSON (added to notify)")
    enabled: bool | None = Field(None, description="default true")


class AlertRuleOut(Model):
    rule_id: int
    name: str
    kind: str
    symbols: list[str]
    timeframe: str
    window: int
    hedge: str
    params: dict[str, Any] = Field(description="the kind's parameters, defaults filled in")
    cooldown_s: float
    notify: list[str] = Field(description="where each alert is sent, masked (secrets hidden: tgram://12…op/98…21)")
    webhook_url: str | None = Field(description="older field: the first plain http(s) URL of notify, masked")
    enabled: bool
    last_fired_ms: int | None = Field(description="start of the bar of the rule's newest alert (UTC ms); null: "
                                                  "it never fired")
    events: int = Field(description="alerts the rule raised")


class AlertRulesResponse(Model):
    rules: list[AlertRuleOut]


class NotifyTest(Model):
    """Destinations to send a test message to (POST /api/alerts/test)."""

    notify: list[str] | str = Field(description="apprise URLs or http(s) webhooks, as a rule's notify",
                                    examples=[["json://127.0.0.1:9/hook"]])
    symbols: list[str] | None = Field(None, description="the pair (or symbol) the message links to on the "
                                                        "dashboard (default: no pair)")
    timeframe: Timeframe | None = Field(None, description="the timeframe the link opens (default 1s)")


class NotifyOutcome(Model):
    url: str = Field(description="the destination, masked")
    outcome: str = Field(description="sent, or failed: reason")


class NotifyTestResponse(Model):
    rule_id: int | None = Field(description="the rule whose destinations were tested (null: a list of URLs)")
    results: list[NotifyOutcome] = Field(description="one per URL, in order")


class AlertDeleted(Model):
    rule_id: int
    deleted: bool


class AlertEventOut(Model):
    event_id: int
    ts_ms: int = Field(description="start of the bar that crossed (data time, UTC ms)")
    rule_id: int
    rule_name: str
    kind: str
    symbols: str = Field(description="'A/B' or 'A'")
    timeframe: str
    value: float | None
    threshold: float | None
    direction: str | None = Field(description="UP, DOWN; feed_health: UNHEALTHY, RECOVERED")
    message: str
    detected_ms: int = Field(description="wall-clock time the ingestor stored it")
    acknowledged_ms: int | None
    delivery: str = Field(description="notification delivery: '' (no destination), pending, sent, failed: ..., "
                                      "dropped: ...; with several URLs, each after its masked URL")


class AlertEventsResponse(Model):
    count: int
    events: list[AlertEventOut] = Field(description="newest first")


class AlertRuleSwitch(Model):
    """Switch a rule on or off (PATCH /api/alerts/{rule_id})."""

    enabled: bool = Field(description="true: evaluate the rule from the newest bar on; false: stop evaluating it")


MAX_ACKNOWLEDGED_IDS = 10_000  # event ids in one request
MAX_EVENT_ID = 2**62  # below SQLite's largest integer


class AlertEventsAcknowledge(Model):
    """Alert events to acknowledge, by event_id (see GET /api/alerts/triggered)."""

    event_ids: list[Annotated[int, Field(ge=1, le=MAX_EVENT_ID)]] = Field(max_length=MAX_ACKNOWLEDGED_IDS, examples=[[1, 2, 3]],
                                 description="event ids; unknown or already acknowledged ones are left as they are")


class AlertsAcknowledged(Model):
    rule_id: int | None = Field(description="the rule whose events were acknowledged (null: by event id)")
    acknowledged: int = Field(description="events acknowledged now (not acknowledged before)")
