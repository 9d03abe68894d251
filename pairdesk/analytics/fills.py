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


def at_touch(qty: np.ndarray, bid_side: np.ndarray, ask_side: np.ndarray) -> np.ndarray:
    """What an order of ``qty`` units meets, per leg: the ask side to buy (qty > 0), the bid side to sell.
    The same rule picks the touch's price (bid / ask) and its size (bid_qty / ask_qty)."""
    return np.where(qty > 0, ask_side, bid_side)


@dataclass(frozen=True)
class Fills:
    """Orders of both legs at every row at once (``fill_orders``): arrays over rows, as in ``Fill``."""

    price: np.ndarray  # (rows, 2)
    notional: np.ndarray
    spread: np.ndarray
    slippage: np.ndarray
    fee: np.ndarray


def _fill(mark: np.ndarray, bid: np.ndarray, ask: np.ndarray, qty: np.ndarray, slippage_bps: float,
          fee_bps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(price, notional, spread, slippage, fee) of orders ``qty`` (legs on the last axis)."""
    touch = at_touch(qty, bid, ask)
    s = slippage_bps / BPS
    price = touch * np.where(qty > 0, 1 + s, 1 - s)
    size = np.abs(qty)
    notional = (size * price).sum(axis=-1)
    return (price, notional, (size * np.abs(touch - mark)).sum(axis=-1), (size * np.abs(price - touch)).sum(axis=-1),
            fee_bps / BPS * notional)


def fill_orders(book: Book, qty: np.ndarray, slippage_bps: float, fee_bps: float) -> Fills:
    """Buy ``qty[t, leg] > 0`` / sell ``qty[t, leg] < 0`` units of both legs at every row t of ``book``."""
    return Fills(*_fill(book.mark, book.bid, book.ask, np.asarray(qty, np.float64), slippage_bps, fee_bps))


def fill_order(book: Book, row: int, qty: np.ndarray, slippage_bps: float, fee_bps: float) -> Fill:
    """Buy ``qty[leg] > 0`` / sell ``qty[leg] < 0`` units of both legs at ``row``."""
    price, notional, spread, slippage, fee = _fill(book.mark[row], book.bid[row], book.ask[row], qty, slippage_bps,
                                                   fee_bps)
    return Fill(price=price, notional=float(notional), spread=float(spread), slippage=float(slippage), fee=float(fee),
                quoted=bool(book.quoted[row][np.abs(qty) > 0].all()))
