"""The backtest's figures for a stretch of bars: P&L and its costs, turnover, hit rate, maximum
drawdown and a Sharpe ratio that is only given once the sample is long enough.

Money is in quote currency for a position of 1 unit of A; fractions are of the run's capital (the
gross notional of its first position, see ``backtest_zscore``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

DAY_MS = 86_400_000
DAYS_PER_YEAR = 365  # crypto trades every day

# The Sharpe ratio is reported only on at least this many days of bars (time covered by bars, holes
# excluded) and this many closed trades; below that it is None with reason "too short: ...". A
# minute-long sample annualised is noise times sqrt(525 600), not a measure of skill.
MIN_SHARPE_DAYS = 30
MIN_SHARPE_TRADES = 20


@dataclass(frozen=True)
class BacktestReport:
    """Figures of one stretch of the backtest (the whole run, the in-sample or the out-of-sample part).

    bars, days: bars in the stretch and the time they cover (bars x bar length, in days; holes excluded).
    gross_pnl: P&L at the marks (quote mids, or last prices without quotes); fees, spread_cost,
      slippage_cost: the costs of every fill, each >= 0; costs: their sum; funding: received at the
      settlements positions were held through (< 0 when paid; 0 on spot); net_pnl = gross_pnl - costs
      + funding.
    total_return: net_pnl / capital (0 with no trades). turnover: notional traded (both legs, every
      fill) / capital. trades: trades closed in the stretch; hit_rate: share of them with net P&L > 0
      (None without trades).
    max_drawdown: the largest peak-to-trough fall of the stretch's equity curve (1 + cumulative net
      P&L / capital, starting at 1), as a fraction of the peak: max over t of (peak_t - equity_t) / peak_t,
      peak_t = the highest equity up to t. 0 when equity never falls.
    sharpe: mean / standard deviation (ddof 1) of daily returns (net P&L per UTC day / capital, days
      with bars) x sqrt(365); None with ``sharpe_reason`` saying why ("too short: N days, M trades"
      below MIN_SHARPE_DAYS days or MIN_SHARPE_TRADES trades).
    """

    bars: int
    days: float
    trades: int
    gross_pnl: float
    fees: float
    spread_cost: float
    slippage_cost: float
    costs: float
    funding: float
    net_pnl: float
    total_return: float
    turnover: float
    hit_rate: float | None
    max_drawdown: float
    sharpe: float | None
    sharpe_reason: str | None


def max_drawdown(equity: np.ndarray) -> float:
    """The largest fall of ``equity`` from its running peak (the start, 1, included), as a fraction of the peak."""
    if len(equity) == 0:
        return 0.0
    peak = np.maximum.accumulate(np.r_[1.0, equity])[1:]
    return float(np.max((peak - equity) / peak))


def sharpe_ratio(ts_ms: np.ndarray, pnl: np.ndarray, capital: float | None, days: float,
                 trades: int) -> tuple[float | None, str | None]:
    """(annualised Sharpe of daily returns, None) or (None, why not); see ``BacktestReport``."""
    if days < MIN_SHARPE_DAYS or trades < MIN_SHARPE_TRADES:
        return None, (f"too short: {days:.2f} days, {trades} trades (a Sharpe ratio needs at least "
                      f"{MIN_SHARPE_DAYS} days and {MIN_SHARPE_TRADES} trades)")
    daily = pd.Series(pnl).groupby(ts_ms // DAY_MS).sum().to_numpy() / capital
    std = float(np.std(daily, ddof=1))
    if not std > 0:
        return None, "no variation in daily returns"
    return float(np.mean(daily)) / std * math.sqrt(DAYS_PER_YEAR), None


def stretch_report(ts_ms: np.ndarray, pnl: np.ndarray, tf_ms: int, trades: pd.DataFrame,
                   capital: float | None) -> BacktestReport:
    """The report of bars ``ts_ms`` with per-bar net P&L ``pnl`` and the ``trades`` closed among them."""
    days = len(ts_ms) * tf_ms / DAY_MS
    count = len(trades)
    fees, spread, slippage = (float(trades[c].sum()) for c in ("fees", "spread_cost", "slippage_cost"))
    costs = fees + spread + slippage
    gross = float(trades["gross_pnl"].sum())
    funding = float(trades["funding"].sum())
    net = gross - costs + funding
    scale = capital if capital else 1.0  # no trades: no capital, and every P&L is 0
    equity = 1.0 + np.cumsum(pnl) / scale
    traded = float(trades["traded_notional"].sum())
    sharpe, why = sharpe_ratio(ts_ms, pnl, scale, days, count)
    return BacktestReport(
        bars=len(ts_ms), days=days, trades=count, gross_pnl=gross, fees=fees, spread_cost=spread,
        slippage_cost=slippage, costs=costs, funding=funding, net_pnl=net, total_return=net / scale,
        turnover=traded / scale, hit_rate=float((trades["pnl"] > 0).mean()) if count else None,
        max_drawdown=max_drawdown(equity), sharpe=sharpe, sharpe_reason=why)
