"""A z-score entry / exit / stop backtest of the pair panel."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pairdesk.analytics.common import BACKTEST_ENTRY_Z, BACKTEST_EXIT_Z, BACKTEST_FEE_BPS, BACKTEST_STOP_Z
from pairdesk.analytics.summaries import annualisation_factor


@dataclass(frozen=True)
class BacktestResult:
    """Outcome of ``backtest_zscore``. Returns are fractions of the capital at risk (gross
    notional of the position at entry); pnl is in quote currency for 1 unit of A.

    trades: entry_ts_ms, exit_ts_ms, side (+1 long spread, -1 short), entry_z, exit_z,
      hedge_ratio, entry/exit prices of both legs, notional, fees, pnl (net), return, reason
      ("exit", "stop" or "end").
    equity: ts_ms, position (+1/0/-1), pnl (per bar, net), ret (per-bar return), equity
      (1 + cumulative ret).
    """

    trades: pd.DataFrame
    equity: pd.DataFrame
    total_return: float
    sharpe: float
    max_drawdown: float
    hit_rate: float
    reason: str | None = None


def _signals(z: np.ndarray, beta: np.ndarray, entry_z: float, exit_z: float, stop_z: float
             ) -> list[tuple[int, int, int, str]]:
    """(entry signal row, exit signal row, side, reason) of each trade; fills are one row later.

    Entries are read up to the third-last row (so a trade lives at least one bar), exits up to
    the second-last; a trade still open then ends on the last row with reason "end".
    """
    trades: list[tuple[int, int, int, str]] = []
    side, opened = 0, -1
    n = len(z)
    for t, zt in enumerate(z.tolist()[: max(n - 1, 0)]):
        if zt != zt:  # NaN z: no signal, an open position is held
            continue
        if side == 0:
            if t <= n - 3 and entry_z <= abs(zt) < stop_z and math.isfinite(beta[t]):
                side, opened = (-1 if zt > 0 else 1), t
        elif (side == 1 and zt <= -stop_z) or (side == -1 and zt >= stop_z):
            trades.append((opened, t, side, "stop"))
            side = 0
        elif (side == 1 and zt >= -exit_z) or (side == -1 and zt <= exit_z):
            trades.append((opened, t, side, "exit"))
            side = 0
    if side:
        trades.append((opened, n - 1, side, "end"))
    return trades


def backtest_zscore(panel: pd.DataFrame, timeframe: str, entry: float = BACKTEST_ENTRY_Z,
                    exit: float = BACKTEST_EXIT_Z, stop: float = BACKTEST_STOP_Z,  # noqa: A002 (the spec's names)
                    fee_bps: float = BACKTEST_FEE_BPS) -> BacktestResult:
    """Z-score mean-reversion backtest on a ``pair_panel`` (columns ts_ms, price_a, price_b,
    hedge_ratio, zscore).

    Rules: a signal is read on row t's zscore and filled at row t+1's prices (no look-ahead).
    Flat: z >= entry -> short the spread (-1 A, +beta B), z <= -entry -> long (+1 A, -beta B),
    only while |z| < stop, beta = hedge_ratio of the signal row, fixed for the trade. Long exits
    when z >= -exit (back inside the band, or overshot), short when z <= exit; stop out when
    z <= -stop (long) or z >= stop (short). NaN z: no signal.
    Entries are read up to the third-last row; a position still open at the end is closed at
    the last row ("end"). Fees: fee_bps / 10 000 of the traded notional of both legs at entry
    and at exit. Capital = gross notional at entry (|A| + |beta| B); per-bar
    return = that bar's net pnl / capital of the open trade (0 when flat). Sharpe =
    mean / std (ddof 1) of per-bar returns * sqrt(bars per year), all bars; max drawdown = the
    largest fall of the equity curve 1 + cumulative return from its running peak, as a fraction
    of that peak; hit rate = share of trades with net pnl > 0.
    """
    if not 0 <= exit < entry < stop:
        raise ValueError(f"need 0 <= exit < entry < stop, got exit={exit}, entry={entry}, stop={stop}")
    bars_per_year = annualisation_factor(timeframe) ** 2
    ts = panel["ts_ms"].to_numpy(np.int64)
    a, b = panel["price_a"].to_numpy(np.float64), panel["price_b"].to_numpy(np.float64)
    z, beta_col = panel["zscore"].to_numpy(np.float64), panel["hedge_ratio"].to_numpy(np.float64)
    n, fee = len(panel), fee_bps / 10_000
    position, bar_pnl, bar_ret = np.zeros(n, np.int64), np.zeros(n), np.zeros(n)
    rows = []
    for sig_in, sig_out, side, reason in _signals(z, beta_col, entry, exit, stop):
        i, j, beta = sig_in + 1, min(sig_out + 1, n - 1), beta_col[sig_in]
        qty_a, qty_b = float(side), -side * beta
        notional, exit_notional = (abs(qty_a) * a[k] + abs(qty_b) * b[k] for k in (i, j))
        fees = fee * (notional + exit_notional)
        pnl = np.zeros(j - i + 1)
        pnl[1:] = qty_a * np.diff(a[i:j + 1]) + qty_b * np.diff(b[i:j + 1])
        pnl[0] -= fee * notional
        pnl[-1] -= fee * exit_notional
        position[i:j + 1] = side
        bar_pnl[i:j + 1] = pnl
        bar_ret[i:j + 1] = pnl / notional
        rows.append({"entry_ts_ms": ts[i], "exit_ts_ms": ts[j], "side": side, "entry_z": z[sig_in],
                     "exit_z": z[sig_out], "hedge_ratio": beta, "entry_price_a": a[i], "entry_price_b": b[i],
                     "exit_price_a": a[j], "exit_price_b": b[j], "notional": notional, "fees": fees,
                     "pnl": float(pnl.sum()), "return": float(pnl.sum()) / notional, "reason": reason})
    trade_columns = ["entry_ts_ms", "exit_ts_ms", "side", "entry_z", "exit_z", "hedge_ratio", "entry_price_a",
                     "entry_price_b", "exit_price_a", "exit_price_b", "notional", "fees", "pnl", "return", "reason"]
    trades = pd.DataFrame(rows, columns=trade_columns)
    equity_curve = 1.0 + np.cumsum(bar_ret)
    equity = pd.DataFrame({"ts_ms": ts, "position": position, "pnl": bar_pnl, "ret": bar_ret, "equity": equity_curve})
    if n < 2:
        return BacktestResult(trades, equity, math.nan, math.nan, math.nan, math.nan,
                              reason=f"need at least 2 rows, have {n}")
    std = float(np.std(bar_ret, ddof=1))
    sharpe = float(np.mean(bar_ret)) / std * math.sqrt(bars_per_year) if std > 0 else math.nan
    peak = np.maximum.accumulate(np.r_[1.0, equity_curve])[1:]
    max_drawdown = float(np.max((peak - equity_curve) / peak))
    hit_rate = float((trades["pnl"] > 0).mean()) if len(trades) else math.nan
    return BacktestResult(trades, equity, float(equity_curve[-1] - 1.0), sharpe, max_drawdown, hit_rate,
                          reason=None if len(trades) else "no trades")

