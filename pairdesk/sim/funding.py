"""Funding of the perpetuals: a deterministic settled history, the rate announced for the next
settlement, and new settlements as the sim's clock passes 00:00, 08:00 and 16:00 UTC."""
from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import NamedTuple

from pairdesk.sim.fixed import format_fixed, rescale_units
from pairdesk.sim.listings import SymbolSpec

FUNDING_INTERVAL_MS = 8 * 3_600_000  # settlements at 00:00, 08:00, 16:00 UTC (multiples of 8 h since the epoch)
FUNDING_HISTORY_DAYS = 90  # settled history made up before the sim's start
RATE_DECIMALS = 8  # "0.00010000"
MARK_DECIMALS = 8  # REST and markPrice write prices with 8 decimals: "61800.10000000"
BASE_RATE, RATE_STD, MAX_ABS_RATE = 0.0001, 0.00015, 0.003  # per settlement: mostly the 0.01 % floor, both signs
MARK_LOG_STEP_STD = 0.012  # the made-up history's mark walks this much per 8 h


def rate_text(units: int) -> str:
    """A funding rate in units of 1e-8 as Binance writes it: -3210 -> "-0.00003210"."""
    return ("-" if units < 0 else "") + format_fixed(abs(units), RATE_DECIMALS)


def next_funding_ms(now_ms: int) -> int:
    """The first settlement after `now_ms`."""
    return (now_ms // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS


class FundingRow(NamedTuple):
    """One settled funding: rate in 1e-8 units, mark price in 1e-8 units of the quote currency."""

    symbol: str
    funding_time_ms: int
    rate_units: int
    mark_units: int


class FundingHistory:
    """Each symbol's settled fundings, ascending, and the rate announced for its next settlement.

    The history covers FUNDING_HISTORY_DAYS before `start_ms`, drawn from a generator seeded by
    (`seed`, symbol): the same seed and start give the same rows. Later settlements are added by
    `settle_until` with the rate that was announced and the mark price at that moment.
    """

    def __init__(self, specs: Sequence[SymbolSpec], start_ms: int, seed: int | None) -> None:
        self._rows: dict[str, list[FundingRow]] = {}
        self._rngs: dict[str, random.Random] = {}
        self._announced: dict[str, int] = {}
        self._pending_ms = next_funding_ms(start_ms)
        for spec in specs:
            rng = random.Random(f"funding:{seed}:{spec.symbol}") if seed is not None else random.Random()
            self._rngs[spec.symbol] = rng
            self._rows[spec.symbol] = self._made_up_history(spec, rng)
            self._announced[spec.symbol] = self._draw_rate(rng)

    def _made_up_history(self, spec: SymbolSpec, rng: random.Random) -> list[FundingRow]:
        count = FUNDING_HISTORY_DAYS * 86_400_000 // FUNDING_INTERVAL_MS
        log_mark = math.log(spec.start_price)
        rows = []
        for n in range(1, count + 1):  # newest first, walking back in time
            time_ms = self._pending_ms - n * FUNDING_INTERVAL_MS
            ticks = max(1, round(math.exp(log_mark) * 10**spec.price_decimals / spec.tick_units))
            rows.append(FundingRow(spec.symbol, time_ms, self._draw_rate(rng),
                                   rescale_units(ticks * spec.tick_units, spec.price_decimals, MARK_DECIMALS)))
            log_mark += rng.gauss(0.0, MARK_LOG_STEP_STD)
        rows.reverse()
        return rows

    @staticmethod
    def _draw_rate(rng: random.Random) -> int:
        rate = min(max(rng.gauss(BASE_RATE, RATE_STD), -MAX_ABS_RATE), MAX_ABS_RATE)
        return round(rate * 10**RATE_DECIMALS)

    @property
    def symbols(self) -> list[str]:
        """The symbols with funding, in listing order."""
        return list(self._rows)

    def announced_units(self, symbol: str) -> int:
        """The rate announced for `symbol`'s next settlement (markPrice `r`, premiumIndex), 1e-8 units."""
        return self._announced[symbol]

    def last_rate_units(self, symbol: str) -> int:
        """The rate of `symbol`'s last settlement, 1e-8 units."""
        return self._rows[symbol][-1].rate_units

    def settle_until(self, now_ms: int, mark_units: Callable[[str], int]) -> list[FundingRow]:
        """Settle every funding due by `now_ms` at the announced rate and the mark `mark_units(symbol)`
        (1e-8 units); returns the new rows."""
        settled = []
        while self._pending_ms <= now_ms:
            for symbol, rows in self._rows.items():
                row = FundingRow(symbol, self._pending_ms, self._announced[symbol], mark_units(symbol))
                rows.append(row)
                settled.append(row)
                self._announced[symbol] = self._draw_rate(self._rngs[symbol])
            self._pending_ms += FUNDING_INTERVAL_MS
        return settled

    def rows(self, symbol: str | None, start_ms: int | None, end_ms: int | None, limit: int) -> list[FundingRow]:
        """Settled rows of `symbol` (None: every symbol) within [start_ms, end_ms], ascending by time:
        the first `limit` from `start_ms` when it is given, else the last `limit` up to `end_ms`."""
        symbols = [symbol] if symbol is not None else list(self._rows)
        rows = sorted((row for s in symbols for row in self._rows[s]
                       if (start_ms is None or row.funding_time_ms >= start_ms)
                       and (end_ms is None or row.funding_time_ms <= end_ms)),
                      key=lambda row: (row.funding_time_ms, row.symbol))
        return rows[:limit] if start_ms is not None else rows[-limit:]
