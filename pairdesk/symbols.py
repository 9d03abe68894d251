"""The symbol rule: what a Binance symbol looks like, written once for every reader and writer.

Symbols are stored upper case, as Binance sends them. Binance's own symbols are 5 to 20 letters
and digits today; the rule allows 2 to 30 so that an upload of a longer (future or test) symbol is
accepted by exactly the same rule that every read applies afterwards.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

MIN_SYMBOL_LENGTH: Final = 2
MAX_SYMBOL_LENGTH: Final = 30
# For places that can only take a pattern (OpenAPI parameters, file-name regexes): case-insensitive.
SYMBOL_PATTERN: Final = f"[A-Za-z0-9]{{{MIN_SYMBOL_LENGTH},{MAX_SYMBOL_LENGTH}}}"
_SYMBOL = re.compile(f"[A-Z0-9]{{{MIN_SYMBOL_LENGTH},{MAX_SYMBOL_LENGTH}}}")


class SymbolError(ValueError):
    """A symbol that cannot be a Binance symbol; the message is one line."""


def is_symbol(text: str) -> bool:
    """True when ``text`` (any case, surrounding blanks ignored) is a well-formed symbol."""
    return isinstance(text, str) and _SYMBOL.fullmatch(text.strip().upper()) is not None


def normalise_symbol(text: object) -> str:
    """``" btcusdt"`` -> ``"BTCUSDT"``; SymbolError for anything that is not 2 to 30 letters and digits."""
    if not isinstance(text, str):
        raise SymbolError(f"a symbol is text, got {type(text).__name__}")
    symbol = text.strip().upper()
    if not _SYMBOL.fullmatch(symbol):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise SymbolError(f"{shown!r} is not a symbol: use {MIN_SYMBOL_LENGTH} to {MAX_SYMBOL_LENGTH} letters "
                          f"and digits, e.g. BTCUSDT")
    return symbol


def parse_symbol_list(text: str | Iterable[str]) -> list[str]:
    """``"btcusdt, ethusdt,BTCUSDT"`` (or a list) -> ``["BTCUSDT", "ETHUSDT"]``: normalised, duplicates
    dropped, order kept; empty items are ignored. SymbolError on the first malformed one."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[str] = []
    for item in items:
        if isinstance(item, str) and not item.strip():
            continue
        symbol = normalise_symbol(item)
        if symbol not in out:
            out.append(symbol)
    return out
