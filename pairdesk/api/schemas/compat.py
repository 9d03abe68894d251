"""Models of the compatibility routes' own answers (the others answer in the desk's shapes):
``GET /api/alerts_v2``, z-score alerts computed on request."""
from __future__ import annotations

from pydantic import Field

from pairdesk.api.schemas.alerts import AlertRuleOut
from pairdesk.api.schemas.base import Model


class ComputedRule(AlertRuleOut):
    rule_id: int | None = Field(description="null: the rule was built from the query, not stored")


class ComputedAlert(Model):
    ts_ms: int = Field(description="start of the bar that crossed (data time, UTC ms)")
    rule_id: int | None
    rule_name: str
    kind: str
    symbols: str = Field(description="'A/B'")
    timeframe: str
    value: float = Field(description="the z-score at that bar")
    threshold: float
    direction: str = Field(description="UP or DOWN")
    message: str


class ComputedAlertsResponse(Model):
    rule: ComputedRule = Field(description="the zscore rule built from the query, defaults filled in")
    first_bar_ms: int | None = Field(description="first bar evaluated (null: no bar of both symbols in the range)")
    last_bar_ms: int | None = Field(description="last bar evaluated")
    count: int
    alerts: list[ComputedAlert] = Field(description="oldest first")
