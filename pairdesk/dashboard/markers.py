"""Which alert events are marked on the page's charts: only those whose rule computed its value
with the page's own signal.

A z-score alert's value is the pair panel's z at its bar only when the rule's timeframe, hedge,
z window and hedge window (``params["lookback"]``) are the page's (``pairdesk.alerts.values``);
marked on a chart of other settings, it would float off the line it annotates. So an event is
marked when every setting its kind depends on (``MATCHED_SETTINGS``) equals the page's; the
others are counted by the first setting that differs, for the caption that says how many
markers are hidden and why. Pure: events and rules in, events and counts out.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import pandas as pd

from pairdesk import alerts

if TYPE_CHECKING:  # data imports this module
    from pairdesk.dashboard.data import Settings

# (why it is hidden, the rule's setting, the page's setting), checked in this order
Check = tuple[str, Callable[[alerts.AlertRule], object], Callable[["Settings"], object]]
TIMEFRAME: Check = ("another timeframe", lambda r: r.timeframe, lambda s: s.timeframe)
HEDGE: Check = ("another hedge", lambda r: r.hedge, lambda s: s.hedge)
Z_WINDOW: Check = ("another z window", lambda r: r.window, lambda s: s.window)
Z_HEDGE_WINDOW: Check = ("another hedge window", lambda r: r.params.get("lookback"), lambda s: s.hedge_window)
ADF_HEDGE_WINDOW: Check = ("another hedge window", lambda r: r.params.get("hedge_window"), lambda s: s.hedge_window)
MATCHED_SETTINGS: dict[str, tuple[Check, ...]] = {
    "zscore": (TIMEFRAME, HEDGE, Z_WINDOW, Z_HEDGE_WINDOW),
    "zscore_extreme": (TIMEFRAME, HEDGE, Z_WINDOW, Z_HEDGE_WINDOW),
    "stationarity_loss": (TIMEFRAME, HEDGE, ADF_HEDGE_WINDOW),
}
DEFAULT_CHECKS = (TIMEFRAME,)  # price, volume, volatility, correlation: the bars of the page's timeframe
RULE_GONE = "a deleted rule (its settings are unknown)"


def hidden_reason(rule: alerts.AlertRule | None, s: "Settings") -> str | None:
    """Why events of ``rule`` are not marked on the page of ``s`` (None: they are marked)."""
    if rule is None:
        return RULE_GONE
    for reason, of_rule, of_page in MATCHED_SETTINGS.get(rule.kind, DEFAULT_CHECKS):
        if of_rule(rule) != of_page(s):
            return reason
    return None


def split_markers(events: pd.DataFrame, rules: Mapping[int, alerts.AlertRule],
                  s: "Settings") -> tuple[pd.DataFrame, dict[str, int]]:
    """(the events to mark, {reason: how many hidden}); ``rules`` by rule_id (the stored definitions)."""
    if len(events) == 0:
        return events, {}
    reasons = pd.Series([hidden_reason(rules.get(int(rule_id)), s) for rule_id in events["rule_id"]],
                        index=events.index, dtype=object)
    shown = events[reasons.isna()].reset_index(drop=True)
    return shown, {str(reason): int(count) for reason, count in reasons.dropna().value_counts().items()}


def hidden_caption(hidden: Mapping[str, int]) -> str | None:
    """The caption under the charts when markers are hidden (None when none are)."""
    total = sum(hidden.values())
    if total == 0:
        return None
    why = ", ".join(f"{count} from {reason.removeprefix('a ')}" if reason == RULE_GONE else f"{count} of {reason}"
                    for reason, count in sorted(hidden.items(), key=lambda item: -item[1]))
    return (f"{total} alert marker{'s' * (total > 1)} hidden ({why}): a marker is drawn only on the chart whose "
            f"timeframe, hedge, window and hedge window produced it, so that it sits on its line.")
