"""Alert rules and their evaluation, pure: rule specs in, validated rules out; bars in, events out.

A rule watches one symbol or a pair (A/B, A the dependent leg as in ``analytics_engine``) at one
timeframe. ``alert_monitor`` drives it inside the ingestor: every completed bar, in data time, in
order, exactly once; this module only computes.

Values. The value of a rule at bar t (labelled by its start, UTC ms) is computed from the rule's
bars up to and including bar t, never later ones, on the dashboard's grid: closes resampled to the
timeframe and aligned (``analytics_engine.align_pair``: a close is carried forward at most
``analytics_engine.DEFAULT_MAX_STALE_STEPS`` bars). A bar in which none of the rule's symbols
traded has no value. Per kind (``KIND_PARAMS`` lists every parameter and its default):

- ``zscore`` / ``zscore_extreme``: the spread's z-score exactly as ``pair_panel`` computes it on
  the aligned rows of the last ``lookback`` bars (hedge fitted on those rows, z over the last
  ``window`` of them).
- ``price_cross``: the bar's close.
- ``correlation_breakdown``: rolling correlation over the last ``window`` aligned bars, of log
  returns (default) or prices; undefined unless those bars are consecutive.
- ``volume_spike``: the bar's volume / the mean volume of the ``window`` bars before it (a bar
  without trades counts as volume 0).
- ``volatility_spike``: std of log returns over ``window`` bars / the same over ``long_window``.
- ``stationarity_loss``: ADF p-value of the spread of the last ``window`` aligned bars, computed
  on the first bar of every block of ``every`` bars (ADF costs milliseconds).

Triggering. Each direction of a rule (an ``Edge``: UP fires when the value reaches its level
from below, DOWN when it reaches it from above) is armed or not. An armed edge fires when its
condition starts to hold and disarms; it re-arms only once the value is back beyond the level by
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
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from pairdesk import analytics

__all__ = [
    "RULE_KINDS", "KIND_DESCRIPTIONS", "KIND_PARAMS", "PAIR_KINDS", "RuleError", "AlertRule", "validate_rule",
    "default_spec", "default_rules", "Edge", "edges", "Observation", "AlertEvent", "RuleState", "bars_needed",
    "observe", "trigger", "evaluate",
]

RULE_KINDS = ("zscore", "zscore_extreme", "price_cross", "correlation_breakdown", "volume_spike",
              "volatility_spike", "stationarity_loss")
KIND_DESCRIPTIONS: dict[str, str] = {
    "zscore": "Spread z-score crosses +threshold (UP) or -threshold (DOWN) (pair)",
    "zscore_extreme": "Spread z-score reaches an extreme level such as 3: its own EXTREME event (pair)",
    "price_cross": "Price (bar close) crosses a level, either way: UP or DOWN (one symbol)",
    "correlation_breakdown": "Rolling correlation falls to or below a level (pair)",
    "volume_spike": "Bar volume reaches threshold x its mean over the previous window bars (one symbol)",
    "volatility_spike": "Return volatility over window bars reaches threshold x its long_window level (one symbol)",
    "stationarity_loss": "ADF p-value of the spread rises to or above a level: no longer mean-reverting (pair)",
}
PAIR_KINDS = frozenset({"zscore", "zscore_extreme", "correlation_breakdown", "stationarity_loss"})

# Parameters per kind, for forms: name -> what it means (default). ``threshold`` is always required.
KIND_PARAMS: dict[str, dict[str, str]] = {
    "zscore": {
        "threshold": "z level, > 0: UP at z >= +threshold, DOWN at z <= -threshold",
        "hysteresis": "re-arm once |z| is back below threshold - hysteresis (default 0.5)",
        "side": "both, up or down (default both)",
        "lookback": "bars the hedge ratio is fitted on, >= window (default 5 x window)",
    },
    "price_cross": {
        "threshold": "price level, > 0",
        "hysteresis": "price distance beyond the level that re-arms the other way (default 0.05 % of the level)",
    },
    "correlation_breakdown": {
        "threshold": "correlation level in (-1, 1): fires at or below it",
        "hysteresis": "re-arm above threshold + hysteresis (default 0.1)",
        "returns": "true: correlation of log returns; false: of prices (default true)",
    },
    "volume_spike": {
        "threshold": "multiple k > 0 of the mean volume of the previous window bars",
        "hysteresis": "re-arm below k - hysteresis (default 0.5, less than k)",
    },
    "volatility_spike": {
        "threshold": "multiple k > 0 of the long-run return volatility",
        "hysteresis": "re-arm below k - hysteresis (default 0.25, less than k)",
        "long_window": "bars of the long-run volatility, > window (default 10 x window)",
    },
    "stationarity_loss": {
        "threshold": "ADF p-value level in (0, 1): fires at or above it",
        "hysteresis": "re-arm below threshold - hysteresis (default 0.05, less than threshold)",
        "every": "compute ADF on one bar in every this many bars (default 10)",
        "hedge_window": "window of the rolling-OLS hedge, 2..window (default min(60, window))",
    },
}
KIND_PARAMS["zscore_extreme"] = KIND_PARAMS["zscore"]

DEFAULT_TIMEFRAME = "1s"
DEFAULT_HEDGE = "ols"
DEFAULT_COOLDOWN_S = 60.0
DEFAULT_WINDOW = {"zscore": 60, "zscore_extreme": 60, "price_cross": 1, "correlation_breakdown": 60,
                  "volume_spike": 60, "volatility_spike": 60, "stationarity_loss": 300}
MIN_WINDOW = {"zscore": 2, "zscore_extreme": 2, "price_cross": 1, "correlation_breakdown": 2, "volume_spike": 2,
              "volatility_spike": 2, "stationarity_loss": 20}  # ADF needs 20 rows
SUGGESTED_THRESHOLD = {"zscore": 2.0, "zscore_extreme": 3.0, "price_cross": None, "correlation_breakdown": 0.5,
                       "volume_spike": 3.0, "volatility_spike": 2.0, "stationarity_loss": 0.1}
DEFAULT_LOOKBACK_WINDOWS = 5
DEFAULT_LONG_WINDOWS = 10
DEFAULT_PRICE_HYSTERESIS_FRACTION = 0.0005
MAX_WINDOW_BARS = 20_000  # any window or lookback: what one evaluation may read
MAX_NAME_CHARS = 100
MAX_STALE_STEPS = analytics.DEFAULT_MAX_STALE_STEPS
SPEC_FIELDS = ("rule_id", "name", "kind", "symbols", "timeframe", "window", "hedge", "params", "cooldown_s",
               "webhook_url", "enabled")
HEDGE_LABELS = {"ols": "OLS", "rolling": "rolling OLS", "huber": "Huber", "theilsen": "Theil-Sen",
                "kalman": "Kalman"}


class RuleError(ValueError):
    """A rule that cannot be saved; the message is one line saying what to fix."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class AlertRule:
    """One validated alert rule (build it with ``validate_rule``).

    ``symbols``: one symbol, or a pair (A, B) with A the dependent leg. ``timeframe``: a key of
    ``analytics_engine.TIMEFRAME_MS``. ``window``: bars, meaning per kind (see the module
    docstring). ``hedge``: one of ``analytics_engine.HEDGE_METHODS`` (pair kinds use it).
    ``params``: the kind's parameters, defaults filled in. ``cooldown_s``: data-time seconds
    after a firing during which the rule does not fire again. ``webhook_url``: None for none.
    ``rule_id`` is None until the rule is stored.
    """

    rule_id: int | None
    name: str
    kind: str
    symbols: tuple[str, ...]
    timeframe: str
    window: int
    hedge: str
    params: dict
    cooldown_s: float
    webhook_url: str | None
    enabled: bool

    def to_spec(self) -> dict[str, Any]:
        """A JSON-able dict with the keys ``validate_rule`` takes (``validate_rule(r.to_spec(), ...) == r``)."""
        spec = dataclasses.asdict(self)
        spec["symbols"] = list(self.symbols)
        spec["params"] = dict(self.params)
        return spec

    @property
    def label(self) -> str:
        """The symbols as a trader writes them: ``BTCUSDT/ETHUSDT``."""
        return "/".join(self.symbols)

    @property
    def timeframe_ms(self) -> int:
        return analytics.timeframe_ms(self.timeframe)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise RuleError(f"{what} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise RuleError(f"{what} must be a finite number, got {value!r}")
    return number


def _whole(value: Any, what: str, minimum: int, maximum: int = MAX_WINDOW_BARS) -> int:
    is_integral_float = isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer()
    if isinstance(value, bool) or not (isinstance(value, (int, np.integer)) or is_integral_float):
        raise RuleError(f"{what} must be a whole number of bars, got {value!r}")
    number = int(value)
    if number <= 0:
        raise RuleError(f"{what} must be a positive whole number of bars, got {number}")
    if number < minimum:
        raise RuleError(f"{what} must be at least {minimum} bars, got {number}")
    if number > maximum:
        raise RuleError(f"{what} must be at most {maximum} bars, got {number}")
    return number


def _symbols(value: Any, kind: str, known_symbols: Collection[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.replace(",", "/").split("/")
    if not isinstance(value, (list, tuple)) or not all(isinstance(s, str) for s in value):
        raise RuleError(f"symbols must be a list of symbol names such as ['BTCUSDT', 'ETHUSDT'], got {value!r}")
    symbols = tuple(s.strip().upper() for s in value if s.strip())
    wanted = 2 if kind in PAIR_KINDS else 1
    if len(symbols) != wanted:
        shape = "a pair A/B" if wanted == 2 else "one symbol"
        raise RuleError(f"{kind} needs {wanted} symbol{'s' if wanted > 1 else ''} ({shape}), got {len(symbols)}")
    if len(set(symbols)) != len(symbols):
        raise RuleError(f"{kind} needs two different symbols, got {'/'.join(symbols)}")
    known = {s.upper() for s in known_symbols}
    for symbol in symbols:
        if symbol not in known:
            listed = ", ".join(sorted(known)) or "none yet"
            raise RuleError(f"unknown symbol {symbol!r}; known symbols: {listed}")
    return symbols


def _webhook_url(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise RuleError(f"webhook_url must be an http:// or https:// URL, got {value!r}")
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RuleError(f"webhook_url must be an http:// or https:// URL, got {url!r}")
    return url


def _params(kind: str, given: Any, window: int) -> dict[str, Any]:
    """The kind's parameters checked and completed with defaults."""
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise RuleError(f"params must be an object of parameter names to values, got {given!r}")
    allowed = KIND_PARAMS[kind]
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise RuleError(f"unknown parameter {unknown[0]!r} for {kind}; expected {', '.join(allowed)}")
    if given.get("threshold") is None:
        raise RuleError(f"threshold is required for {kind} ({allowed['threshold']})")
    threshold = _number(given["threshold"], "threshold")
    params: dict[str, Any] = {"threshold": threshold}

    def hysteresis(default: float, below: float | None) -> float:
        value = _number(given.get("hysteresis", default), "hysteresis")
        if value < 0:
            raise RuleError(f"hysteresis must not be negative, got {value:g}")
        if below is not None and value >= below:
            raise RuleError(f"hysteresis must be less than {below:g} so that the rule can re-arm, got {value:g}")
        return value

    if kind in ("zscore", "zscore_extreme"):
        if threshold <= 0:
            raise RuleError(f"threshold must be a positive z level (|z|), got {threshold:g}")
        params["hysteresis"] = hysteresis(min(0.5, threshold / 2), None)
        side = given.get("side", "both")
        if side not in ("both", "up", "down"):
            raise RuleError(f"side must be both, up or down, got {side!r}")
        params["side"] = side
        default_lookback = min(MAX_WINDOW_BARS, DEFAULT_LOOKBACK_WINDOWS * window)
        params["lookback"] = _whole(given.get("lookback", default_lookback), "lookback", max(window, 3))
    elif kind == "price_cross":
        if threshold <= 0:
            raise RuleError(f"threshold must be a positive price level, got {threshold:g}")
        params["hysteresis"] = hysteresis(threshold * DEFAULT_PRICE_HYSTERESIS_FRACTION, threshold)
    elif kind == "correlation_breakdown":
        if not -1 < threshold < 1:
            raise RuleError(f"threshold must be a correlation between -1 and 1, got {threshold:g}")
        params["hysteresis"] = hysteresis(min(0.1, (1 - threshold) / 2), 1 - threshold)
        returns = given.get("returns", True)
        if not isinstance(returns, bool):
            raise RuleError(f"returns must be true or false, got {returns!r}")
        params["returns"] = returns
    elif kind in ("volume_spike", "volatility_spike"):
        if threshold <= 0:
            raise RuleError(f"threshold must be a positive multiple, got {threshold:g}")
        params["hysteresis"] = hysteresis(min(0.5 if kind == "volume_spike" else 0.25, threshold / 2), threshold)
        if kind == "volatility_spike":
            default_long = min(MAX_WINDOW_BARS, DEFAULT_LONG_WINDOWS * window)
            params["long_window"] = _whole(given.get("long_window", default_long), "long_window", window + 1)
    elif kind == "stationarity_loss":
        if not 0 < threshold < 1:
            raise RuleError(f"threshold must be a p-value between 0 and 1, got {threshold:g}")
        params["hysteresis"] = hysteresis(min(0.05, threshold / 2), threshold)
        params["every"] = _whole(given.get("every", 10), "every", 1)
        params["hedge_window"] = _whole(given.get("hedge_window", min(60, window)), "hedge_window", 2, window)
    return params


def _default_name(kind: str, symbols: Sequence[str], params: Mapping[str, Any]) -> str:
    label = "/".join(symbols)
    threshold = params["threshold"]
    return {
        "zscore": f"z-score ±{threshold:g} {label}",
        "zscore_extreme": f"EXTREME z-score ±{threshold:g} {label}",
        "price_cross": f"{label} crosses {threshold:g}",
        "correlation_breakdown": f"correlation <= {threshold:g} {label}",
        "volume_spike": f"volume {threshold:g}x {label}",
        "volatility_spike": f"volatility {threshold:g}x {label}",
        "stationarity_loss": f"ADF p >= {threshold:g} {label}",
    }[kind]


def validate_rule(spec: Mapping[str, Any], known_symbols: Collection[str]) -> AlertRule:
    """Check a rule spec and return the rule with every default filled in; RuleError otherwise.

    ``spec`` keys (only ``kind``, ``symbols`` and ``params["threshold"]`` are required):
    rule_id, name, kind (one of RULE_KINDS), symbols (list, or "A/B"), timeframe (default 1s),
    window (bars, default per kind), hedge (default ols), params (see KIND_PARAMS),
    cooldown_s (default 60), webhook_url (http(s) URL or None), enabled (default true).
    ``known_symbols``: the symbols a rule may name (case-insensitive).
    """
    if not isinstance(spec, Mapping):
        raise RuleError(f"a rule must be an object with the fields {', '.join(SPEC_FIELDS)}, got {spec!r}")
    unknown = sorted(set(spec) - set(SPEC_FIELDS))
    if unknown:
        hint = " (thresholds go in params)" if "threshold" in unknown else ""
        raise RuleError(f"unknown rule field {unknown[0]!r}{hint}; expected {', '.join(SPEC_FIELDS)}")
    kind = spec.get("kind")
    if kind not in RULE_KINDS:
        raise RuleError(f"unknown alert kind {kind!r}; use one of {', '.join(RULE_KINDS)}")
    symbols = _symbols(spec.get("symbols"), kind, known_symbols)
    timeframe = spec.get("timeframe", DEFAULT_TIMEFRAME)
    if timeframe not in analytics.TIMEFRAME_MS:
        raise RuleError(f"unknown timeframe {timeframe!r}; use one of {', '.join(analytics.TIMEFRAME_MS)}")
    window = _whole(spec.get("window", DEFAULT_WINDOW[kind]), "window", MIN_WINDOW[kind])
    hedge = spec.get("hedge", DEFAULT_HEDGE)
    if hedge not in analytics.HEDGE_METHODS:
        raise RuleError(f"unknown hedge {hedge!r}; use one of {', '.join(analytics.HEDGE_METHODS)}")
    params = _params(kind, spec.get("params"), window)
    cooldown_s = _number(spec.get("cooldown_s", DEFAULT_COOLDOWN_S), "cooldown_s")
    if cooldown_s < 0:
        raise RuleError(f"cooldown_s must not be negative, got {cooldown_s:g}")
    name = spec.get("name") or _default_name(kind, symbols, params)
    if not isinstance(name, str) or not name.strip():
        raise RuleError(f"name must be text, got {name!r}")
    name = " ".join(name.split())
    if len(name) > MAX_NAME_CHARS:
        raise RuleError(f"name must be at most {MAX_NAME_CHARS} characters, got {len(name)}")
    enabled = spec.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleError(f"enabled must be true or false, got {enabled!r}")
    rule_id = spec.get("rule_id")
    if rule_id is not None and (isinstance(rule_id, bool) or not isinstance(rule_id, (int, np.integer))):
        raise RuleError(f"rule_id must be a whole number or null, got {rule_id!r}")
    return AlertRule(rule_id=None if rule_id is None else int(rule_id), name=name, kind=kind, symbols=symbols,
                     timeframe=timeframe, window=window, hedge=hedge, params=params, cooldown_s=cooldown_s,
                     webhook_url=_webhook_url(spec.get("webhook_url")), enabled=enabled)


def default_spec(kind: str, symbols: Sequence[str]) -> dict[str, Any]:
    """A starting spec for a form: the kind's defaults on the first one or two ``symbols``.

    ``params["threshold"]`` is a suggestion (None for price_cross: the user picks the level).
    """
    if kind not in RULE_KINDS:
        raise RuleError(f"unknown alert kind {kind!r}; use one of {', '.join(RULE_KINDS)}")
    count = 2 if kind in PAIR_KINDS else 1
    return {"name": "", "kind": kind, "symbols": [s.upper() for s in symbols[:count]], "timeframe": DEFAULT_TIMEFRAME,
            "window": DEFAULT_WINDOW[kind], "hedge": DEFAULT_HEDGE, "params": {"threshold": SUGGESTED_THRESHOLD[kind]},
            "cooldown_s": DEFAULT_COOLDOWN_S, "webhook_url": None, "enabled": True}


def default_rules(symbols: Sequence[str]) -> list[AlertRule]:
    """The rules a new database starts with: |z| >= 2 and |z| >= 3 (EXTREME) on the first two symbols.

    Both: 1s bars, z over 60 bars, static OLS hedge fitted on the last 300 bars, hysteresis 0.5,
    cooldown 60 s. No rules with fewer than two symbols.
    """
    if len(symbols) < 2:
        return []
    pair = [s.upper() for s in symbols[:2]]
    return [validate_rule({"kind": kind, "symbols": pair, "timeframe": "1s", "window": 60, "hedge": "ols",
                           "params": {"threshold": threshold, "hysteresis": 0.5}, "cooldown_s": 60.0}, pair)
            for kind, threshold in (("zscore", 2.0), ("zscore_extreme", 3.0))]


# --------------------------------------------------------------------------- triggering


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
    """The directions ``rule`` watches."""
    threshold, hysteresis = rule.params["threshold"], rule.params["hysteresis"]
    up = Edge("UP", threshold, True, threshold - hysteresis)
    if rule.kind in ("zscore", "zscore_extreme"):
        down = Edge("DOWN", -threshold, False, -threshold + hysteresis)
        side = rule.params["side"]
        return [e for e, wanted in ((up, side != "down"), (down, side != "up")) if wanted]
    if rule.kind == "price_cross":
        return [up, Edge("DOWN", threshold, False, threshold + hysteresis)]
    if rule.kind == "correlation_breakdown":
        return [Edge("DOWN", threshold, False, threshold + hysteresis)]
    return [up]


@dataclass(frozen=True)
class Observation:
    """A rule's value at one bar (``ts_ms``: bar start, UTC ms); NaN when undefined there."""

    ts_ms: int
    value: float


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
    the cooldown); suppressed: crossings swallowed by the cooldown; adf_block: last ADF block
    computed (stationarity_loss).
    """

    since_ms: int | None = None
    last_bar_ms: int | None = None
    armed: dict[str, bool] = field(default_factory=dict)
    last_fired_ms: int | None = None
    suppressed: int = 0
    adf_block: int | None = None

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
        return dataclasses.replace(self, armed=dict(self.armed))


def _format_price(value: float) -> str:
    return np.format_float_positional(value, precision=8, unique=True, fractional=False, trim="-")


def message(rule: AlertRule, value: float, edge: Edge) -> str:
    """The line a trader reads, e.g. ``BTCUSDT/ETHUSDT z-score 2.31 crossed +2.00 UP (1s, window 60, OLS)``."""
    tf, window, hedge = rule.timeframe, rule.window, HEDGE_LABELS[rule.hedge]
    p = rule.params
    if rule.kind in ("zscore", "zscore_extreme"):
        text = f"{rule.label} z-score {value:.2f} crossed {edge.level:+.2f} {edge.direction} ({tf}, window {window}, {hedge})"
        return f"EXTREME: {text}" if rule.kind == "zscore_extreme" else text
    if rule.kind == "price_cross":
        return f"{rule.label} price {_format_price(value)} crossed {_format_price(edge.level)} {edge.direction} ({tf})"
    if rule.kind == "correlation_breakdown":
        of = "return" if p["returns"] else "price"
        return (f"{rule.label} {of} correlation {value:.2f} fell to {edge.level:.2f} or below {edge.direction}: "
                f"breakdown ({tf}, window {window})")
    if rule.kind == "volume_spike":
        return (f"{rule.label} volume {value:.1f}x its {window}-bar mean, at or above {edge.level:g}x "
                f"{edge.direction} ({tf})")
    if rule.kind == "volatility_spike":
        return (f"{rule.label} volatility {value:.2f}x its {p['long_window']}-bar level, at or above "
                f"{edge.level:g}x {edge.direction} ({tf}, window {window})")
    return (f"{rule.label} spread ADF p-value {value:.3f} rose to {edge.level:g} or above {edge.direction}: "
            f"no longer stationary ({tf}, window {window}, {hedge})")


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


# --------------------------------------------------------------------------- values


def _history_bars(rule: AlertRule) -> int:
    """Bars before the first evaluated one that its value may depend on (before carry-forward)."""
    p = rule.params
    return {
        "zscore": p.get("lookback", 0) - 1, "zscore_extreme": p.get("lookback", 0) - 1, "price_cross": 0,
        "correlation_breakdown": rule.window, "volume_spike": rule.window,
        "volatility_spike": p.get("long_window", 0), "stationarity_loss": rule.window - 1,
    }[rule.kind]


def bars_needed(rule: AlertRule, first_bar_ms: int, last_bar_ms: int) -> tuple[int, int]:
    """The one-second bars [start_ms, end_ms) to read to evaluate bars first..last (bar starts)."""
    tf = rule.timeframe_ms
    carried = 0 if rule.kind in ("price_cross", "volume_spike") else MAX_STALE_STEPS
    return int(first_bar_ms - (_history_bars(rule) + carried) * tf), int(last_bar_ms + tf)


def _resampled(bars: Mapping[str, pd.DataFrame], symbol: str, timeframe: str) -> pd.DataFrame:
    frame = bars.get(symbol)
    if frame is None or len(frame) == 0:
        return analytics.resample_bars(pd.DataFrame(columns=analytics.BAR_COLUMNS[:-1]), timeframe)
    return analytics.resample_bars(frame, timeframe)


def _targets(ts: np.ndarray, traded: np.ndarray, first_bar_ms: int, last_bar_ms: int) -> np.ndarray:
    """Row indexes of bars first..last in which a rule symbol traded."""
    return np.flatnonzero((ts >= first_bar_ms) & (ts <= last_bar_ms) & np.isin(ts, traded))


def _pair(rule: AlertRule, bars: Mapping[str, pd.DataFrame]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ts, price_a, price_b, traded bar starts) on the aligned grid of the rule's pair."""
    res_a, res_b = (_resampled(bars, s, rule.timeframe) for s in rule.symbols)
    aligned = analytics.align_pair(res_a, res_b, rule.timeframe)
    traded = np.union1d(res_a["ts_ms"].to_numpy(np.int64), res_b["ts_ms"].to_numpy(np.int64))
    return (aligned["ts_ms"].to_numpy(np.int64), aligned["price_a"].to_numpy(np.float64),
            aligned["price_b"].to_numpy(np.float64), traded)


def _consecutive(ts: np.ndarray, span: int, tf: int) -> np.ndarray:
    """Per row i: rows i-span..i exist and are consecutive bars."""
    ok = np.zeros(len(ts), dtype=bool)
    if span < len(ts):
        ok[span:] = ts[span:] - ts[:-span] == span * tf if span else True
    return ok


def _gapless_returns(ts: np.ndarray, prices: np.ndarray, tf: int) -> np.ndarray:
    """Log returns between consecutive bars; NaN across a hole in the grid."""
    returns = analytics.log_returns(prices).to_numpy(copy=True)
    returns[1:][np.diff(ts) != tf] = np.nan
    return returns


def _as_bars(ts: np.ndarray, close: np.ndarray) -> pd.DataFrame:
    """Aligned closes as bars ``pair_panel`` accepts (already on the grid: it keeps them as they are)."""
    zeros = np.zeros(len(ts))
    return pd.DataFrame({"ts_ms": ts, "open": close, "high": close, "low": close, "close": close,
                         "volume": zeros, "quote_volume": zeros, "trades": zeros.astype(np.int64)})


def _zscore_values(rule: AlertRule, bars: Mapping[str, pd.DataFrame], first_bar_ms: int, last_bar_ms: int
                   ) -> list[Observation]:
    """z at each bar = pair_panel's last z on the aligned rows of the last ``lookback`` bars.

    The static OLS fit of those rows is the trailing-window OLS (``rolling_ols``, exact and
    vectorised) when the rows are complete, and ``rolling_ols`` over the rows present otherwise;
    the other hedges go through ``pair_panel`` bar by bar.
    """
    ts, a, b, traded = _pair(rule, bars)
    tf, window, lookback = rule.timeframe_ms, rule.window, rule.params["lookback"]
    full_fit = None
    if rule.hedge == "ols" and len(ts) >= lookback:
        full_fit = analytics.rolling_ols(a, b, lookback)["beta"].to_numpy()
    out = []
    for i in _targets(ts, traded, first_bar_ms, last_bar_ms):
        lo = int(np.searchsorted(ts, ts[i] - (lookback - 1) * tf))
        rows = i + 1 - lo
        z = math.nan
        if rows >= max(window, analytics.MIN_ROWS_FOR_FIT):
            if rule.hedge == "ols":
                if full_fit is not None and rows == lookback:
                    beta = full_fit[i]
                else:
                    beta = analytics.rolling_ols(a[lo:i + 1], b[lo:i + 1], rows)["beta"].to_numpy()[-1]
                recent = slice(i + 1 - window, i + 1)
                z = analytics.rolling_zscore(a[recent] - beta * b[recent], window).to_numpy()[-1]
            else:
                panel = analytics.pair_panel(_as_bars(ts[lo:i + 1], a[lo:i + 1]), _as_bars(ts[lo:i + 1], b[lo:i + 1]),
                                      rule.timeframe, window, rule.hedge)
                z = panel["zscore"].to_numpy()[-1]
        out.append(Observation(int(ts[i]), float(z)))
    return out


def _price_values(rule: AlertRule, bars: Mapping[str, pd.DataFrame], first_bar_ms: int, last_bar_ms: int
                  ) -> list[Observation]:
    res = _resampled(bars, rule.symbols[0], rule.timeframe)
    ts, close = res["ts_ms"].to_numpy(np.int64), res["close"].to_numpy(np.float64)
    return [Observation(int(ts[i]), float(close[i])) for i in _targets(ts, ts, first_bar_ms, last_bar_ms)]


def _correlation_values(rule: AlertRule, bars: Mapping[str, pd.DataFrame], first_bar_ms: int, last_bar_ms: int
                        ) -> list[Observation]:
    ts, a, b, traded = _pair(rule, bars)
    tf = rule.timeframe_ms
    if rule.params["returns"]:
        corr = analytics.rolling_correlation(_gapless_returns(ts, a, tf), _gapless_returns(ts, b, tf), rule.window)
        corr = corr.to_numpy(copy=True)
    else:
        corr = analytics.rolling_correlation(a, b, rule.window).to_numpy(copy=True)
        corr[~_consecutive(ts, rule.window - 1, tf)] = np.nan
    return [Observation(int(ts[i]), float(corr[i])) for i in _targets(ts, traded, first_bar_ms, last_bar_ms)]


def _volume_values(rule: AlertRule, bars: Mapping[str, pd.DataFrame], first_bar_ms: int, last_bar_ms: int
                   ) -> list[Observation]:
    res = _resampled(bars, rule.symbols[0], rule.timeframe)
    if len(res) == 0:
        return []
    tf = rule.timeframe_ms
    ts = res["ts_ms"].to_numpy(np.int64)
    volume = np.zeros((ts[-1] - ts[0]) // tf + 1)
    volume[(ts - ts[0]) // tf] = res["volume"].to_numpy(np.float64)  # a bar without trades: volume 0
    mean, _ = analytics.rolling_mean_std(volume, rule.window)
    before = np.r_[np.nan, mean.to_numpy()[:-1]]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(before > 0, volume / before, np.nan)
    return [Observation(int(ts[i]), float(ratio[(ts[i] - ts[0]) // tf]))
            for i in _targets(ts, ts, first_bar_ms, last_bar_ms)]


def _volatility_values(rule: AlertRule, bars: Mapping[str, pd.DataFrame], first_bar_ms: int, last_bar_ms: int
                       ) -> list[Observation]:
    res = _resampled(bars, rule.symbols[0], rule.timeframe)
    grid = analytics.align_closes({"close": res}, rule.timeframe)
    ts, close = grid["ts_ms"].to_numpy(np.int64), grid["close"].to_numpy(np.float64)
    returns = _gapless_returns(ts, close, rule.timeframe_ms)
    _, short = analytics.rolling_mean_std(returns, rule.window)
    _, long = analytics.rolling_mean_std(returns, rule.params["long_window"])
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = short.to_numpy() / long.to_numpy()
    ratio[~np.isfinite(ratio)] = np.nan
    traded = res["ts_ms"].to_numpy(np.int64)
    return [Observation(int(ts[i]), float(ratio[i])) for i in _targets(ts, traded, first_bar_ms, last_bar_ms)]


def _stationarity_values(rule: AlertRule, bars: Mapping[str, pd.DataFrame], first_bar_ms: int, last_bar_ms: int,
                         adf_block: int | None) -> list[Observation]:
    """ADF p-value of the spread of the last ``window`` bars, on the first traded bar of each block."""
    ts, a, b, traded = _pair(rule, bars)
    tf, block_ms = rule.timeframe_ms, rule.params["every"] * rule.timeframe_ms
    out = []
    for i in _targets(ts, traded, first_bar_ms, last_bar_ms):
        block = int(ts[i] // block_ms)
        if adf_block is not None and block <= adf_block:
            continue
        adf_block = block
        lo = int(np.searchsorted(ts, ts[i] - (rule.window - 1) * tf))
        panel = analytics.pair_panel(_as_bars(ts[lo:i + 1], a[lo:i + 1]), _as_bars(ts[lo:i + 1], b[lo:i + 1]),
                              rule.timeframe, rule.params["hedge_window"], rule.hedge)
        out.append(Observation(int(ts[i]), float(analytics.adf_test(panel["spread"]).pvalue)))
    return out


_VALUES: dict[str, Callable[..., list[Observation]]] = {
    "zscore": _zscore_values, "zscore_extreme": _zscore_values, "price_cross": _price_values,
    "correlation_breakdown": _correlation_values, "volume_spike": _volume_values,
    "volatility_spike": _volatility_values,
}


def observe(rule: AlertRule, bars: Mapping[str, pd.DataFrame], first_bar_ms: int, last_bar_ms: int,
            adf_block: int | None = None) -> list[Observation]:
    """The rule's values at bars first..last (bar starts at the rule's timeframe), in order.

    ``bars``: one-second bars per symbol (tickstore's ``read_bars_1s`` frames) covering at least
    ``bars_needed(rule, first, last)``; more is fine. Bars without a trade of the rule's
    symbols are left out. ``adf_block``: for stationarity_loss, the last block already computed.
    """
    if rule.kind == "stationarity_loss":
        return _stationarity_values(rule, bars, first_bar_ms, last_bar_ms, adf_block)
    return _VALUES[rule.kind](rule, bars, first_bar_ms, last_bar_ms)


def evaluate(rule: AlertRule, bars: Mapping[str, pd.DataFrame], first_bar_ms: int, last_bar_ms: int,
             state: RuleState) -> tuple[list[AlertEvent], RuleState]:
    """Evaluate bars first..last after ``state``; returns the events fired and the state after last.

    Evaluating a range in one call or bar by bar gives the same events and state.
    """
    observations = observe(rule, bars, first_bar_ms, last_bar_ms, state.adf_block)
    events, state = trigger(rule, observations, state)
    if rule.kind == "stationarity_loss" and observations:
        state.adf_block = int(observations[-1].ts_ms // (rule.params["every"] * rule.timeframe_ms))
    if state.since_ms is None:
        state.since_ms = int(first_bar_ms)
    state.last_bar_ms = int(last_bar_ms)
    return events, state
