"""Every rule kind as one record: what it watches, its parameters, its default rule, how it crosses,
how its values are computed and how its events read. ``KINDS`` is the registry; the tables forms
and the API use (``RULE_KINDS``, ``PAIR_KINDS``, ``KIND_PARAMS``, ``KIND_DESCRIPTIONS``) are
read from it, so a new kind is one record here plus its value function in ``values``.
"""
from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from pairdesk import analytics
from pairdesk.alerts import values
from pairdesk.alerts.params import Bars, Choice, Flag, Hysteresis, Param, Threshold
from pairdesk.alerts.rules import (
    DEFAULT_COOLDOWN_S,
    DEFAULT_HEDGE,
    DEFAULT_TIMEFRAME,
    MAX_WINDOW_BARS,
    AlertRule,
    RuleError,
)
from pairdesk.health import format_age

DEFAULT_LOOKBACK_WINDOWS = 5
DEFAULT_LONG_WINDOWS = 10
DEFAULT_PRICE_HYSTERESIS_FRACTION = 0.0005


class Crossing(enum.Enum):
    """Which way(s) a kind's value fires against its threshold."""

    ABOVE = "UP at value >= threshold"
    BELOW = "DOWN at value <= threshold"
    EITHER_WAY = "UP at value >= threshold, DOWN at value <= threshold"
    OUTSIDE_BAND = "UP at value >= +threshold, DOWN at value <= -threshold (param side picks)"
    FEED = "UNHEALTHY once unhealthy for threshold seconds, RECOVERED once healthy again (pairdesk.alerts.feed)"


@dataclass(frozen=True)
class KindSpec:
    """One rule kind.

    ``pair``: the rule names a pair A/B (A the dependent leg), else one symbol. ``params``: the
    threshold first, then the others in the order forms show them. ``default_window`` and
    ``min_window``: bars. ``compute_values``: the function computing its value series (``pairdesk.alerts.values``);
    None for a ``feed`` kind, which is checked on the store's feed status at wall-clock time
    (``pairdesk.alerts.feed``), not on bars.
    ``history_bars(rule)``: bars before the first evaluated one that its value may depend on;
    ``carries_forward``: values are on the aligned grid, where a close is carried forward (so
    that many more bars may be needed). ``block_param``: the parameter saying every how many
    bars one value is computed (None: every bar). ``default_name(label, threshold)`` and
    ``message(rule, value, level, direction)``: the texts a trader reads.
    """

    name: str
    description: str
    pair: bool
    params: tuple[Param, ...]
    default_window: int
    min_window: int
    crossing: Crossing
    compute_values: values.ValueFunction | None
    history_bars: Callable[[AlertRule], int]
    carries_forward: bool
    default_name: Callable[[str, float], str]
    message: Callable[[AlertRule, float, float, str], str]
    block_param: str | None = None

    @property
    def feed(self) -> bool:
        """Checked on the feed status (``pairdesk.alerts.feed``), not on bars."""
        return self.compute_values is None

    @property
    def symbol_count(self) -> int:
        return 2 if self.pair else 1

    @property
    def threshold(self) -> Threshold:
        return self.params[0]

    @property
    def param_meanings(self) -> dict[str, str]:
        """Parameter name -> what it means (default), for forms; ``threshold`` is always required."""
        return {param.name: param.meaning for param in self.params}

    def block_ms(self, rule: AlertRule) -> int | None:
        """The span of one block of bars of which one value is computed; None: every bar has one."""
        return None if self.block_param is None else rule.params[self.block_param] * rule.timeframe_ms

    def default_spec(self, symbols: Sequence[str]) -> dict[str, Any]:
        """A starting spec for a form: this kind's default rule on the first one or two ``symbols``.

        ``params["threshold"]`` is a suggestion (None for price_cross: the user picks the level).
        """
        return {"name": "", "kind": self.name, "symbols": [s.upper() for s in symbols[:self.symbol_count]],
                "timeframe": DEFAULT_TIMEFRAME, "window": self.default_window, "hedge": DEFAULT_HEDGE,
                "params": {"threshold": self.threshold.suggested}, "cooldown_s": DEFAULT_COOLDOWN_S,
                "notify": [], "enabled": True}


# --------------------------------------------------------------------------- messages


def _format_price(value: float) -> str:
    return np.format_float_positional(value, precision=8, unique=True, fractional=False, trim="-")


def _zscore_message(prefix: str) -> Callable[[AlertRule, float, float, str], str]:
    def message(rule: AlertRule, value: float, level: float, direction: str) -> str:
        return (f"{prefix}{rule.label} z-score {value:.2f} crossed {level:+.2f} {direction} "
                f"({rule.timeframe}, window {rule.window}, {rule.hedge_label})")
    return message


def _price_message(rule: AlertRule, value: float, level: float, direction: str) -> str:
    return f"{rule.label} price {_format_price(value)} crossed {_format_price(level)} {direction} ({rule.timeframe})"


def _correlation_message(rule: AlertRule, value: float, level: float, direction: str) -> str:
    of = "return" if rule.params["returns"] else "price"
    return (f"{rule.label} {of} correlation {value:.2f} fell to {level:.2f} or below {direction}: "
            f"breakdown ({rule.timeframe}, window {rule.window})")


def _volume_message(rule: AlertRule, value: float, level: float, direction: str) -> str:
    return (f"{rule.label} volume {value:.1f}x its {rule.window}-bar mean, at or above {level:g}x "
            f"{direction} ({rule.timeframe})")


def _volatility_message(rule: AlertRule, value: float, level: float, direction: str) -> str:
    return (f"{rule.label} volatility {value:.2f}x its {rule.params['long_window']}-bar level, at or above "
            f"{level:g}x {direction} ({rule.timeframe}, window {rule.window})")


def _stationarity_message(rule: AlertRule, value: float, level: float, direction: str) -> str:
    return (f"{rule.label} spread ADF p-value {value:.3f} rose to {level:g} or above {direction}: "
            f"no longer stationary ({rule.timeframe}, window {rule.window}, {rule.hedge_label})")


def _feed_message(rule: AlertRule, value: float, level: float, direction: str) -> str:
    if direction == "RECOVERED":
        return f"{rule.label} feed recovered after {format_age(value * 1000)}"
    return f"{rule.label} feed unhealthy for {format_age(value * 1000)} (alert after {level:g} s)"


# --------------------------------------------------------------------------- the kinds

_ZSCORE_PARAMS = (
    Threshold("threshold", "z level, > 0: UP at z >= +threshold, DOWN at z <= -threshold",
              low=0.0, what="a positive z level (|z|)"),
    Hysteresis("hysteresis", "re-arm once |z| is back below threshold - hysteresis (default 0.5)",
               default_of=lambda t: min(0.5, t / 2)),
    Choice("side", "both, up or down (default both)", choices=("both", "up", "down")),
    Bars("lookback", "bars the hedge is estimated on, before each bar (the chart's hedge window; default 5 x window)",
         default_of=lambda w: min(MAX_WINDOW_BARS, DEFAULT_LOOKBACK_WINDOWS * w), minimum_of=lambda w: 3),
)


def _zscore_kind(name: str, description: str, suggested: float, default_name: Callable[[str, float], str],
                 prefix: str) -> KindSpec:
    """zscore and zscore_extreme differ only in their texts and suggested level."""
    threshold, *others = _ZSCORE_PARAMS
    return KindSpec(
        name=name, description=description, pair=True,
        params=(dataclasses.replace(threshold, suggested=suggested), *others),
        default_window=60, min_window=2, crossing=Crossing.OUTSIDE_BAND, compute_values=values.zscore_values,
        history_bars=lambda rule: rule.params["lookback"] + rule.window + analytics.robust_refit_every(
            rule.params["lookback"]), carries_forward=True,
        default_name=default_name, message=_zscore_message(prefix))


_ALL_KINDS = (
    _zscore_kind("zscore", "Spread z-score crosses +threshold (UP) or -threshold (DOWN) (pair)", 2.0,
                 lambda label, t: f"z-score ±{t:g} {label}", prefix=""),
    _zscore_kind("zscore_extreme", "Spread z-score reaches an extreme level such as 3: its own EXTREME event (pair)",
                 3.0, lambda label, t: f"EXTREME z-score ±{t:g} {label}", prefix="EXTREME: "),
    KindSpec(
        name="price_cross", description="Price (bar close) crosses a level, either way: UP or DOWN (one symbol)",
        pair=False,
        params=(Threshold("threshold", "price level, > 0", low=0.0, what="a positive price level"),
                Hysteresis("hysteresis",
                           "price distance beyond the level that re-arms the other way (default 0.05 % of the level)",
                           default_of=lambda t: t * DEFAULT_PRICE_HYSTERESIS_FRACTION, below_of=lambda t: t)),
        default_window=1, min_window=1, crossing=Crossing.EITHER_WAY, compute_values=values.price_values,
        history_bars=lambda rule: 0, carries_forward=False,
        default_name=lambda label, t: f"{label} crosses {t:g}", message=_price_message),
    KindSpec(
        name="correlation_breakdown", description="Rolling correlation falls to or below a level (pair)", pair=True,
        params=(Threshold("threshold", "correlation level in (-1, 1): fires at or below it", low=-1.0, high=1.0,
                          what="a correlation between -1 and 1", suggested=0.5),
                Hysteresis("hysteresis", "re-arm above threshold + hysteresis (default 0.1)",
                           default_of=lambda t: min(0.1, (1 - t) / 2), below_of=lambda t: 1 - t),
                Flag("returns", "true: correlation of log returns; false: of prices (default true)")),
        default_window=60, min_window=2, crossing=Crossing.BELOW, compute_values=values.correlation_values,
        history_bars=lambda rule: rule.window, carries_forward=True,
        default_name=lambda label, t: f"correlation <= {t:g} {label}", message=_correlation_message),
    KindSpec(
        name="volume_spike",
        description="Bar volume reaches threshold x its mean over the previous window bars (one symbol)", pair=False,
        params=(Threshold("threshold", "multiple k > 0 of the mean volume of the previous window bars", low=0.0,
                          what="a positive multiple", suggested=3.0),
                Hysteresis("hysteresis", "re-arm below k - hysteresis (default 0.5, less than k)",
                           default_of=lambda t: min(0.5, t / 2), below_of=lambda t: t)),
        default_window=60, min_window=2, crossing=Crossing.ABOVE, compute_values=values.volume_values,
        history_bars=lambda rule: rule.window, carries_forward=False,
        default_name=lambda label, t: f"volume {t:g}x {label}", message=_volume_message),
    KindSpec(
        name="volatility_spike",
        description="Return volatility over window bars reaches threshold x its long_window level (one symbol)",
        pair=False,
        params=(Threshold("threshold", "multiple k > 0 of the long-run return volatility", low=0.0,
                          what="a positive multiple", suggested=2.0),
                Hysteresis("hysteresis", "re-arm below k - hysteresis (default 0.25, less than k)",
                           default_of=lambda t: min(0.25, t / 2), below_of=lambda t: t),
                Bars("long_window", "bars of the long-run volatility, > window (default 10 x window)",
                     default_of=lambda w: min(MAX_WINDOW_BARS, DEFAULT_LONG_WINDOWS * w), minimum_of=lambda w: w + 1)),
        default_window=60, min_window=2, crossing=Crossing.ABOVE, compute_values=values.volatility_values,
        history_bars=lambda rule: rule.params["long_window"], carries_forward=True,
        default_name=lambda label, t: f"volatility {t:g}x {label}", message=_volatility_message),
    KindSpec(
        name="stationarity_loss",
        description="ADF p-value of the spread rises to or above a level: no longer mean-reverting (pair)", pair=True,
        params=(Threshold("threshold", "ADF p-value level in (0, 1): fires at or above it", low=0.0, high=1.0,
                          what="a p-value between 0 and 1", suggested=0.1),
                Hysteresis("hysteresis", "re-arm below threshold - hysteresis (default 0.05, less than threshold)",
                           default_of=lambda t: min(0.05, t / 2), below_of=lambda t: t),
                Bars("every", "compute ADF on one bar in every this many bars (default 10)", default_of=lambda w: 10),
                Bars("hedge_window", "bars the hedge is estimated on, before each bar, 2..window (default min(60, window))",
                     default_of=lambda w: min(60, w), minimum_of=lambda w: 2, maximum_of=lambda w: w)),
        default_window=300, min_window=20,  # ADF needs 20 rows
        crossing=Crossing.ABOVE, compute_values=values.stationarity_values,
        history_bars=lambda rule: rule.window + rule.params["hedge_window"], carries_forward=True, block_param="every",
        default_name=lambda label, t: f"ADF p >= {t:g} {label}", message=_stationarity_message),
    KindSpec(
        name="feed_health",
        description="The symbol's feed is disconnected, stale (no trade stored) or has a gap open for more than "
                    "threshold seconds; again when it recovers (one symbol)", pair=False,
        params=(Threshold("threshold", "seconds the feed must stay disconnected, stale or with a gap open, > 0",
                          low=0.0, what="a positive number of seconds", suggested=30.0),
                Flag("recovery", "true: a RECOVERED event when the feed is healthy again (default true)")),
        default_window=1, min_window=1, crossing=Crossing.FEED, compute_values=None,
        history_bars=lambda rule: 0, carries_forward=False,
        default_name=lambda label, t: f"{label} feed down {t:g} s", message=_feed_message),
)

KINDS: MappingProxyType[str, KindSpec] = MappingProxyType({spec.name: spec for spec in _ALL_KINDS})
RULE_KINDS: tuple[str, ...] = tuple(KINDS)
PAIR_KINDS: frozenset[str] = frozenset(name for name, spec in KINDS.items() if spec.pair)
KIND_DESCRIPTIONS: dict[str, str] = {name: spec.description for name, spec in KINDS.items()}
KIND_PARAMS: dict[str, dict[str, str]] = {name: spec.param_meanings for name, spec in KINDS.items()}


def kind_spec(kind: Any) -> KindSpec:
    """The record of ``kind``; RuleError naming the known kinds otherwise."""
    spec = KINDS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        raise RuleError(f"unknown alert kind {kind!r}; use one of {', '.join(RULE_KINDS)}")
    return spec
