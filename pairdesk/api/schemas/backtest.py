"""Models of ``/api/backtest``: the rules it ran with, its figures (whole run and, with a split, each
part) and its round trips (``pairdesk.analytics.backtest_zscore``)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from pairdesk.api.schemas.analytics import PairEcho
from pairdesk.api.schemas.base import Model


class BacktestRules(Model):
    entry: float = Field(description="enter at |z| >= entry: short the spread above +entry, long below -entry")
    exit: float = Field(description="exit once z is back inside ±exit")
    stop: float = Field(description="stop out at |z| >= stop (no entry at or beyond it)")
    fee_bps: float = Field(description="fee in bps of the filled notional, per leg per fill")
    slippage_bps: float = Field(description="slippage in bps beyond the bid / ask, against the trader")
    half_spread_bps: float = Field(description="half the bid-ask spread in bps of the last price (no quotes)")
    oos_fraction: float | None = Field(description="share of the last rows reported as out-of-sample (null: none)")


class BacktestFigures(Model):
    bars: int = Field(description="bars in this stretch")
    days: float = Field(description="time the bars cover, in days (holes excluded)")
    trades: int = Field(description="round trips closed in this stretch")
    gross_pnl: float = Field(description="P&L at the marks, quote currency for 1 unit of A")
    fees: float
    spread_cost: float
    slippage_cost: float
    costs: float = Field(description="fees + spread_cost + slippage_cost")
    funding: float = Field(description="funding received at the settlements held (< 0 when paid; 0 on spot)")
    net_pnl: float = Field(description="gross_pnl - costs + funding")
    total_return: float = Field(description="net_pnl / capital")
    turnover: float = Field(description="notional traded (both legs, every fill) / capital")
    hit_rate: float | None = Field(description="share of trades with net P&L > 0 (null without trades)")
    max_drawdown: float = Field(description="largest peak-to-trough fall of the equity curve, fraction of the peak")
    sharpe: float | None = Field(description="annualised Sharpe of daily returns; null when the sample is too short")
    sharpe_reason: str | None = Field(description="why sharpe is null, e.g. 'too short: 0.01 days, 3 trades'")


class BacktestTrade(Model):
    entry_signal_ts_ms: int = Field(description="bar whose z gave the entry signal, UTC ms")
    entry_ts_ms: int = Field(description="the next bar, where the entry filled")
    exit_signal_ts_ms: int
    exit_ts_ms: int
    side: Literal[1, -1] = Field(description="+1 long the spread (buy A, sell beta B), -1 short")
    entry_z: float
    exit_z: float | None
    hedge_ratio: float = Field(description="beta of the entry signal's bar, fixed for the trade")
    qty_a: float
    qty_b: float
    entry_price_a: float
    entry_price_b: float
    exit_price_a: float
    exit_price_b: float
    notional: float = Field(description="gross notional at entry (at the marks)")
    traded_notional: float
    gross_pnl: float
    fees: float
    spread_cost: float
    slippage_cost: float
    funding: float = Field(description="funding received at the settlements held (< 0 when paid; 0 on spot)")
    pnl: float = Field(description="net P&L: gross_pnl - fees - spread_cost - slippage_cost + funding")
    return_: float | None = Field(alias="return", description="pnl / notional")
    reason: Literal["exit", "stop", "segment", "split", "end"]
    part: Literal["all", "in_sample", "out_of_sample"]
    fills: Literal["quotes", "model", "mixed"]


class BacktestResponse(PairEcho):
    hedge: str
    rules: BacktestRules
    capital: float | None = Field(description="gross notional of the first position (null: no trades)")
    report: BacktestFigures = Field(description="every bar of the run")
    in_sample: BacktestFigures | None = Field(description="the first rows (null without oos_fraction)")
    out_of_sample: BacktestFigures | None = Field(description="the last oos_fraction of the rows")
    reason: str | None = Field(description="why there are no trades (null when there are)")
    trades: list[BacktestTrade]
