"""The parameters of a scan, checked once, stored with its results."""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from pairdesk import analytics

DAY_MS = 86_400_000
DEFAULT_LOOKBACK_MS = 7 * DAY_MS
DEFAULT_NOTIONAL = 10_000.0  # quote currency on leg A, as the dashboard's and the API's costs
MAX_SCAN_SYMBOLS = 100  # 4,950 pairs
_DURATION_UNITS_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": DAY_MS, "w": 7 * DAY_MS}


def parse_duration(text: str) -> int:
    """A duration such as 7d, 12h, 90m, 3600s or 2w in milliseconds; ValueError otherwise."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", str(text).lower())
    if not match or float(match[1]) <= 0:
        raise ValueError(f"lookback must be a positive duration such as 7d, 12h or 90m, got {text!r}")
    return int(float(match[1]) * _DURATION_UNITS_MS[match[2]])


@dataclass(frozen=True)
class ScanSettings:
    """What a scan computes. ``symbols`` None: the watchlist's symbols with bars (every symbol with
    bars when the watchlist is empty). ``lookback_ms``: the span of bars read, ending at the newest
    bar of any symbol. The signal (hedge, windows, max_stale) is the panel's; the rank parameters are
    ``analytics.RankParams``'; ``notional`` and ``fee_bps`` price the round trip. ``workers``: processes."""

    timeframe: str = "1m"
    lookback_ms: int = DEFAULT_LOOKBACK_MS
    symbols: tuple[str, ...] | None = None
    max_stale: float = analytics.DEFAULT_MAX_STALE_S
    hedge: str = analytics.DEFAULT_HEDGE
    window: int = analytics.DEFAULT_WINDOW_ROWS
    hedge_window: int = analytics.DEFAULT_HEDGE_WINDOW_ROWS
    fdr_level: float = 0.05
    stability_level: float = 0.05
    half_life_min_bars: float = 2.0
    half_life_max_bars: float | None = None
    entry_z: float = analytics.BACKTEST_ENTRY_Z
    notional: float = DEFAULT_NOTIONAL
    fee_bps: float = analytics.BACKTEST_FEE_BPS
    workers: int = 2

    def __post_init__(self) -> None:
        analytics.timeframe_ms(self.timeframe)
        if not self.lookback_ms > 0:
            raise ValueError(f"lookback must be positive, got {self.lookback_ms} ms")
        if self.hedge not in analytics.signal.CAUSAL_HEDGES:
            raise ValueError(f"the scan needs a causal hedge, one of {', '.join(analytics.signal.CAUSAL_HEDGES)}; "
                             f"got {self.hedge!r}")
        for name in ("window", "hedge_window"):
            if getattr(self, name) < 2:
                raise ValueError(f"{name} must be an integer >= 2, got {getattr(self, name)}")
        if not (math.isfinite(self.notional) and self.notional > 0) or not 0 <= self.fee_bps < 10_000:
            raise ValueError(f"notional must be > 0 and fee_bps in [0, 10000), got {self.notional}, {self.fee_bps}")
        if self.symbols is not None and len(self.symbols) > MAX_SCAN_SYMBOLS:
            raise ValueError(f"a scan takes at most {MAX_SCAN_SYMBOLS} symbols, got {len(self.symbols)}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        self.rank_params()  # checks the levels and the half-life range

    def signal(self) -> analytics.PairSignal:
        return analytics.PairSignal(self.timeframe, self.max_stale, self.hedge, self.window, self.hedge_window)

    def rank_params(self) -> analytics.RankParams:
        return analytics.RankParams(self.fdr_level, self.stability_level, self.half_life_min_bars,
                                    self.half_life_max_bars, self.entry_z)

    def params(self) -> dict:
        """Everything but ``workers`` (which does not change a result), as stored with the scan."""
        out = dataclasses.asdict(self)
        out.pop("workers")
        out["symbols"] = None if self.symbols is None else list(self.symbols)
        return out

    @classmethod
    def from_params(cls, params: dict, workers: int = 2) -> ScanSettings:
        """The settings a stored scan was run with (``params()``)."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in params.items() if k in known}
        if values.get("symbols") is not None:
            values["symbols"] = tuple(values["symbols"])
        return cls(**values, workers=workers)
