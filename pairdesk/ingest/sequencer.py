"""The trade sequencer, sans I/O: each incoming trade id is a duplicate, the next one, or a jump.

Binance numbers each symbol's trades (or aggregates) consecutively. Given the highest id already
stored or on its way to the store, an incoming id is:
- DUPLICATE: at or below it (a resent frame, or overlap with a backfill): the store keeps one;
- ADVANCE: exactly the next id;
- GAP: beyond the next id: ids ``gap[0]..gap[1]`` (inclusive) are missing and must be fetched.
The first trade of a symbol with nothing stored is an ADVANCE: there is nothing to compare it with.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass


class Step(enum.Enum):
    DUPLICATE = "duplicate"
    ADVANCE = "advance"
    GAP = "gap"


@dataclass(frozen=True)
class Sequenced:
    """What one trade id means; ``gap`` is the missing (first, last) ids for a GAP, else None."""

    step: Step
    gap: tuple[int, int] | None = None


def sequence(last_id: int | None, trade_id: int) -> Sequenced:
    """Classify ``trade_id`` against ``last_id`` (the highest id stored or on its way; None: none yet)."""
    if last_id is None:
        return Sequenced(Step.ADVANCE)
    if trade_id <= last_id:
        return Sequenced(Step.DUPLICATE)
    if trade_id == last_id + 1:
        return Sequenced(Step.ADVANCE)
    return Sequenced(Step.GAP, (last_id + 1, trade_id - 1))
