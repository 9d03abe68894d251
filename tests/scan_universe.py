"""A simulated universe for the scanner's tests and benchmark: independent random walks, and planted
pairs B = 10 + beta A + e where e is an AR(1) with a known half-life (in bars)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

START_MS = 1_722_470_400_000  # 2024-08-01T00:00:00Z, a whole minute
STEP_SD = 0.05  # each walk's step, price units (levels start at 100)


@dataclass(frozen=True)
class SimulatedUniverse:
    """``bars``: symbol -> bars (ts_ms, open, high, low, close, volume, quote_volume, trades) at
    ``bar_ms``; ``planted``: the (A, B) pairs built cointegrated, with their half-lives in bars."""

    bars: dict[str, pd.DataFrame]
    planted: dict[tuple[str, str], float]
    bar_ms: int


def ar1(rng: np.random.Generator, n: int, half_life_bars: float, sd: float) -> np.ndarray:
    """An AR(1) e_t = phi e_{t-1} + u_t, phi = 0.5 ** (1 / half_life), started at its stationary law."""
    phi = 0.5 ** (1.0 / half_life_bars)
    shocks = rng.standard_normal(n) * sd
    out = np.empty(n)
    out[0] = shocks[0] / math.sqrt(1 - phi * phi)
    for t in range(1, n):
        out[t] = phi * out[t - 1] + shocks[t]
    return out


def simulate_universe(symbols: int, planted: int, bars: int, seed: int, bar_ms: int = 60_000,
                      half_lives: tuple[float, ...] = (10.0, 20.0, 40.0, 80.0)) -> SimulatedUniverse:
    """``symbols`` symbols, the first 2 * ``planted`` of them in planted pairs (P00A, P00B), ...,
    the rest independent walks (R00, R01, ...); ``bars`` bars each from START_MS, every bar present."""
    rng = np.random.default_rng(seed)
    ts = START_MS + np.arange(bars, dtype=np.int64) * bar_ms
    closes: dict[str, np.ndarray] = {}
    pairs: dict[tuple[str, str], float] = {}
    for k in range(planted):
        a = 100.0 + np.cumsum(rng.standard_normal(bars) * STEP_SD)
        half_life = half_lives[k % len(half_lives)]
        beta = rng.uniform(0.5, 1.5)
        closes[f"P{k:02d}A"] = a
        closes[f"P{k:02d}B"] = 10.0 + beta * a + ar1(rng, bars, half_life, STEP_SD)
        pairs[(f"P{k:02d}A", f"P{k:02d}B")] = half_life
    for k in range(symbols - 2 * planted):
        closes[f"R{k:02d}"] = 100.0 + np.cumsum(rng.standard_normal(bars) * STEP_SD)
    frames = {symbol: pd.DataFrame({"ts_ms": ts, "open": close, "high": close, "low": close, "close": close,
                                    "volume": 1.0, "quote_volume": close, "trades": 1})
              for symbol, close in closes.items()}
    return SimulatedUniverse(frames, pairs, bar_ms)
