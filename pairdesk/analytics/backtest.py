"""A walk-forward z-score backtest of the pair panel: the signal of bar t trades at bar t+1.

The panel's ``hedge_ratio`` and ``zscore`` at row t are causal (estimated from bars up to t-1,
standardised over the window ending at t): they are used as they are, nothing is refitted here, so
every decision at row t depends on rows up to t only and its fill on row t+1.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from pairdesk.analytics.backtest_report import BacktestReport, stretch_report
from pairdesk.analytics.common import BACKTEST_ENTRY_Z, BACKTEST_EXIT_Z, BACKTEST_FEE_BPS, BACKTEST_STOP_Z, timeframe_ms
from pairdesk.analytics.fills import BPS, Book, build_book, fill_order
from pairdesk.analytics.funding import checked_funding, held_settlements

# Modelled fills without quotes: half the bid-ask spread and the slippage, in bps of the price, per leg
# per fill. Conservative for BTC / ETH spot (quoted half-spreads well under 0.1 bp), about right for
# mid-cap altcoins.
BACKTEST_HALF_SPREAD_BPS = 1.0
BACKTEST_SLIPPAGE_BPS = 0.5

PARTS = {0: "all", 1: "in_sample", 2: "out_of_sample"}
TRADE_COLUMNS = ["entry_signal_ts_ms", "entry_ts_ms", "exit_signal_ts_ms", "exit_ts_ms", "side", "entry_z",
                 "exit_z", "hedge_ratio", "qty_a", "qty_b", "entry_price_a", "entry_price_b", "exit_price_a",
                 "exit_price_b", "notional", "traded_notional", "gross_pnl", "fees", "spread_cost",
                 "slippage_cost", "funding", "pnl", "return", "reason", "part", "fills"]
EQUITY_COLUMNS = ["ts_ms", "segment", "part", "position", "pnl", "equity"]


@dataclass(frozen=True)
class BacktestParams:
    """The rules and costs of a backtest, checked: 0 <= exit < entry < stop (z units); costs in bps,
    each in [0, 10 000); ``oos_fraction``: None (no split) or the share of the last rows held out, in (0, 1)."""

    entry: float = BACKTEST_ENTRY_Z
    exit: float = BACKTEST_EXIT_Z
    stop: float = BACKTEST_STOP_Z
    fee_bps: float = BACKTEST_FEE_BPS
    slippage_bps: float = BACKTEST_SLIPPAGE_BPS
    half_spread_bps: float = BACKTEST_HALF_SPREAD_BPS
    oos_fraction: float | None = None

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if not 0 <= self.exit < self.entry < self.stop:
            raise ValueError(f"need 0 <= exit < entry < stop, got exit={self.exit:g}, entry={self.entry:g}, "
                             f"stop={self.stop:g}")
        for name in ("fee_bps", "slippage_bps", "half_spread_bps"):
            if not 0 <= getattr(self, name) < BPS:
                raise ValueError(f"{name} must be in [0, 10000) bps, got {getattr(self, name):g}")
        if self.oos_fraction is not None and not 0 < self.oos_fraction < 1:
            raise ValueError(f"oos_fraction must be between 0 and 1 (exclusive), got {self.oos_fraction:g}")

    def as_kwargs(self) -> dict[str, float | None]:
        """The keyword arguments of ``backtest_zscore``."""
        return asdict(self)


@dataclass(frozen=True)
class BacktestResult:
    """Outcome of ``backtest_zscore``. Money in quote currency for 1 unit of A; fractions of ``capital``.

    trades: one row per round trip, TRADE_COLUMNS: signal and fill times of entry and exit (UTC ms),
      side (+1 long the spread: +1 A, -beta B; -1 short), z at the signals, hedge_ratio (beta, fixed
      at entry), qty_a / qty_b (signed units), fill prices, notional (gross, at the entry marks),
      traded_notional (both fills), gross_pnl, fees, spread_cost, slippage_cost, funding (received
      at the settlements held, < 0 when paid; 0 without ``funding``), pnl (net: gross_pnl - fees -
      spread_cost - slippage_cost + funding), return (pnl / notional), reason ("exit", "stop",
      "segment", "split", "end"), part ("all", "in_sample", "out_of_sample") and fills ("quotes",
      "model" or "mixed": where the four leg fills came from).
    equity: one row per panel row, EQUITY_COLUMNS: position (+1 / 0 / -1 from the entry fill row to
      the exit fill row), pnl (net, that row; a settlement's funding on the first row whose bar
      closes after it), equity (1 + cumulative pnl / capital).
    capital: gross notional of the first position at its entry marks (None: no trades).
    report: figures of every row; in_sample / out_of_sample: of each part (None without a split).
    reason: why there is nothing to show (None when there are trades).
    """

    trades: pd.DataFrame
    equity: pd.DataFrame
    params: BacktestParams
    capital: float | None
    report: BacktestReport
    in_sample: BacktestReport | None = None
    out_of_sample: BacktestReport | None = None
    reason: str | None = None

    @property
    def total_return(self) -> float:
        return self.report.total_return

    @property
    def sharpe(self) -> float | None:
        return self.report.sharpe

    @property
    def max_drawdown(self) -> float:
        return self.report.max_drawdown

    @property
    def hit_rate(self) -> float | None:
        return self.report.hit_rate


def _parts(n: int, oos_fraction: float | None) -> np.ndarray:
    """Per row: 0 (no split), or 1 for the first floor(n * (1 - oos_fraction)) rows and 2 after."""
    if oos_fraction is None:
        return np.zeros(n, np.int64)
    return np.where(np.arange(n) < int(n * (1 - oos_fraction)), 1, 2)


def _block_ends(segment: np.ndarray, part: np.ndarray) -> list[str | None]:
    """Per row: None inside a stretch, else why the stretch ends after it ("end", "split", "segment")."""
    n = len(segment)
    ends: list[str | None] = [None] * n
    for t in range(n):
        if t == n - 1:
            ends[t] = "end"
        elif part[t + 1] != part[t]:
            ends[t] = "split"
        elif segment[t + 1] != segment[t]:
            ends[t] = "segment"
    return ends


def _round_trips(z: np.ndarray, beta: np.ndarray, ends: list[str | None], p: BacktestParams
                 ) -> list[tuple[int, int, int, int, int, str]]:
    """(entry signal, entry fill, exit signal, exit fill, side, reason) rows of each round trip.

    Flat at row t: z_t <= -entry -> long, z_t >= entry -> short, if |z_t| < stop, beta_t is finite
    and rows t+1 and t+2 are in t's stretch (a position lives at least one bar); filled at t+1.
    Open at row t: |z_t| >= stop -> "stop", a long with z_t >= -exit or a short with z_t <= exit
    (back inside ±exit, or beyond it) -> "exit"; filled at t+1. A position still open on the
    last row of a stretch is closed there, at that row's prices (reason: why the stretch ends).
    NaN z: no signal (an open position is held). One action per signal row.
    """
    trips = []
    side = opened = 0
    for t, (zt, end) in enumerate(zip(z.tolist(), ends)):
        signal = not math.isnan(zt)
        if side:
            reason = None
            if signal and abs(zt) >= p.stop:
                reason = "stop"
            elif signal and ((side == 1 and zt >= -p.exit) or (side == -1 and zt <= p.exit)):
                reason = "exit"
            if end is not None:
                trips.append((opened, opened + 1, t, t, side, end))
                side = 0
            elif reason is not None:
                trips.append((opened, opened + 1, t, t + 1, side, reason))
                side = 0
        elif (signal and end is None and ends[t + 1] is None and p.entry <= abs(zt) < p.stop
              and math.isfinite(beta[t])):
            side, opened = (-1 if zt > 0 else 1), t
    return trips


def _fill_source(entry_quoted: bool, exit_quoted: bool, entry_model: bool, exit_model: bool) -> str:
    if entry_quoted and exit_quoted:
        return "quotes"
    return "model" if entry_model and exit_model else "mixed"


def _funding(funding: tuple[pd.DataFrame | None, pd.DataFrame | None], marks: np.ndarray, close_ms: np.ndarray,
             qty: np.ndarray) -> np.ndarray:
    """Funding received on each row of a position held from the close of its first row (the entry
    fill) to the close of its last (the exit fill); ``close_ms`` and ``marks`` (rows, 2): those rows'
    bar closes and marks. A settlement at or after the entry fill and before the exit fill counts on
    the first row whose bar closes after it, priced at its own mark price, else at the position's
    last mark at or before it."""
    per_row = np.zeros(len(close_ms))
    for leg, rows in enumerate(funding):
        if rows is not None:
            times, payment = held_settlements(rows, float(qty[leg]), int(close_ms[0]), int(close_ms[-1]), close_ms,
                                              marks[:, leg])
            np.add.at(per_row, np.searchsorted(close_ms, times, side="right"), payment)
    return per_row


def _trade(book: Book, ts: np.ndarray, tf_ms: int, z: np.ndarray, beta: float,
           trip: tuple[int, int, int, int, int, str], p: BacktestParams, part: str,
           funding: tuple[pd.DataFrame | None, pd.DataFrame | None]) -> tuple[dict, np.ndarray]:
    """One round trip's row of the trades table and its net P&L on rows entry fill .. exit fill."""
    sig_in, i, sig_out, j, side, reason = trip
    qty = np.array([float(side), -side * beta])
    entry, exit_ = (fill_order(book, i, qty, p.slippage_bps, p.fee_bps),
                    fill_order(book, j, -qty, p.slippage_bps, p.fee_bps))
    marks = book.mark[i:j + 1]
    pnl = np.r_[0.0, np.diff(marks, axis=0) @ qty]
    pnl[0] -= entry.costs
    pnl[-1] -= exit_.costs
    received = _funding(funding, marks, ts[i:j + 1] + tf_ms, qty)
    pnl += received
    notional = float(np.abs(qty) @ book.mark[i])
    row = {"entry_signal_ts_ms": ts[sig_in], "entry_ts_ms": ts[i], "exit_signal_ts_ms": ts[sig_out],
           "exit_ts_ms": ts[j], "side": side, "entry_z": z[sig_in], "exit_z": z[sig_out], "hedge_ratio": beta,
           "qty_a": qty[0], "qty_b": qty[1], "entry_price_a": entry.price[0], "entry_price_b": entry.price[1],
           "exit_price_a": exit_.price[0], "exit_price_b": exit_.price[1], "notional": notional,
           "traded_notional": entry.notional + exit_.notional, "gross_pnl": float(qty @ (book.mark[j] - book.mark[i])),
           "fees": entry.fee + exit_.fee, "spread_cost": entry.spread + exit_.spread,
           "slippage_cost": entry.slippage + exit_.slippage, "funding": float(received.sum()), "pnl": float(pnl.sum()),
           "return": float(pnl.sum()) / notional if notional else math.nan, "reason": reason, "part": part,
           "fills": _fill_source(entry.quoted, exit_.quoted, not book.quoted[i].any(), not book.quoted[j].any())}
    return row, pnl


def backtest_zscore(panel: pd.DataFrame, timeframe: str, entry: float = BACKTEST_ENTRY_Z,
                    exit: float = BACKTEST_EXIT_Z, stop: float = BACKTEST_STOP_Z,
                    fee_bps: float = BACKTEST_FEE_BPS, *, slippage_bps: float = BACKTEST_SLIPPAGE_BPS,
                    half_spread_bps: float = BACKTEST_HALF_SPREAD_BPS, oos_fraction: float | None = None,
                    quotes: pd.DataFrame | None = None,
                    funding: tuple[pd.DataFrame | None, pd.DataFrame | None] | None = None) -> BacktestResult:
    """Walk-forward z-score mean-reversion backtest of a ``pair_panel`` (columns ts_ms, price_a,
    price_b, hedge_ratio, zscore; optional ``segment``: rows of one contiguous stretch share it).

    Timing: a signal read on row t's zscore is filled at row t+1 (never at t); the position is 1
    unit of A against beta units of B, beta = row t's hedge_ratio, fixed for the trade. Rules in
    ``_round_trips``: enter at |z| >= entry (below stop), exit back inside ±exit, stop at |z| >= stop.
    No position is held across a change of ``segment`` (a hole in the data) or across the in-sample /
    out-of-sample split: it is closed on the stretch's last row ("segment", "split"; "end" on the
    panel's last row). Fills and costs: ``pairdesk.analytics.fills`` (``quotes``: ts_ms, bid_a, ask_a,
    bid_b, ask_b, matched to the panel by ts_ms; without it, or where a leg's quote is missing, the
    last price +- ``half_spread_bps``), then ``slippage_bps`` and ``fee_bps`` per leg per fill;
    ``pair_quotes`` builds ``quotes`` from both legs' quote bars (the book at the fill row's close).
    ``funding`` (USD-M perpetuals; None for spot: no funding): (funding_a, funding_b), each leg's
    settled rows (funding_time_ms, rate, mark_price: ``store.read_funding``; None: that leg pays
    none). A position pays or earns -rate * qty * mark at every settlement from its entry fill (the
    close of the entry fill row's bar, inclusive) to its exit fill (exclusive), mark = the row's
    mark_price, else the position's last mark at or before the settlement (``pairdesk.analytics.funding``);
    it goes into the trade's ``funding`` and ``pnl`` and into the equity curve on the first row whose
    bar closes after the settlement. ``oos_fraction``: the last share of rows is reported apart as
    out-of-sample; the signal there is the same causal one (nothing is fitted on either part).
    Figures: ``BacktestReport``. ValueError on inconsistent parameters (``BacktestParams``).
    """
    p = BacktestParams(entry, exit, stop, fee_bps, slippage_bps, half_spread_bps, oos_fraction)
    tf_ms = timeframe_ms(timeframe)
    n = len(panel)
    ts = panel["ts_ms"].to_numpy(np.int64)
    z, beta = panel["zscore"].to_numpy(np.float64), panel["hedge_ratio"].to_numpy(np.float64)
    segment = panel["segment"].to_numpy() if "segment" in panel.columns else np.zeros(n, np.int64)
    part = _parts(n, oos_fraction)
    book = build_book(panel, quotes, half_spread_bps)
    if funding is not None and not (isinstance(funding, (tuple, list)) and len(funding) == 2):
        raise ValueError("funding is (funding_a, funding_b): one frame (or None) per leg")
    legs = tuple(None if rows is None else checked_funding(rows) for rows in (funding or (None, None)))
    position, bar_pnl, rows = np.zeros(n, np.int64), np.zeros(n), []
    for trip in _round_trips(z, beta, _block_ends(segment, part), p):
        sig_in, i, _, j, side, _ = trip
        row, pnl = _trade(book, ts, tf_ms, z, float(beta[sig_in]), trip, p, PARTS[int(part[i])], legs)
        position[i:j + 1] = side
        bar_pnl[i:j + 1] += pnl
        rows.append(row)
    trades = pd.DataFrame(rows, columns=TRADE_COLUMNS)
    capital = float(trades["notional"].iloc[0]) if len(trades) else None
    equity = pd.DataFrame({"ts_ms": ts, "segment": segment, "part": [PARTS[int(k)] for k in part],
                           "position": position, "pnl": bar_pnl,
                           "equity": 1.0 + np.cumsum(bar_pnl) / (capital or 1.0)}, columns=EQUITY_COLUMNS)
    report = stretch_report(ts, bar_pnl, tf_ms, trades, capital)
    halves = [stretch_report(ts[part == k], bar_pnl[part == k], tf_ms, trades[trades["part"] == PARTS[k]], capital)
              for k in (1, 2)] if oos_fraction is not None else [None, None]
    reason = None if len(trades) else ("no trades" if n >= 2 else f"need at least 2 rows, have {n}")
    return BacktestResult(trades, equity, p, capital, report, *halves, reason=reason)
