"""The alert rule record, its error type, and the checks every rule field shares.

``AlertRule`` is what the rest of the desk passes around; build it with
``pairdesk.alerts.validation.validate_rule``, which fills in the defaults of the rule's kind
(``pairdesk.alerts.kinds``). The number checks here give one-line messages naming the field.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pairdesk import analytics

DEFAULT_TIMEFRAME = "1s"
DEFAULT_HEDGE = "rolling"  # the chart's default signal: an alert's z is the chart's z
# Hedges an alert can use: each bar's value comes from a bounded history (ols_insample would use
# future bars; expanding and kalman remember the whole segment).
ALERT_HEDGES = ("rolling", "huber", "theilsen")
DEFAULT_COOLDOWN_S = 60.0
MAX_WINDOW_BARS = 20_000  # any window or lookback: what one evaluation may read
MAX_NAME_CHARS = 100
SPEC_FIELDS = ("rule_id", "name", "kind", "symbols", "timeframe", "window", "hedge", "params", "cooldown_s",
               "notify", "enabled")
# Accepted in a spec besides SPEC_FIELDS (older API clients and rows): one http(s) URL, added to ``notify``.
LEGACY_SPEC_FIELDS = ("webhook_url",)


class RuleError(ValueError):
    """A rule that cannot be saved; the message is one line saying what to fix."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


@dataclass(frozen=True)
class AlertRule:
    """One validated alert rule (build it with ``validate_rule``).

    ``symbols``: one symbol, or a pair (A, B) with A the dependent leg. ``timeframe``: a key of
    ``analytics.TIMEFRAME_MS``. ``window``: bars, meaning per kind (see ``pairdesk.alerts.values``).
    ``hedge``: one of ``analytics.HEDGE_METHODS`` (pair kinds use it). ``params``: the kind's
    parameters, defaults filled in. ``cooldown_s``: data-time seconds after a firing during
    which the rule does not fire again. ``notify``: where each event is sent, apprise URLs
    (``tgram://…``, ``json://…``) or plain http(s) webhooks (``pairdesk.alerts.notify``), none
    for none. ``rule_id`` is None until the rule is stored.
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
    notify: tuple[str, ...]
    enabled: bool

    def to_spec(self) -> dict[str, Any]:
        """A JSON-able dict with the keys ``validate_rule`` takes (``validate_rule(r.to_spec(), ...) == r``)."""
        spec = dataclasses.asdict(self)
        spec["symbols"] = list(self.symbols)
        spec["params"] = dict(self.params)
        spec["notify"] = list(self.notify)
        return spec

    @property
    def webhook_url(self) -> str | None:
        """The first plain http(s) webhook of ``notify`` (the field older clients read), None if none."""
        return next((url for url in self.notify if url.split("://", 1)[0].lower() in ("http", "https")), None)

    @property
    def signature(self) -> tuple:
        """What makes two rules identical (two enabled ones would fire the same events): kind, symbols,
        timeframe, window, hedge and parameters; not the name, cooldown or destinations."""
        return (self.kind, self.symbols, self.timeframe, self.window, self.hedge,
                tuple(sorted(self.params.items())))

    @property
    def label(self) -> str:
        """The symbols as a trader writes them: ``BTCUSDT/ETHUSDT``."""
        return "/".join(self.symbols)

    @property
    def timeframe_ms(self) -> int:
        return analytics.timeframe_ms(self.timeframe)

    @property
    def hedge_label(self) -> str:
        """The hedge as a message names it: ``OLS``, ``Kalman``..."""
        return analytics.hedge_label(self.hedge)


def check_number(value: Any, what: str) -> float:
    """``value`` as a finite float; RuleError naming ``what`` otherwise (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise RuleError(f"{what} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise RuleError(f"{what} must be a finite number, got {value!r}")
    return number


def check_bars(value: Any, what: str, minimum: int, maximum: int = MAX_WINDOW_BARS) -> int:
    """``value`` as a whole number of bars in minimum..maximum (an integral float is accepted)."""
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


def check_flag(value: Any, what: str) -> bool:
    """``value`` if it is a boolean; RuleError otherwise (JSON true/false, not "yes")."""
    if not isinstance(value, bool):
        raise RuleError(f"{what} must be true or false, got {value!r}")
    return value
