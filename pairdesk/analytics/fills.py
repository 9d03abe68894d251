"""Where the backtest's orders fill: at the bid or ask of quote bars, or at a modelled touch around
the last price, then slippage, always against the trader; and what each fill costs.

Prices are in quote currency per unit; costs are in quote currency, always >= 0.

Per row and leg (a = the panel's price_a leg, b = price_b):
  mark   the reference price the position is valued at: the quotes' mid (bid + ask) / 2 where that
         leg's quote is valid at the row (finite, 0 < bid <= ask), otherwise the panel's last price
  touch  what a market order meets: the ask to buy, the bid to sell, from the quotes where valid,
         otherwise mark * (1 + h) to buy and mark * (1 - h) to sell, h = half_spread_bps / 10 000
  fill   touch * (1 + s) to buy, touch * (1 - s) to sell, s = slippage_bps / 10 000
Costs of one fill of |q| units: spread = |q| * |touch - mark|, slippage = |q| * |fill - touch|,
fee = fee_bps / 10 000 * |q| * fill. So the cash of a buy is -(q * mark + spread + slippage + fee)
and of a sale q * mark - spread - slippage - fee: P&L at the marks minus the three costs, exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

BPS = 10_000.0
QUOTE_COLUMNS = ("bid_a", "ask_a", "bid_b", "ask_b")


@dataclass(frozen=True)
class Book:
    """Marks and touches of both legs for every panel row: arrays of shape (rows, 2), leg a first.

    ``quoted[t, leg]`` is True where that leg's bid / ask came from the quotes frame.
    """

    mark: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    quoted: np.ndarray


@dataclass(frozen=True)
class Fill:
    """One order of both legs at one row: fill prices (a, b), traded notional and costs (quote currency)."""

    price: np.ndarray
    notional: float  # sum over legs of |q| * fill
    spread: float
    slippage: float
    fee: float
    quoted: bool  # both legs filled at quoted prices

    @property
    def costs(self) -> float:
        return self.spread + self.slippage + self.fee


def build_book(panel: pd.DataFrame, quotes: pd.DataFrame | None, half_spread_bps: float) -> Book:
    """The ``Book`` of ``panel`` (ts_ms, price_a, price_b), with ``quotes`` (ts_ms, bid_a, ask_a,
    bid_b, ask_b; rows matched to the panel's by ts_ms, missing rows or NaN: no quote) when given."""
    last = panel[["price_a", "price_b"]].to_numpy(np.float64)
    bid = np.full_like(last, np.nan)
    ask = np.full_like(last, np.nan)
    if quotes is not None:
        missing = [c for c in ("ts_ms", *QUOTE_COLUMNS) if c not in quotes.columns]
        if missing:
            raise ValueError(f"quotes need columns ts_ms, {', '.join(QUOTE_COLUMNS)}; missing {', '.join(missing)}")
        if quotes["ts_ms"].duplicated().any():
            raise ValueError("quotes hold more than one row for some ts_ms; give one quote bar per panel bar")
        aligned = quotes.set_index("ts_ms").reindex(panel["ts_ms"].to_numpy())
        bid = aligned[["bid_a", "bid_b"]].to_numpy(np.float64)
        ask = aligned[["ask_a", "ask_b"]].to_numpy(np.float64)
    with np.errstate(invalid="ignore"):
        quoted = np.isfinite(bid) & np.isfinite(ask) & (bid > 0) & (bid <= ask)
    h = half_spread_bps / BPS
    mark = np.where(quoted, (bid + ask) / 2, last)
    return Book(mark=mark, bid=np.where(quoted, bid, mark * (1 - h)), ask=np.where(quoted, ask, mark * (1 + h)),
                quoted=quoted)


def fill_order(book: Book, row: int, qty: np.ndarray, slippage_bps: float, fee_bps: float) -> Fill:
    """Buy ``qty[leg] > 0`` / sell ``qty[leg] < 0`` units of both legs at ``row``."""
    buy = qty > 0
    touch = np.where(buy, book.ask[row], book.bid[row])
    s = slippage_bps / BPS
    price = touch * np.where(buy, 1 + s, 1 - s)
    size = np.abs(qty)
    notional = float(size @ price)
    return Fill(price=price, notional=notional, spread=float(size @ np.abs(touch - book.mark[row])),
                slippage=float(size @ np.abs(price - touch)), fee=fee_bps / BPS * notional,
                quoted=bool(book.quoted[row][size > 0].all()))
