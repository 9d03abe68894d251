"""Reconnect delays: capped exponential backoff with jitter, swappable so tests shrink it."""
from __future__ import annotations

import random

RECONNECT_BASE_DELAY_S = 0.5
RECONNECT_MAX_DELAY_S = 30.0


def backoff_delay_s(attempt: int) -> float:
    """Capped exponential backoff with full jitter: 0.5, 1, 2, 4... up to 30 s, times U(0.5, 1)."""
    delay = min(RECONNECT_MAX_DELAY_S, RECONNECT_BASE_DELAY_S * 2**attempt)
    return delay * random.uniform(0.5, 1.0)
