"""The Analytics section's Backtest tab: the rules and costs as inputs, the figures, the equity curve
and the trades of ``analytics.backtest_zscore``.

The inputs live in ``st.session_state`` under stable keys. ``chosen_params`` reads them before the
heavy panels are computed, so the page can put them in ``data.heavy_analytics``'s cache key (the
backtest runs there, with the rest of the heavy panels); ``backtest_panel`` draws the inputs and
the result.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from pairdesk import analytics
from pairdesk.dashboard import charts
from pairdesk.dashboard.elements import plot
from pairdesk.dashboard.formatting import format_count, format_number, format_percent, format_signed, format_times

if TYPE_CHECKING:
    from pairdesk.dashboard.data import Analytics, Settings

DEFAULTS = analytics.BacktestParams()
TRADE_SIDES = {1: "long spread", -1: "short spread"}
TRADE_COLUMNS = ["entry", "exit", "side", "entry_z", "exit_z", "hedge_ratio", "gross_pnl", "fees", "spread_cost",
                 "slippage_cost", "funding", "pnl", "return", "reason", "part", "fills"]
FILL_WORDS = {"quotes": "at the quoted bid / ask of both legs", "model": "modelled (no quote bar at a fill: last "
              "price ± the half-spread)", "mixed": "mixed (one leg quoted, the other modelled)"}
PART_LABELS = {"report": "all bars", "in_sample": "in-sample", "out_of_sample": "out-of-sample"}
TOO_SHORT = "too short"


@dataclass(frozen=True)
class BacktestInput:
    """One number input: its session key, label, default, range, step and help."""

    key: str
    field: str  # of analytics.BacktestParams
    label: str
    low: float
    high: float
    step: float
    tip: str


INPUTS = (
    BacktestInput("bt_entry", "entry", "Entry |z|", 0.1, 20.0, 0.1, "Enter when z ≤ −entry (long) or ≥ entry (short)."),
    BacktestInput("bt_exit", "exit", "Exit |z|", 0.0, 20.0, 0.1, "Exit once z is back inside ±exit (below entry)."),
    BacktestInput("bt_stop", "stop", "Stop |z|", 0.2, 50.0, 0.5, "Stop out at |z| ≥ stop (above entry)."),
    BacktestInput("bt_fee_bps", "fee_bps", "Fee (bps)", 0.0, 100.0, 0.5, "Per leg per fill, of the filled notional."),
    BacktestInput("bt_slippage_bps", "slippage_bps", "Slippage (bps)", 0.0, 100.0, 0.5,
                  "Beyond the bid / ask, against the trader, per leg per fill."),
    BacktestInput("bt_half_spread_bps", "half_spread_bps", "Half-spread (bps)", 0.0, 100.0, 0.5,
                  "Half the bid-ask spread around the last price, used without quote bars."),
    BacktestInput("bt_oos_fraction", "oos_fraction", "Out-of-sample share", 0.0, 0.9, 0.05,
                  "The last share of the bars reported apart (0: no split). Same causal signal, nothing refitted."),
)


def _default(item: BacktestInput) -> float:
    value = getattr(DEFAULTS, item.field)
    return 0.0 if value is None else float(value)


def chosen_params() -> tuple[analytics.BacktestParams, str | None]:
    """The inputs' current values as checked parameters, and None; or the defaults and why the inputs
    cannot be used (e.g. entry not above exit). Reads ``st.session_state`` only: draws nothing."""
    values = {item.field: float(st.session_state.get(item.key, _default(item))) for item in INPUTS}
    values["oos_fraction"] = values["oos_fraction"] or None
    try:
        return analytics.BacktestParams(**values), None
    except ValueError as exc:
        return DEFAULTS, str(exc)


def draw_inputs() -> None:
    """The number inputs, one column each, keyed by ``BacktestInput.key``."""
    for column, item in zip(st.columns(len(INPUTS)), INPUTS):
        column.number_input(item.label, item.low, item.high, value=_default(item), step=item.step, key=item.key,
                            help=item.tip)


def figures_table(result: analytics.BacktestResult) -> pd.DataFrame:
    """One row per reported stretch (all bars; in-sample and out-of-sample with a split), every figure."""
    return pd.DataFrame([{"part": PART_LABELS[name], **asdict(part), "sharpe": sharpe_text(part)}
                         for name, part in (("report", result.report), ("in_sample", result.in_sample),
                                            ("out_of_sample", result.out_of_sample)) if part is not None])


def sharpe_text(report: analytics.BacktestReport) -> str:
    """The Sharpe metric: the figure, or "too short" (never an annualised figure of a few minutes)."""
    if report.sharpe is not None:
        return format_signed(report.sharpe)
    return TOO_SHORT if (report.sharpe_reason or "").startswith(TOO_SHORT) else "—"


def fills_caption(result: analytics.BacktestResult, futures: bool) -> str:
    """Where the trades' fills came from (the trades' ``fills`` column) and, on futures, the funding paid."""
    trades = result.trades
    if len(trades) == 0:
        text = "Fills: no trades yet."
    else:
        counts = trades["fills"].value_counts()
        parts = [f"{int(counts[kind])} {words}" for kind, words in FILL_WORDS.items() if kind in counts.index]
        text = f"Fills of the {len(trades)} trade(s): " + "; ".join(parts) + "."
    if futures:
        text += (f" Funding at the settlements held: {format_signed(result.report.funding, 4)} (quote currency, "
                 f"< 0: paid), included in the net P&L.")
    else:
        text += " Spot: no funding."
    return text


def backtest_panel(results: Analytics, s: Settings, error: str | None, futures: bool = False) -> None:
    """The inputs, then the backtest's figures, equity curve and trades (``error``: why the inputs are unusable;
    ``futures``: the database is USD-M, so funding is charged)."""
    draw_inputs()
    if s.hedge in analytics.INSAMPLE_HEDGES:
        st.warning(f"The {s.hedge_label} hedge is fitted on the whole window (in-sample: uses future bars), so it "
                   "cannot be backtested: choose a causal hedge (rolling OLS or Kalman) in the sidebar.")
        return
    if error:
        st.warning(f"Backtest not run: {error}.")
        return
    result = results.backtest
    p, report = result.params, result.report
    st.caption(f"{s.hedge_label} hedge estimated from earlier bars; a signal on bar t fills at bar t+1 at the bid / "
               f"ask (last price ± {p.half_spread_bps:g} bps without quotes), plus {p.slippage_bps:g} bps slippage and "
               f"{p.fee_bps:g} bps fee per leg per fill; 1 unit of {s.symbol_a} against β units of {s.symbol_b}; "
               f"positions closed at holes in the data; last {format_count(report.bars)} bars. P&L in quote "
               f"currency, returns of the first position's notional ({format_number(result.capital)}).")
    top = st.columns(5)
    top[0].metric("Net P&L", format_number(report.net_pnl), border=True)
    top[1].metric("Gross P&L", format_number(report.gross_pnl), border=True)
    top[2].metric("Costs", format_number(report.costs), border=True,
                  help=f"fees {format_number(report.fees)}, spread {format_number(report.spread_cost)}, "
                       f"slippage {format_number(report.slippage_cost)}")
    top[3].metric("Total return", format_percent(report.total_return, signed=True), border=True)
    top[4].metric("Turnover", f"{format_number(report.turnover, 3)}×", border=True,
                  help="Notional traded (both legs, every fill) / capital.")
    low = st.columns(4)
    low[0].metric("Trades", format_count(report.trades), border=True)
    low[1].metric("Hit rate", format_percent(report.hit_rate, decimals=0), border=True)
    low[2].metric("Max drawdown", format_percent(report.max_drawdown), border=True,
                  help="Largest peak-to-trough fall of the equity curve, as a fraction of the peak.")
    low[3].metric("Sharpe (annualised)", sharpe_text(report), border=True, help=report.sharpe_reason)
    st.caption(fills_caption(result, futures))
    if report.sharpe_reason:
        st.caption(f"Sharpe ratio: {report.sharpe_reason}.")
    if result.reason:
        st.info(f"Backtest: {result.reason}.")
    st.dataframe(figures_table(result), hide_index=True, key="backtest_figures",
                 column_config={c: st.column_config.NumberColumn(format="percent")
                                for c in ("total_return", "hit_rate", "max_drawdown")})
    plot(charts.equity_figure(result.equity, s.tz), "equity_chart")
    if len(result.trades):
        trades = result.trades.copy()
        for column in ("entry_ts_ms", "exit_ts_ms"):
            trades[column.replace("_ts_ms", "")] = format_times(trades[column], s.tz)
        trades["side"] = trades["side"].map(TRADE_SIDES)
        st.dataframe(trades[TRADE_COLUMNS], hide_index=True, key="backtest_trades",
                     column_config={"return": st.column_config.NumberColumn(format="percent")})
