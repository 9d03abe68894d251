"""Query and path parameters shared by the routes: their limits, types and documentation, and the
``start`` / ``end`` time range. Symbols follow ``pairdesk.symbols`` (2 to 30 letters and digits)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Depends, Query
from fastapi import Path as PathParam

from pairdesk import analytics
from pairdesk.api.errors import unprocessable
from pairdesk.symbols import SYMBOL_PATTERN

DEFAULT_LIMIT = 1_000
MAX_LIMIT = 100_000
MAX_ROW_ID = 2**62  # the largest id a path or query may name (SQLite integers are 64-bit)
MAX_WINDOW = 100_000
MAX_STALE_S = 30 * 86_400  # a month: longer is a mistake
MAX_TEST_ROWS = 20_000  # ADF with its AIC lag search stays under a few seconds
LATEST_MS = 4_102_444_800_000  # 2100-01-01: a later start / end is a mistake (µs or ns given as ms)

# OpenAPI patterns (searched, so anchored here) built from the one symbol rule.
SYMBOL_PARAM_PATTERN = f"^{SYMBOL_PATTERN}$"
PAIR_PARAM_PATTERN = rf"^\s*{SYMBOL_PATTERN}\s*,\s*{SYMBOL_PATTERN}\s*$"

Timeframe = Literal[tuple(analytics.TIMEFRAME_MS)]  # type: ignore[valid-type]  # "1s" ... "1h"
HedgeMethod = Literal[analytics.HEDGE_METHODS]  # type: ignore[valid-type]
SpreadKind = Literal[analytics.SPREAD_KINDS]  # type: ignore[valid-type]

# --------------------------------------------------------------------------- time


def parse_time_ms(text: str, name: str) -> int:
    """Epoch milliseconds from an integer string or an ISO 8601 date-time (UTC unless it says otherwise)."""
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        ms = int(text)
    else:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise unprocessable(f"{name} {text[:40]!r} is neither epoch milliseconds nor an ISO 8601 date-time "
                                f"(e.g. 1723161600000 or 2024-08-09T00:00:00Z)") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        ms = math.floor(moment.timestamp() * 1000)
    if not 0 <= ms < LATEST_MS:
        raise unprocessable(f"{name} {text[:40]!r} is outside 1970..2100 (give epoch milliseconds, not µs)")
    return ms


@dataclass(frozen=True)
class TimeRange:
    """start_ms <= t < end_ms (either end open when None)."""

    start_ms: int | None = None
    end_ms: int | None = None

    def bar_bounds(self, timeframe: str) -> tuple[int | None, int | None]:
        """One-second bar bounds holding exactly the complete ``timeframe`` bars that start in the range."""
        tf_ms = analytics.timeframe_ms(timeframe)
        lo, hi = (None if t is None else -(-t // tf_ms) * tf_ms for t in (self.start_ms, self.end_ms))
        return lo, hi


START_DOC = "only data at or after this time: epoch milliseconds (UTC) or ISO 8601, e.g. 2024-08-09T00:00:00Z"
END_DOC = "only data before this time (exclusive): epoch milliseconds (UTC) or ISO 8601"


def time_range(
    start: Annotated[str | None, Query(description=START_DOC, examples=["1723161300000"])] = None,
    end: Annotated[str | None, Query(description=END_DOC, examples=["2024-08-09T00:05:00Z"])] = None,
) -> TimeRange:
    """The ``start`` / ``end`` query parameters, checked."""
    span = TimeRange(None if start is None else parse_time_ms(start, "start"),
                     None if end is None else parse_time_ms(end, "end"))
    if span.start_ms is not None and span.end_ms is not None and span.start_ms >= span.end_ms:
        raise unprocessable(f"start ({span.start_ms}) must be before end ({span.end_ms})")
    return span


Span = Annotated[TimeRange, Depends(time_range)]

# --------------------------------------------------------------------------- symbols and analytics settings

SymbolPath = Annotated[str, PathParam(description="symbol as Binance names it, any case (e.g. BTCUSDT)",
                                      pattern=SYMBOL_PARAM_PATTERN, examples=["BTCUSDT"])]
SymbolQuery = Annotated[str, Query(description="symbol, any case (e.g. BTCUSDT)", pattern=SYMBOL_PARAM_PATTERN,
                                   examples=["BTCUSDT"])]
PairParam = Annotated[str, Query(description="two symbols A,B of this database, any case; A is regressed on B "
                                             "(hedge ratio = units of B per unit of A)",
                                 pattern=PAIR_PARAM_PATTERN, examples=["BTCUSDT,ETHUSDT"])]
TimeframeParam = Annotated[Timeframe, Query(description="bar length; bars start at floor(ts_ms / length) * length")]
WindowParam = Annotated[int, Query(ge=2, le=MAX_WINDOW, description="bars in the z-score's and the "
                                                                   "correlations' trailing window")]
HedgeWindowParam = Annotated[int, Query(ge=2, le=MAX_WINDOW, description="bars the hedge is estimated on "
                                                                        "(rolling, huber, theilsen; burn-in of "
                                                                        "expanding, memory of kalman)")]
HedgeParam = Annotated[HedgeMethod, Query(description="the hedge, estimated for each bar from earlier bars only: "
                                                      "rolling, expanding, kalman, huber, theilsen; ols_insample "
                                                      "fits every row at once (in-sample: uses future bars)")]
SpreadKindParam = Annotated[SpreadKind, Query(description="price: A on B; log: ln A on ln B; ratio: A / B")]
MaxStaleParam = Annotated[float, Query(ge=0, le=MAX_STALE_S, description="carry a symbol's last close forward "
                                                                        "at most this many seconds when aligning; "
                                                                        "a longer hole starts a new segment")]
LimitParam = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="at most this many rows, the most recent")]
