"""The model market: a cointegrated BTC/ETH pair (and independent walkers) with calm and busy spells."""
from __future__ import annotations

import math
import random
from collections.abc import Sequence

from pairdesk.sim.book import QuotedBook, lot_qty_units
from pairdesk.sim.config import DEFAULT_QUOTE_RATE_PER_S
from pairdesk.sim.listings import SymbolSpec
from pairdesk.sim.quotes import BookQuote
from pairdesk.sim.tape_history import Fill

# Model parameters (per-second units; realistic magnitudes, see the 2024-08-08 recordings).
LEADER_VOL_PER_SQRT_S = 1.2e-4  # BTC log-price random walk, ~3.5 % a day
INDEPENDENT_VOL_PER_SQRT_S = 2.0e-4  # symbols outside the BTC/ETH pair
PAIR_BETA = 1.2  # log ETH = c + beta * log BTC + u
PAIR_HALF_LIFE_S = 90.0  # of the OU residual u
PAIR_RESIDUAL_STD = 0.0015  # stationary std of u (15 bp)
PAIRS = {"ETHUSDT": "BTCUSDT"}  # follower -> leader
# Beyond BTC/ETH, the other symbols (in the order given) form triples: the first leads, the second is
# cointegrated with it with the next of these half-lives, the third walks alone. A scanner of the
# universe should find exactly the planted pairs (``planted_pairs``).
PLANTED_HALF_LIVES_S = (120.0, 300.0, 600.0, 1800.0)


def planted_pairs(symbols: Sequence[str]) -> dict[str, tuple[str, float]]:
    """follower -> (leader, half-life of the residual, s) of every cointegrated pair the model plants."""
    links = {f: (leader, PAIR_HALF_LIFE_S) for f, leader in PAIRS.items() if f in symbols and leader in symbols}
    others = [s for s in symbols if s not in PAIRS and s not in PAIRS.values()]
    for k, i in enumerate(range(0, len(others) - 1, 3)):
        links[others[i + 1]] = (others[i], PLANTED_HALF_LIVES_S[k % len(PLANTED_HALF_LIVES_S)])
    return links
CALM_RATE_MULT, BUSY_RATE_MULT = 0.5, 3.0
CALM_MEAN_S, BUSY_MEAN_S = 30.0, 6.0
EXTRA_FILL_PROB = 0.45  # each taker order fills 1 + Geometric(0.45) maker orders
MAX_FILLS_PER_ORDER = 12
SWEEP_TICK_PROB = 0.25  # a further fill walks one tick through the book
QTY_LOG_SIGMA = 2.0  # lognormal trade sizes: heavy tail around the median
MAX_QTY_MEDIANS = 3000.0


class MarketModel:
    """Model prices, the quoted book and taker orders.

    BTC (the leader) is a log random walk; ETH follows it: log ETH = c + beta * log BTC + u with u
    an Ornstein-Uhlenbeck residual, so the pair is cointegrated. Other symbols walk independently.
    Activity switches between a calm and a busy regime (market-wide). Each taker order fills one
    or more maker orders at the same millisecond, walking the book a tick at a time now and then;
    prices sit on the tick grid, sizes on the lot grid with a heavy-tailed lognormal.

    Each symbol quotes a book around its fair price (`QuotedBook`), requoted `quote_rate_per_s`
    times a second on average and whenever a taker order finds the fair price outside it. Fills
    take the best bid or ask in force; a level used up shows the next one first, and the book
    after an order shows what it took, so every trade agrees with the quotes published before it.
    The book draws from its own generator (seeded from `rng`), so the trades' draws stay as they were.
    """

    def __init__(self, specs: Sequence[SymbolSpec], rate_per_s: float, rng: random.Random, start_us: int,
                 quote_rate_per_s: float = DEFAULT_QUOTE_RATE_PER_S) -> None:
        self._rng = rng
        self._book_rng = random.Random(rng.getrandbits(64))
        self._books = {s.symbol: QuotedBook(s, self._book_rng, start_us) for s in specs}
        self._quote_rate_per_s = quote_rate_per_s
        self._specs = {s.symbol: s for s in specs}
        self._level = {s.symbol: math.log(s.start_price) for s in specs}  # log price, or u for followers
        self._shock = {s.symbol: 0.0 for s in specs}
        self._links: dict[str, tuple[str, float]] = {}  # follower -> (leader, intercept)
        self._half_life_s: dict[str, float] = {}
        for follower, (leader, half_life_s) in planted_pairs([s.symbol for s in specs]).items():
            intercept = self._level[follower] - PAIR_BETA * self._level[leader]
            self._links[follower] = (leader, intercept)
            self._half_life_s[follower] = half_life_s
            self._level[follower] = 0.0
        self._leaders = {leader for leader, _ in self._links.values()}
        total_weight = sum(s.activity_weight for s in specs)
        self._share = {s.symbol: s.activity_weight / total_weight for s in specs}
        self._rate_per_s = rate_per_s
        self._busy = False
        self._time_us = start_us
        self._regime_switch_us = start_us
        self._next_order_us: dict[str, float] = {}
        self._next_quote_us: dict[str, float] = {}
        self.restart(start_us)

    def restart(self, now_us: int) -> None:
        """Continue from `now_us` after a pause or a rate change (no backlog of orders)."""
        self._time_us = now_us
        self._regime_switch_us = now_us + self._regime_duration_us()
        self._next_order_us = {sym: now_us + self._order_gap_us(sym) for sym in self._specs}
        self._next_quote_us = {sym: now_us + self._quote_gap_us() for sym in self._specs}

    def set_rate(self, rate_per_s: float, now_us: int) -> None:
        """Change the long-run trades per second across symbols."""
        self._rate_per_s = rate_per_s
        self.restart(now_us)

    def shock(self, symbol: str, pct: float) -> None:
        """Move `symbol`'s price level by `pct` percent, permanently (a shock back undoes it)."""
        if pct <= -100:
            raise ValueError("pct must be above -100")
        self._shock[symbol] += math.log1p(pct / 100.0)

    def fair_price(self, symbol: str) -> float:
        """The model's current price, quote currency (before rounding to the tick)."""
        return math.exp(self._fair_log(symbol))

    def take(self, until_us: int) -> list[Fill]:
        """Advance to `until_us`; return the fills of every taker order in between, by time."""
        return [event for event in self.take_events(until_us) if isinstance(event, Fill)]

    def take_events(self, until_us: int) -> list[Fill | BookQuote]:
        """Advance to `until_us`; return the book updates and fills in between, in the order they happened."""
        events: list[Fill | BookQuote] = []
        while True:
            symbol, order_us = min(self._next_order_us.items(), key=lambda item: item[1])
            quoted, quote_us = min(self._next_quote_us.items(), key=lambda item: item[1])
            next_us = min(order_us, self._regime_switch_us, quote_us)
            if next_us > until_us:
                break
            self._advance_to(int(next_us))
            if self._regime_switch_us <= min(order_us, quote_us):
                self._busy = not self._busy
                self._regime_switch_us = self._time_us + self._regime_duration_us()
                continue
            if quote_us < order_us:
                events.append(self._books[quoted].requote(self._fair_ticks(quoted), int(quote_us)))
                self._next_quote_us[quoted] = quote_us + self._quote_gap_us()
                continue
            events.extend(self._taker_order(symbol, int(order_us)))
            self._next_order_us[symbol] = order_us + self._order_gap_us(symbol)
        self._advance_to(until_us)
        return events

    def _fair_ticks(self, symbol: str) -> float:
        spec = self._specs[symbol]
        return self.fair_price(symbol) * 10**spec.price_decimals / spec.tick_units

    def _quote_gap_us(self) -> float:
        """Exponential wait until a symbol's next scheduled requote."""
        if self._quote_rate_per_s <= 0:
            return math.inf
        return max(1.0, self._book_rng.expovariate(self._quote_rate_per_s) * 1e6)

    def _fair_log(self, symbol: str) -> float:
        link = self._links.get(symbol)
        if link is None:
            return self._level[symbol] + self._shock[symbol]
        leader, intercept = link
        return intercept + PAIR_BETA * self._level[leader] + self._level[symbol] + self._shock[symbol]

    def _advance_to(self, now_us: int) -> None:
        dt_s = (now_us - self._time_us) / 1e6
        if dt_s <= 0:
            return
        self._time_us = now_us
        for symbol in self._level:
            if symbol in self._links:
                decay = math.exp(-math.log(2) / self._half_life_s[symbol] * dt_s)
                noise = PAIR_RESIDUAL_STD * math.sqrt(1.0 - decay * decay)
                self._level[symbol] = self._level[symbol] * decay + noise * self._rng.gauss(0.0, 1.0)
            else:
                vol = LEADER_VOL_PER_SQRT_S if symbol in self._leaders else INDEPENDENT_VOL_PER_SQRT_S
                self._level[symbol] += vol * math.sqrt(dt_s) * self._rng.gauss(0.0, 1.0)

    def _regime_duration_us(self) -> float:
        mean_s = BUSY_MEAN_S if self._busy else CALM_MEAN_S
        return self._rng.expovariate(1.0 / mean_s) * 1e6

    def _order_gap_us(self, symbol: str) -> float:
        """Exponential wait until `symbol`'s next taker order at the current rate."""
        mean_mult = (CALM_MEAN_S * CALM_RATE_MULT + BUSY_MEAN_S * BUSY_RATE_MULT) / (CALM_MEAN_S + BUSY_MEAN_S)
        regime_mult = (BUSY_RATE_MULT if self._busy else CALM_RATE_MULT) / mean_mult
        fills_per_order = 1.0 / (1.0 - EXTRA_FILL_PROB)
        orders_per_s = self._rate_per_s * self._share[symbol] * regime_mult / fills_per_order
        if orders_per_s <= 0:
            return math.inf
        return max(1.0, self._rng.expovariate(orders_per_s) * 1e6)

    def _taker_order(self, symbol: str, time_us: int) -> list[Fill | BookQuote]:
        """One taker order against the book: a requote first if the fair price has left it, the
        fills (walking a level now and then), then the book as the order left it."""
        spec, book = self._specs[symbol], self._books[symbol]
        events: list[Fill | BookQuote] = []
        fair_ticks = self._fair_ticks(symbol)
        if not book.covers(fair_ticks):
            events.append(book.requote(fair_ticks, time_us))
        taker_buys = self._rng.random() < 0.5
        fill_count = 1
        while fill_count < MAX_FILLS_PER_ORDER and self._rng.random() < EXTRA_FILL_PROB:
            fill_count += 1
        at_level = 0  # quantity taken at the current best level
        for n in range(fill_count):
            if n and self._rng.random() < SWEEP_TICK_PROB:
                events.append(book.walk(taker_buys, time_us))
                at_level = 0
            qty_units = lot_qty_units(self._rng, spec, spec.median_qty, QTY_LOG_SIGMA, MAX_QTY_MEDIANS)
            events.append(Fill(symbol, book.touch(taker_buys), qty_units, time_us, None, not taker_buys))
            at_level += qty_units
        events.append(book.take(taker_buys, at_level, time_us))
        return events

