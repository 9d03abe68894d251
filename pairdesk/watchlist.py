"""The watchlist rule: which lists of symbols the ingestor can be told to follow.

The dashboard's text box and ``PUT /api/watchlist`` both check a list here before it is stored;
the ingestor follows what is stored (a symbol that does not trade is refused by it, at
``exchangeInfo``, and reported in its status).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from pairdesk.symbols import SymbolError, normalise_symbol

# Binance allows 1,024 streams per connection; the ingestor follows each symbol on one stream.
MAX_WATCHLIST: Final = 1024


class WatchlistError(ValueError):
    """A watchlist that cannot be followed; the message is one line."""


def check_watchlist(symbols: Iterable[str]) -> list[str]:
    """The list normalised (upper case, duplicates dropped, first kept), or WatchlistError unless it
    holds 1 to MAX_WATCHLIST well-formed symbols."""
    out: list[str] = []
    for item in symbols:
        try:
            symbol = normalise_symbol(item)
        except SymbolError as exc:
            raise WatchlistError(str(exc)) from None
        if symbol not in out:
            out.append(symbol)
    if not out:
        raise WatchlistError("give at least one symbol, e.g. BTCUSDT, ETHUSDT")
    if len(out) > MAX_WATCHLIST:
        raise WatchlistError(f"at most {MAX_WATCHLIST} symbols, got {len(out)}")
    return out


def parse_watchlist(text: str) -> list[str]:
    """Symbols separated by commas, spaces, semicolons or new lines, checked by ``check_watchlist``."""
    return check_watchlist(s for s in re.split(r"[\s,;]+", text or "") if s)
