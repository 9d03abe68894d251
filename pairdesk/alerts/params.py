"""The parameters a rule kind declares: what each means (for forms), its default and its bounds.

A kind's parameters are checked in the order declared, the threshold first: the defaults and
bounds of the others may depend on the rule's threshold and window (e.g. a hysteresis must stay
below the threshold so that the rule can re-arm; a lookback must cover the window).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pairdesk.alerts.rules import MAX_WINDOW_BARS, RuleError, check_bars, check_flag, check_number


@dataclass(frozen=True)
class Param:
    """One parameter: ``name`` in ``params``, ``meaning`` as forms and the API describe it."""

    name: str
    meaning: str

    def default(self, threshold: float, window: int) -> Any:
        """The value used when the spec does not give one."""
        raise NotImplementedError

    def check(self, value: Any, threshold: float, window: int) -> Any:
        """``value`` checked (and converted); RuleError with a one-line message otherwise."""
        raise NotImplementedError


@dataclass(frozen=True)
class Threshold(Param):
    """The level a rule fires at: required, a finite number strictly between ``low`` and ``high``.

    ``what`` completes "threshold must be ..."; ``suggested`` is a form's starting value (None:
    the user must pick it, e.g. a price level).
    """

    low: float = 0.0
    high: float | None = None
    what: str = "a positive number"
    suggested: float | None = None

    def default(self, threshold: float, window: int) -> Any:
        return None  # required: ``validate_rule`` says so before checking

    def check(self, value: Any, threshold: float, window: int) -> float:
        level = check_number(value, self.name)
        if not (self.low < level and (self.high is None or level < self.high)):
            raise RuleError(f"{self.name} must be {self.what}, got {level:g}")
        return level


@dataclass(frozen=True)
class Hysteresis(Param):
    """How far back past the level the value must go to re-arm, in the value's units.

    ``default_of(threshold)``; ``below_of(threshold)``: the exclusive upper bound, or None.
    """

    default_of: Callable[[float], float] = lambda threshold: 0.0
    below_of: Callable[[float], float] | None = None

    def default(self, threshold: float, window: int) -> float:
        return self.default_of(threshold)

    def check(self, value: Any, threshold: float, window: int) -> float:
        hysteresis = check_number(value, self.name)
        if hysteresis < 0:
            raise RuleError(f"{self.name} must not be negative, got {hysteresis:g}")
        below = None if self.below_of is None else self.below_of(threshold)
        if below is not None and hysteresis >= below:
            raise RuleError(f"{self.name} must be less than {below:g} so that the rule can re-arm, got {hysteresis:g}")
        return hysteresis


@dataclass(frozen=True)
class Bars(Param):
    """A whole number of bars: ``default_of(window)``, in ``minimum_of(window)..maximum_of(window)``."""

    default_of: Callable[[int], int] = lambda window: window
    minimum_of: Callable[[int], int] = lambda window: 1
    maximum_of: Callable[[int], int] = lambda window: MAX_WINDOW_BARS

    def default(self, threshold: float, window: int) -> int:
        return self.default_of(window)

    def check(self, value: Any, threshold: float, window: int) -> int:
        return check_bars(value, self.name, self.minimum_of(window), self.maximum_of(window))


@dataclass(frozen=True)
class Choice(Param):
    """One of ``choices`` (the first is the default)."""

    choices: tuple[str, ...] = ()

    def default(self, threshold: float, window: int) -> str:
        return self.choices[0]

    def check(self, value: Any, threshold: float, window: int) -> str:
        if value not in self.choices:
            listed = ", ".join(self.choices[:-1]) + f" or {self.choices[-1]}"
            raise RuleError(f"{self.name} must be {listed}, got {value!r}")
        return value


@dataclass(frozen=True)
class Flag(Param):
    """true or false."""

    default_value: bool = True

    def default(self, threshold: float, window: int) -> bool:
        return self.default_value

    def check(self, value: Any, threshold: float, window: int) -> bool:
        return check_flag(value, self.name)
