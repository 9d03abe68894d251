"""Evaluate a rule on a range of bars: which bars to read, its values there, and the events they fire.

Evaluating a range in one call or bar by bar gives the same events and state, so the monitor may
cut a catch-up into passes of any size.
"""
from __future__ import annotations

import math

from pairdesk import analytics
from pairdesk.alerts.kinds import KINDS
from pairdesk.alerts.rules import AlertRule
from pairdesk.alerts.trigger import AlertEvent, RuleState, trigger
from pairdesk.alerts.values import BarsBySymbol, Observation


def bars_needed(rule: AlertRule, first_bar_ms: int, last_bar_ms: int) -> tuple[int, int]:
    """The one-second bars [start_ms, end_ms) to read to evaluate bars first..last (bar starts)."""
    spec = KINDS[rule.kind]
    tf = rule.timeframe_ms
    carried = math.ceil(analytics.DEFAULT_MAX_STALE_S * 1000 / tf) + 1 if spec.carries_forward else 0
    return int(first_bar_ms - (spec.history_bars(rule) + carried) * tf), int(last_bar_ms + tf)


def observe(rule: AlertRule, bars: BarsBySymbol, first_bar_ms: int, last_bar_ms: int,
            adf_block: int | None = None) -> list[Observation]:
    """The rule's values at bars first..last (bar starts at the rule's timeframe), in order.

    ``bars``: one-second bars per symbol (``store.read_bars_1s`` frames) covering at least
    ``bars_needed(rule, first, last)``; more is fine. Bars without a trade of the rule's
    symbols are left out. ``adf_block``: for kinds computed once per block of bars
    (stationarity_loss), the last block already computed: the values start at the next one.
    """
    spec = KINDS[rule.kind]
    if spec.feed:
        raise ValueError(f"{rule.kind} rules are checked on the feed status (pairdesk.alerts.feed), not on bars")
    block_ms = spec.block_ms(rule)
    if block_ms is not None and adf_block is not None:
        first_bar_ms = max(first_bar_ms, (adf_block + 1) * block_ms)
    return spec.compute_values(rule, bars, first_bar_ms, last_bar_ms)


def evaluate(rule: AlertRule, bars: BarsBySymbol, first_bar_ms: int, last_bar_ms: int,
             state: RuleState) -> tuple[list[AlertEvent], RuleState]:
    """Evaluate bars first..last after ``state``; returns the events fired and the state after last.

    Evaluating a range in one call or bar by bar gives the same events and state.
    """
    observations = observe(rule, bars, first_bar_ms, last_bar_ms, state.adf_block)
    events, state = trigger(rule, observations, state)
    block_ms = KINDS[rule.kind].block_ms(rule)
    if block_ms is not None and observations:
        state.adf_block = int(observations[-1].ts_ms // block_ms)
    if state.since_ms is None:
        state.since_ms = int(first_bar_ms)
    state.last_bar_ms = int(last_bar_ms)
    return events, state
