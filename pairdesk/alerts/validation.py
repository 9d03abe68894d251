"""The one edge where a rule spec (a form, an API body, a stored row) becomes an ``AlertRule``.

``validate_rule`` checks every field and fills in the defaults of the rule's kind; everything
after it trusts the rule. ``pairdesk.alerts.repository`` calls it again on the way into the store.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from pairdesk import analytics
from pairdesk.alerts.kinds import KindSpec, kind_spec
from pairdesk.alerts.notify import check_notify
from pairdesk.alerts.rules import (
    ALERT_HEDGES,
    DEFAULT_COOLDOWN_S,
    DEFAULT_HEDGE,
    DEFAULT_TIMEFRAME,
    LEGACY_SPEC_FIELDS,
    MAX_NAME_CHARS,
    SPEC_FIELDS,
    AlertRule,
    RuleError,
    check_bars,
    check_flag,
    check_number,
)


def _symbols(value: Any, spec: KindSpec, known_symbols: Collection[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.replace(",", "/").split("/")
    if not isinstance(value, (list, tuple)) or not all(isinstance(s, str) for s in value):
        raise RuleError(f"symbols must be a list of symbol names such as ['BTCUSDT', 'ETHUSDT'], got {value!r}")
    symbols = tuple(s.strip().upper() for s in value if s.strip())
    wanted = spec.symbol_count
    if len(symbols) != wanted:
        shape = "a pair A/B" if spec.pair else "one symbol"
        raise RuleError(f"{spec.name} needs {wanted} symbol{'s' if wanted > 1 else ''} ({shape}), got {len(symbols)}")
    if len(set(symbols)) != len(symbols):
        raise RuleError(f"{spec.name} needs two different symbols, got {'/'.join(symbols)}")
    known = {s.upper() for s in known_symbols}
    for symbol in symbols:
        if symbol not in known:
            listed = ", ".join(sorted(known)) or "none yet"
            raise RuleError(f"unknown symbol {symbol!r}; known symbols: {listed}")
    return symbols


def _params(spec: KindSpec, given: Any, window: int) -> dict[str, Any]:
    """The kind's parameters checked in their declared order and completed with defaults."""
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise RuleError(f"params must be an object of parameter names to values, got {given!r}")
    allowed = spec.param_meanings
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise RuleError(f"unknown parameter {unknown[0]!r} for {spec.name}; expected {', '.join(allowed)}")
    if given.get("threshold") is None:
        raise RuleError(f"threshold is required for {spec.name} ({allowed['threshold']})")
    threshold = spec.threshold.check(given["threshold"], 0.0, window)
    params: dict[str, Any] = {"threshold": threshold}
    for param in spec.params[1:]:
        value = given[param.name] if param.name in given else param.default(threshold, window)
        params[param.name] = param.check(value, threshold, window)
    return params


def _name(value: Any, spec: KindSpec, symbols: Sequence[str], threshold: float) -> str:
    name = value or spec.default_name("/".join(symbols), threshold)
    if not isinstance(name, str) or not name.strip():
        raise RuleError(f"name must be text, got {name!r}")
    name = " ".join(name.split())
    if len(name) > MAX_NAME_CHARS:
        raise RuleError(f"name must be at most {MAX_NAME_CHARS} characters, got {len(name)}")
    return name


def _rule_id(value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
        raise RuleError(f"rule_id must be a whole number or null, got {value!r}")
    return None if value is None else int(value)


def validate_rule(spec: Mapping[str, Any], known_symbols: Collection[str]) -> AlertRule:
    """Check a rule spec and return the rule with every default filled in; RuleError otherwise.

    ``spec`` keys (only ``kind``, ``symbols`` and ``params["threshold"]`` are required):
    rule_id, name, kind (one of RULE_KINDS), symbols (list, or "A/B"), timeframe (default 1s),
    window (bars, default per kind), hedge (default rolling; one of ALERT_HEDGES), params (see KIND_PARAMS),
    cooldown_s (default 60), notify (apprise URLs, see ``pairdesk.alerts.notify``; default none),
    webhook_url (older field: one http(s) URL, added to notify), enabled (default true).
    ``known_symbols``: the symbols a rule may name (case-insensitive).
    """
    if not isinstance(spec, Mapping):
        raise RuleError(f"a rule must be an object with the fields {', '.join(SPEC_FIELDS)}, got {spec!r}")
    unknown = sorted(set(spec) - set(SPEC_FIELDS) - set(LEGACY_SPEC_FIELDS))
    if unknown:
        hint = " (thresholds go in params)" if "threshold" in unknown else ""
        raise RuleError(f"unknown rule field {unknown[0]!r}{hint}; expected {', '.join(SPEC_FIELDS)}")
    kind = kind_spec(spec.get("kind"))
    symbols = _symbols(spec.get("symbols"), kind, known_symbols)
    timeframe = spec.get("timeframe", DEFAULT_TIMEFRAME)
    if timeframe not in analytics.TIMEFRAME_MS:
        raise RuleError(f"unknown timeframe {timeframe!r}; use one of {', '.join(analytics.TIMEFRAME_MS)}")
    window = check_bars(spec.get("window", kind.default_window), "window", kind.min_window)
    hedge = spec.get("hedge", DEFAULT_HEDGE)
    if hedge not in ALERT_HEDGES:
        why = " (it is fitted on future bars)" if hedge == "ols_insample" else \
            " (an alert recomputes each bar from a bounded history)" if hedge in analytics.HEDGE_METHODS else ""
        raise RuleError(f"hedge {hedge!r} cannot drive an alert{why}; use one of {', '.join(ALERT_HEDGES)}")
    params = _params(kind, spec.get("params"), window)
    cooldown_s = check_number(spec.get("cooldown_s", DEFAULT_COOLDOWN_S), "cooldown_s")
    if cooldown_s < 0:
        raise RuleError(f"cooldown_s must not be negative, got {cooldown_s:g}")
    name = _name(spec.get("name"), kind, symbols, params["threshold"])
    enabled = check_flag(spec.get("enabled", True), "enabled")
    return AlertRule(rule_id=_rule_id(spec.get("rule_id")), name=name, kind=kind.name, symbols=symbols,
                     timeframe=timeframe, window=window, hedge=hedge, params=params, cooldown_s=cooldown_s,
                     notify=check_notify(spec.get("notify"), spec.get("webhook_url")), enabled=enabled)


def default_spec(kind: str, symbols: Sequence[str]) -> dict[str, Any]:
    """A starting spec for a form: the kind's default rule on the first one or two ``symbols``.

    ``params["threshold"]`` is a suggestion (None for price_cross: the user picks the level).
    """
    return kind_spec(kind).default_spec(symbols)


# The default z rules, measured on the recorded BTC/ETH spot session (11 minutes) and on 21 minutes
# of the local exchange's demo tape (3 seeds): hysteresis 0.5 / cooldown 60 s fired 4 + 0 and
# 10-13 + 3-5 events; these fire 2 + 0 and 5 + 2 (bench/bench_alert_events.py).
DEFAULT_Z_RULES = (  # kind, |z| threshold, hysteresis (re-arm once |z| < threshold - hysteresis), cooldown s
    ("zscore", 2.0, 1.0, 180.0),
    ("zscore_extreme", 3.0, 1.5, 300.0),
)


def default_rules(symbols: Sequence[str]) -> list[AlertRule]:
    """The z rules a new database starts with: |z| >= 2 and |z| >= 3 (EXTREME) on the first two symbols.

    Both on the chart's default signal (1s bars, z over 60 bars, the rolling hedge estimated on the
    300 bars before each bar), quiet enough to read: |z| >= 2 re-arms once |z| < 1 and stays quiet
    180 s after an alert; EXTREME re-arms once |z| < 1.5, cooldown 300 s. No rules with fewer than
    two symbols.
    """
    if len(symbols) < 2:
        return []
    pair = [s.upper() for s in symbols[:2]]
    return [validate_rule({"kind": kind, "symbols": pair, "timeframe": "1s", "window": analytics.DEFAULT_WINDOW_ROWS,
                           "hedge": DEFAULT_HEDGE,
                           "params": {"threshold": threshold, "hysteresis": hysteresis,
                                      "lookback": analytics.DEFAULT_HEDGE_WINDOW_ROWS},
                           "cooldown_s": cooldown_s}, pair)
            for kind, threshold, hysteresis, cooldown_s in DEFAULT_Z_RULES]

