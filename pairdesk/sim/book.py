"""The model's quoted book: best bid and ask around the fair price, on the tick grid, sizes on the lot grid."""
from __future__ import annotations

import math
import random

from pairdesk.sim.listings import SymbolSpec
from pairdesk.sim.quotes import BookQuote

CALM_SPREAD_MEAN_S, WIDE_SPREAD_MEAN_S = 20.0, 1.5  # mean length of tight and wide spells
MAX_WIDE_SPREAD_TICKS = 6  # a wide spell quotes 2 to this many ticks
TOUCH_QTY_MEDIANS = 6.0  # size shown at the best level, in median trade sizes
TOUCH_QTY_LOG_SIGMA = 1.0
MAX_UPDATE_ID_STEP = 20  # `u` counts every book change, deeper levels too: it advances by 1 to this
FIRST_UPDATE_ID_PER_TRADE_ID = 10  # where a symbol's `u` starts (far from its trade ids)


def lot_qty_units(rng: random.Random, spec: SymbolSpec, median: float, log_sigma: float, max_medians: float) -> int:
    """A lognormal quantity around `median` (capped at `max_medians` medians), on the lot grid, at least one lot."""
    qty = min(rng.lognormvariate(math.log(median), log_sigma), median * max_medians)
    step = spec.step_units / 10**spec.qty_decimals
    return max(1, round(qty / step)) * spec.step_units


class QuotedBook:
    """One symbol's best bid and ask, in ticks, with the sizes shown there.

    `requote` centres the book on the fair price: a 1-tick spread in tight spells, 2 to
    MAX_WIDE_SPREAD_TICKS ticks in the short wide spells. A taker order takes the best level on
    its side (`touch`); `walk` moves that side one tick away when a level is used up, so every
    fill sits at the best bid or ask in force at its moment. Each change returns the `BookQuote`
    to publish, with a higher update id than the one before.
    """

    def __init__(self, spec: SymbolSpec, rng: random.Random, start_us: int) -> None:
        self.spec = spec
        self._rng = rng
        self._update_id = spec.first_trade_id * FIRST_UPDATE_ID_PER_TRADE_ID
        self.bid = self.ask = 0  # ticks; 0 before the first quote
        self.bid_qty = self.ask_qty = 0  # lot units
        self._wide = False
        self._switch_us = start_us + self._spell_us()

    def covers(self, fair_ticks: float) -> bool:
        """Whether the fair price lies within the quoted bid and ask."""
        return self.bid > 0 and self.bid <= fair_ticks <= self.ask

    def requote(self, fair_ticks: float, time_us: int) -> BookQuote:
        """Quote around `fair_ticks` with fresh sizes."""
        while time_us >= self._switch_us:
            self._wide = not self._wide
            self._switch_us += self._spell_us()
        spread = self._rng.randint(2, MAX_WIDE_SPREAD_TICKS) if self._wide else 1
        self.bid = max(1, math.floor(fair_ticks - (spread - 1) / 2))
        self.ask = self.bid + spread
        self.bid_qty, self.ask_qty = self._touch_qty(), self._touch_qty()
        return self._quote(time_us)

    def touch(self, taker_buys: bool) -> int:
        """Price units of the best level a taker on this side fills against."""
        return (self.ask if taker_buys else self.bid) * self.spec.tick_units

    def walk(self, taker_buys: bool, time_us: int) -> BookQuote:
        """The best level on the taker's side is used up: the next one, a tick further, shows."""
        if taker_buys:
            self.ask += 1
            self.ask_qty = self._touch_qty()
        elif self.bid > 1:
            self.bid -= 1
            self.bid_qty = self._touch_qty()
        return self._quote(time_us)

    def take(self, taker_buys: bool, qty_units: int, time_us: int) -> BookQuote:
        """A taker order took `qty_units` at the best level: less shows there, or the level is gone."""
        shown = self.ask_qty if taker_buys else self.bid_qty
        if qty_units >= shown:
            return self.walk(taker_buys, time_us)
        if taker_buys:
            self.ask_qty -= qty_units
        else:
            self.bid_qty -= qty_units
        return self._quote(time_us)

    def _quote(self, time_us: int) -> BookQuote:
        self._update_id += self._rng.randint(1, MAX_UPDATE_ID_STEP)
        spec, tick = self.spec, self.spec.tick_units
        return BookQuote(spec.symbol, self._update_id, spec.price_text(self.bid * tick), spec.qty_text(self.bid_qty),
                         spec.price_text(self.ask * tick), spec.qty_text(self.ask_qty), time_us)

    def _touch_qty(self) -> int:
        return lot_qty_units(self._rng, self.spec, self.spec.median_qty * TOUCH_QTY_MEDIANS, TOUCH_QTY_LOG_SIGMA, 50.0)

    def _spell_us(self) -> float:
        mean_s = WIDE_SPREAD_MEAN_S if self._wide else CALM_SPREAD_MEAN_S
        return self._rng.expovariate(1.0 / mean_s) * 1e6
