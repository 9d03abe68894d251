"""From a rule's values to its events: edges with hysteresis, a per-rule cooldown, the state between bars.

Each direction of a rule (an ``Edge``: UP fires when the value reaches its level from below,
DOWN when it reaches it from above) is armed or not. An armed edge fires when its condition
starts to hold and disarms; it re-arms only once the value is back beyond the level by
``hysteresis`` (in the value's units). A NaN value changes nothing and never fires. The first
value a rule sees only arms its edges: a condition that already holds is not a crossing. A
per-rule ``cooldown_s`` (data time, across both directions) suppresses a firing that comes too
soon after the previous one; the edge still disarms, so a suppressed crossing is never reported
late. Cooldown and hysteresis are measured in data time, so a replay at any speed gives the same
events as the live run did.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pairdesk.alerts.kinds import KINDS, Crossing
from pairdesk.alerts.rules import AlertRule
from pairdesk.alerts.values import Observation


@dataclass(frozen=True)
class Edge:
    """One direction of a rule: fires when the value reaches ``level`` (from below when
    ``above``, else from above); re-arms once the value is beyond ``rearm``."""

    direction: str  # "UP" or "DOWN"
    level: float
    above: bool
    rearm: float

    def fires(self, value: float) -> bool:
        return value >= self.level if self.above else value <= self.level

    def rearms(self, value: float) -> bool:
        return value < self.rearm if self.above else value > self.rearm


def edges(rule: AlertRule) -> list[Edge]:
    """The directions ``rule`` watches, from its kind's ``Crossing`` (none for a feed kind: see
    ``pairdesk.alerts.feed``)."""
    crossing = KINDS[rule.kind].crossing
    if crossing is Crossing.FEED:
        return []
    threshold, hysteresis = rule.params["threshold"], rule.params["hysteresis"]
    up = Edge("UP", threshold, True, threshold - hysteresis)
    down = Edge("DOWN", threshold, False, threshold + hysteresis)
    if crossing is Crossing.OUTSIDE_BAND:
        side = rule.params["side"]
        below = Edge("DOWN", -threshold, False, -threshold + hysteresis)
        return [e for e, wanted in ((up, side != "down"), (below, side != "up")) if wanted]
    return {Crossing.ABOVE: [up], Crossing.BELOW: [down], Crossing.EITHER_WAY: [up, down]}[crossing]


@dataclass(frozen=True)
class AlertEvent:
    """One firing. ``ts_ms`` is the start of the bar whose value crossed (data time, UTC ms)."""

    ts_ms: int
    rule_id: int | None
    rule_name: str
    kind: str
    symbols: str
    timeframe: str
    value: float
    threshold: float
    direction: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class RuleState:
    """What a rule remembers between bars (stored as JSON in ``alert_rules.state``).

    since_ms / last_bar_ms: first and last bar evaluated (bar starts, data time); armed: per
    direction, absent until the first defined value; last_fired_ms: bar of the last event (for
    the cooldown); suppressed: crossings swallowed by the cooldown; adf_block: the last block
    of bars whose value was computed, for kinds computed once per block (stationarity_loss);
    feed: what a feed kind remembers of the current outage (``pairdesk.alerts.feed``; {} while healthy).
    """

    since_ms: int | None = None
    last_bar_ms: int | None = None
    armed: dict[str, bool] = field(default_factory=dict)
    last_fired_ms: int | None = None
    suppressed: int = 0
    adf_block: int | None = None
    feed: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RuleState:
        """The state stored by ``to_dict``; a fresh state for None or {} (unknown keys ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        state = cls(**{k: v for k, v in (data or {}).items() if k in names})
        state.armed = {str(k): bool(v) for k, v in state.armed.items()}
        return state

    def copy(self) -> RuleState:
        return dataclasses.replace(self, armed=dict(self.armed), feed=dict(self.feed))


def message(rule: AlertRule, value: float, edge: Edge) -> str:
    """The line a trader reads, e.g. ``BTCUSDT/ETHUSDT z-score 2.31 crossed +2.00 UP (1s, window 60, OLS)``."""
    return KINDS[rule.kind].message(rule, value, edge.level, edge.direction)


def trigger(rule: AlertRule, observations: Sequence[Observation], state: RuleState
            ) -> tuple[list[AlertEvent], RuleState]:
    """Run ``observations`` (in bar order) through the rule's edges; returns the events and the new state."""
    state = state.copy()
    rule_edges = edges(rule)
    cooldown_ms = rule.cooldown_s * 1000.0
    events: list[AlertEvent] = []
    for observation in observations:
        value = float(observation.value)
        if not math.isfinite(value):
            continue
        for edge in rule_edges:
            armed = state.armed.get(edge.direction)
            if armed is None:
                state.armed[edge.direction] = not edge.fires(value)
            elif armed and edge.fires(value):
                state.armed[edge.direction] = False
                if state.last_fired_ms is not None and observation.ts_ms - state.last_fired_ms < cooldown_ms:
                    state.suppressed += 1
                    continue
                state.last_fired_ms = observation.ts_ms
                events.append(AlertEvent(
                    ts_ms=int(observation.ts_ms), rule_id=rule.rule_id, rule_name=rule.name, kind=rule.kind,
                    symbols=rule.label, timeframe=rule.timeframe, value=value, threshold=edge.level,
                    direction=edge.direction, message=message(rule, value, edge)))
            elif not armed and edge.rearms(value):
                state.armed[edge.direction] = True
    return events, state
