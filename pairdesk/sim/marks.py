"""Mark prices of the perpetuals, once a second of the sim's clock, with the funding they announce."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from pairdesk.sim.fixed import format_fixed, rescale_units
from pairdesk.sim.funding import MARK_DECIMALS, FundingHistory, next_funding_ms, rate_text
from pairdesk.sim.listings import SymbolSpec
from pairdesk.sim.quotes import MarkUpdate

MARK_INTERVAL_MS = 1000  # @markPrice@1s
MAX_CATCH_UP_SECONDS = 5  # after a pause or a replay jump, only the latest few seconds are sent

ReferencePrice = Callable[[str], int]  # symbol -> price units at the spec's decimals, on the tick grid


class MarkPricer:
    """Turns each symbol's reference price (the sim's current price) into `markPriceUpdate`s.

    The mark is the reference price (on the tick grid); the index sits below it by the announced
    funding rate (a premium of the perpetual over spot, the sign of the rate), and the estimated
    settle price equals the index. Prices are written with 8 decimals, as Binance does. As the
    clock passes a settlement the funding history settles at the mark of that moment.
    """

    def __init__(self, specs: Sequence[SymbolSpec], funding: FundingHistory, start_ms: int) -> None:
        self._specs = {spec.symbol: spec for spec in specs}
        self.funding = funding
        self._next_ms = (start_ms // MARK_INTERVAL_MS + 1) * MARK_INTERVAL_MS

    def due(self, now_ms: int, reference: ReferencePrice) -> list[MarkUpdate]:
        """The updates of every whole second passed since the last call (at most the latest few)."""
        if now_ms < self._next_ms:
            return []
        last = now_ms // MARK_INTERVAL_MS * MARK_INTERVAL_MS
        first = max(self._next_ms, last - (MAX_CATCH_UP_SECONDS - 1) * MARK_INTERVAL_MS)
        self._next_ms = last + MARK_INTERVAL_MS
        updates = []
        for second_ms in range(first, last + 1, MARK_INTERVAL_MS):
            self.funding.settle_until(second_ms, lambda symbol: self._mark_units(symbol, reference))
            updates.extend(self.update(symbol, second_ms, reference) for symbol in self._specs)
        return updates

    def update(self, symbol: str, at_ms: int, reference: ReferencePrice) -> MarkUpdate:
        """`symbol`'s mark, index and funding at `at_ms` (also what premiumIndex answers)."""
        mark_units = self._mark_units(symbol, reference)
        rate_units = self.funding.announced_units(symbol)
        index_units = round(mark_units * (1 - rate_units / 10**8))
        index = format_fixed(index_units, MARK_DECIMALS)
        return MarkUpdate(symbol, at_ms, format_fixed(mark_units, MARK_DECIMALS), index, index,
                          rate_text(rate_units), next_funding_ms(at_ms))

    def _mark_units(self, symbol: str, reference: ReferencePrice) -> int:
        """The mark in 1e-8 units of the quote currency."""
        return rescale_units(reference(symbol), self._specs[symbol].price_decimals, MARK_DECIMALS)
