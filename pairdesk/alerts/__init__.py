"""Alert rules and their evaluation: rule specs in, validated rules out; bars in, events out.

A rule watches one symbol or a pair (A/B, A the dependent leg as in ``pairdesk.analytics``) at
one timeframe. The monitor drives it inside the ingestor: every completed bar, in data time, in
order, exactly once (a ``feed_health`` rule: the feed status, every second). Its events go to its
``notify`` URLs (apprise's services, or plain webhooks). The package, one concern per module:

- ``rules``: the ``AlertRule`` record, ``RuleError`` and the checks every field shares.
- ``params``: the parameter types a kind declares (meaning, default, bounds).
- ``kinds``: one ``KindSpec`` record per rule kind, in the registry ``KINDS``.
- ``validation``: ``validate_rule`` (the one edge where specs become rules), default rules.
- ``values``: each kind's value series on pandas bars, through ``pairdesk.analytics``.
- ``trigger``: edges, hysteresis, cooldown, ``RuleState`` and ``AlertEvent``.
- ``evaluation``: which bars a range needs, its values, its events.
- ``feed``: the feed_health rule on the store's feed status (``pairdesk.health``'s light).
- ``notify``: destination URLs checked (apprise) and masked; ``links``: the dashboard link;
  ``channels``: one message to one URL, and the send-test.
- ``repository``: rules to and from the store's rows (identical enabled rules refused);
  ``monitor``: the thread in the ingestor; ``delivery``: the sender thread; ``writing``: how both
  use the single writer.

This module only re-exports the names the API, the dashboard and the tests use.
"""
from __future__ import annotations

from pairdesk.alerts.evaluation import bars_needed, evaluate, observe
from pairdesk.alerts.kinds import KIND_DESCRIPTIONS, KIND_PARAMS, KINDS, PAIR_KINDS, RULE_KINDS, KindSpec, kind_spec
from pairdesk.alerts.rules import ALERT_HEDGES, MAX_WINDOW_BARS, SPEC_FIELDS, AlertRule, RuleError
from pairdesk.alerts.trigger import AlertEvent, Edge, RuleState, edges, message, trigger
from pairdesk.alerts.validation import DEFAULT_Z_RULES, default_rules, default_spec, validate_rule
from pairdesk.alerts.values import Observation

__all__ = [
    "KINDS", "KindSpec", "kind_spec", "RULE_KINDS", "KIND_DESCRIPTIONS", "KIND_PARAMS", "PAIR_KINDS", "SPEC_FIELDS",
    "ALERT_HEDGES", "MAX_WINDOW_BARS", "RuleError", "AlertRule", "validate_rule", "default_spec", "default_rules",
    "DEFAULT_Z_RULES",
    "Edge", "edges", "message", "Observation", "AlertEvent", "RuleState", "bars_needed", "observe", "trigger",
    "evaluate",
]
