"""What alerts need of the desk's single writer (``store.TradeWriter``), and how they use it safely."""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol


class Writer(Protocol):
    """What the monitor and the webhook sender need of ``store.TradeWriter``."""

    def call(self, fn: Callable[[Any], object]) -> Future: ...


def isolated(fn: Callable[[Any], object]) -> Callable[[Any], object]:
    """``fn`` for ``Writer.call`` that returns its exception instead of raising it: a raise would
    roll back the writer's whole batch, trades included."""
    def call(conn):
        try:
            return fn(conn)
        except Exception as exc:  # handed back to the caller through the future's result
            return exc
    return call
