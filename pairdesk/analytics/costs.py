"""What a pair costs to trade at the touch: the quoted spread of each leg, the executable spread of
entering long or short the pair, and the round trip with fees, for a notional in quote currency.

Per panel row t, with each leg's book at the row's close (``pair_quotes``), mid_x = (bid_x + ask_x) / 2
and beta = the panel's causal hedge_ratio at t:
  qty_a = notional / mid_a, qty_b = -beta * qty_a        the long-spread position (short: the negatives)
  gross_notional = |qty_a| * mid_a + |qty_b| * mid_b
  long_cost  = what entering long costs at the touch against the mids: buy qty_a A at the ask and
               sell |qty_b| B at the bid (buy, if beta < 0), sum over legs |q| * |touch - mid|
               (``pairdesk.analytics.fills``, without slippage); short_cost the same for the
               negated quantities. With the mid halfway between bid and ask both equal
               (|qty_a| * (ask_a - bid_a) + |qty_b| * (ask_b - bid_b)) / 2; they differ in which
               side's sizes they meet.
  round_trip_fees = fee_bps / 10 000 * the notional of all four fills (at the touch: entry and exit
               on the same book)
  round_trip_cost = long_cost + short_cost + round_trip_fees (entering and leaving at the touch)
  *_bps      = the amount / gross_notional * 10 000
  long_exceeds_touch / short_exceeds_touch: some leg's |q| is above the size at the touch it would
               meet (ask_qty to buy, bid_qty to sell). Top of book is all the quotes hold, so the
               flag says the order needs more than the touch, not what the deeper book would cost.
A row without both legs' books (or without a hedge ratio) has NaN amounts and missing (NA) flags.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pairdesk.analytics.common import BACKTEST_FEE_BPS
from pairdesk.analytics.fills import BPS, at_touch, build_book, fill_orders
from pairdesk.analytics.quotes import pair_quotes

COST_COLUMNS = ["ts_ms", "hedge_ratio", "spread_bps_a", "spread_bps_b", "qty_a", "qty_b", "gross_notional",
                "long_cost", "long_cost_bps", "short_cost", "short_cost_bps", "round_trip_fees", "round_trip_cost",
                "round_trip_bps", "long_exceeds_touch", "short_exceeds_touch"]


def _exceeds_touch(qty: np.ndarray, bid_qty: np.ndarray, ask_qty: np.ndarray) -> pd.Series:
    """Per row: does any leg's order need more than the size at the touch it meets (NA where unknown)."""
    size = at_touch(qty, bid_qty, ask_qty)
    with np.errstate(invalid="ignore"):
        exceeds = (np.abs(qty) > size).any(axis=1)
    known = np.isfinite(qty).all(axis=1) & np.isfinite(size).all(axis=1)
    return pd.Series(exceeds, dtype="boolean").where(known, pd.NA)


def pair_costs(quotes_a: pd.DataFrame, quotes_b: pd.DataFrame, panel: pd.DataFrame, notional: float,
               fee_bps: float = BACKTEST_FEE_BPS) -> pd.DataFrame:
    """The costs of trading the pair at the touch on each row of ``panel`` (ts_ms, hedge_ratio: the
    causal beta of ``pair_panel``), from both legs' ``quote_bars_at`` at the panel's timeframe, for
    ``notional`` (quote currency, > 0) on leg A and ``fee_bps`` per leg per fill. Columns COST_COLUMNS,
    formulas in the module docstring. ValueError on a notional or fee out of range."""
    if isinstance(notional, bool) or not isinstance(notional, (int, float)) or not (math.isfinite(notional)
                                                                                   and notional > 0):
        raise ValueError(f"notional must be a positive amount of quote currency, got {notional!r}")
    if isinstance(fee_bps, bool) or not isinstance(fee_bps, (int, float)) or not 0 <= fee_bps < BPS:
        raise ValueError(f"fee_bps must be in [0, 10000) bps, got {fee_bps!r}")
    quotes = pair_quotes(quotes_a, quotes_b, panel)
    no_last = quotes[["ts_ms"]].assign(price_a=np.nan, price_b=np.nan)  # no quote, no price
    book = build_book(no_last, quotes, 0.0)
    beta = panel["hedge_ratio"].to_numpy(np.float64)
    qty_a = notional / book.mark[:, 0]
    qty = np.column_stack([qty_a, -beta * qty_a])
    gross = (np.abs(qty) * book.mark).sum(axis=1)
    long, short = fill_orders(book, qty, 0.0, fee_bps), fill_orders(book, -qty, 0.0, fee_bps)
    fees = long.fee + short.fee
    round_trip = long.spread + short.spread + fees
    bid_qty = quotes[["bid_qty_a", "bid_qty_b"]].to_numpy(np.float64)
    ask_qty = quotes[["ask_qty_a", "ask_qty_b"]].to_numpy(np.float64)
    out = pd.DataFrame({"ts_ms": quotes["ts_ms"], "hedge_ratio": beta, "spread_bps_a": quotes["spread_bps_a"],
                        "spread_bps_b": quotes["spread_bps_b"], "qty_a": qty[:, 0], "qty_b": qty[:, 1],
                        "gross_notional": gross, "long_cost": long.spread, "long_cost_bps": long.spread / gross * BPS,
                        "short_cost": short.spread, "short_cost_bps": short.spread / gross * BPS,
                        "round_trip_fees": fees, "round_trip_cost": round_trip,
                        "round_trip_bps": round_trip / gross * BPS})
    out["long_exceeds_touch"] = _exceeds_touch(qty, bid_qty, ask_qty).to_numpy()
    out["short_exceeds_touch"] = _exceeds_touch(-qty, bid_qty, ask_qty).to_numpy()
    return out[COST_COLUMNS]
