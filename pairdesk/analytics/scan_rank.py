"""Which scanned pairs are worth trading: the false-discovery control and the rank.

Over the scan's ``scan_pairs`` figures (one row per pair, with ``round_trip_bps``, NaN where the
pair has no quote bars), ``rank_scan`` adds:

  q_value       Benjamini-Hochberg q-value of the pair's two-way Engle-Granger p-value among all the
                scan's p-values (``pairdesk.analytics.fdr``)
  significant   q_value <= ``fdr_level`` (default 5 %): among the pairs called significant, at most
                that share is expected to be false discoveries
  fdr_level     the level, shown on every row
  stable        both halves of the lookback reject "no cointegration" on their own, at
                ``stability_level`` (unadjusted: a confirmation of a discovery, not a discovery)
  half_life_ok  the half-life lies in [half_life_min_bars, half_life_max_bars] (default: 2 bars to a
                tenth of the pair's rows: shorter is noise at this timeframe, longer leaves fewer
                than ten round trips in the lookback)
  expected_move_bps  entry_z * spread_vol_bps: what a trade from |z| = entry_z back to the mean gains
  covers_cost   expected_move_bps > round_trip_bps (NA where the cost is unknown)
  score         8 significant + 4 stable + 2 half_life_ok + 1 (covers_cost, or its cost unknown)
  rank          1 = best: by score, then q-value, p-value, symbols (a pair without a p-value last)
and sorts the rows by rank.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pairdesk.analytics.common import BACKTEST_ENTRY_Z
from pairdesk.analytics.fdr import benjamini_hochberg
from pairdesk.analytics.inputs import SIGNIFICANCE_LEVEL

HALF_LIFE_MAX_FRACTION = 0.1  # the default longest half-life: a tenth of the pair's rows

SCAN_COLUMNS = ["rank", "symbol_a", "symbol_b", "p_value", "q_value", "significant", "fdr_level", "stable",
                "half_life", "half_life_low", "half_life_high", "half_life_ok", "return_corr", "zscore", "beta",
                "alpha", "johansen_rank", "p_a_on_b", "p_b_on_a", "eg_statistic", "p_first_half", "p_second_half",
                "spread_vol_bps",
                "expected_move_bps", "round_trip_bps", "covers_cost", "score", "rows", "last_ms", "reason"]


@dataclass(frozen=True)
class RankParams:
    """The choices of the rank (see the module docstring); ``half_life_max_bars`` None: a tenth of the
    pair's rows."""

    fdr_level: float = SIGNIFICANCE_LEVEL
    stability_level: float = SIGNIFICANCE_LEVEL
    half_life_min_bars: float = 2.0
    half_life_max_bars: float | None = None
    entry_z: float = BACKTEST_ENTRY_Z

    def __post_init__(self) -> None:
        for name in ("fdr_level", "stability_level"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} must be in (0, 1), got {getattr(self, name)!r}")
        top = math.inf if self.half_life_max_bars is None else self.half_life_max_bars
        if not 0 <= self.half_life_min_bars <= top:
            raise ValueError(f"half-life range [{self.half_life_min_bars}, {self.half_life_max_bars}] is empty")
        if not self.entry_z > 0:
            raise ValueError(f"entry_z must be > 0, got {self.entry_z!r}")


def rank_scan(figures: pd.DataFrame, params: RankParams = RankParams()) -> pd.DataFrame:
    """``figures`` (``scan_pairs`` columns and round_trip_bps) with the q-values, flags, score and rank
    of the module docstring, columns SCAN_COLUMNS, best first."""
    out = figures.copy()
    if "round_trip_bps" not in out:
        out["round_trip_bps"] = np.nan
    p = out["p_value"].to_numpy(np.float64)
    out["q_value"] = benjamini_hochberg(p)
    out["significant"] = out["q_value"].to_numpy() <= params.fdr_level
    out["fdr_level"] = params.fdr_level
    with np.errstate(invalid="ignore"):
        out["stable"] = ((out["p_first_half"].to_numpy(np.float64) < params.stability_level)
                         & (out["p_second_half"].to_numpy(np.float64) < params.stability_level))
        top = (out["rows"].to_numpy(np.float64) * HALF_LIFE_MAX_FRACTION if params.half_life_max_bars is None
               else params.half_life_max_bars)
        hl = out["half_life"].to_numpy(np.float64)
        out["half_life_ok"] = (hl >= params.half_life_min_bars) & (hl <= top)
        move = params.entry_z * out["spread_vol_bps"].to_numpy(np.float64)
        cost = out["round_trip_bps"].to_numpy(np.float64)
        out["expected_move_bps"] = move
        out["covers_cost"] = pd.Series(move > cost, dtype="boolean").where(np.isfinite(cost) & np.isfinite(move),
                                                                          pd.NA).to_numpy()
    out["score"] = (8 * out["significant"].astype(int) + 4 * out["stable"].astype(int)
                    + 2 * out["half_life_ok"].astype(int) + out["covers_cost"].fillna(True).astype(int))
    out["_no_p"] = ~np.isfinite(p)
    out = out.sort_values(["_no_p", "score", "q_value", "p_value", "symbol_a", "symbol_b"],
                          ascending=[True, False, True, True, True, True], kind="stable", na_position="last")
    out["rank"] = np.arange(1, len(out) + 1)
    return out[SCAN_COLUMNS].reset_index(drop=True)
