"""Fixed-point decimals: Binance sends prices and quantities as fixed-width decimal strings.

The sim keeps every price and quantity as an integer count of 10**-decimals ("units") and
renders it back exactly, trailing zeros included.
"""
from __future__ import annotations

from collections.abc import Iterable


def format_fixed(units: int, decimals: int) -> str:
    """Render an integer count of 10**-decimals as Binance does: 6180030, 2 -> "61800.30"."""
    if decimals == 0:
        return str(units)
    whole, frac = divmod(units, 10**decimals)
    return f"{whole}.{frac:0{decimals}d}"


def parse_fixed(text: str) -> tuple[int, int]:
    """Inverse of `format_fixed`: "0.00600000" -> (600000, 8)."""
    whole, _, frac = text.partition(".")
    return int(whole + frac), len(frac)


def rescale_units(units: int, decimals: int, to_decimals: int) -> int:
    """Express units of 10**-decimals in units of 10**-to_decimals (exact when widening)."""
    if to_decimals >= decimals:
        return units * 10 ** (to_decimals - decimals)
    return units // 10 ** (decimals - to_decimals)



def units_at(text: str, decimals: int) -> int:
    """Decimal text as units of 10**-decimals: "61800.3", 2 -> 6180030."""
    units, text_decimals = parse_fixed(text)
    return rescale_units(units, text_decimals, decimals)


def exact_decimals(values: Iterable[float], at_least: int, at_most: int = 8) -> int:
    """The fewest decimals (at least `at_least`, at most `at_most`) that write every value exactly.

    Stored and parsed prices are floats; this picks one width for a whole symbol so that no value
    is truncated when it becomes text again (`at_most` when none is exact).
    """
    decimals = at_least
    for value in values:
        while decimals < at_most and float(f"{value:.{decimals}f}") != value:
            decimals += 1
    return decimals
