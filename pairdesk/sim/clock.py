"""The wall clock the sim stamps trades with."""
from __future__ import annotations

import time


def wall_us() -> int:
    """Wall clock, microseconds since the epoch."""
    return time.time_ns() // 1000
