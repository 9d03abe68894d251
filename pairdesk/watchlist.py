"""The watchlist rule: which lists of symbols the ingestor can be told to follow.

The dashboard's text box and ``PUT /api/watchlist`` both check a list here before it is stored,
then say per symbol what becomes of it (``symbol_states``: followed, pending, or refused when the
exchange does not list it as trading); the ingestor follows what is stored (a symbol that does not
trade is refused by it too, at ``exchangeInfo``, and recorded with the reason).
"""
from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
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


# --------------------------------------------------------------------------- each symbol's state

FOLLOWED: Final = "followed"  # the ingestor follows it (it writes the symbol's feed status)
PENDING: Final = "pending"  # accepted; the running ingestor has not picked it up yet


def refused_state(market: str) -> str:
    """The state of a symbol the exchange does not list as trading."""
    return f"refused: not trading on {market}"


def symbol_states(symbols: Iterable[str], market: str, followed: Collection[str],
                  listed: Collection[str] | None = None, refused: Collection[str] = ()) -> dict[str, str]:
    """Per symbol, what becomes of it: "followed" when the ingestor follows it; "refused: not trading
    on <market>" when the exchange's listing (``listed``, None: unknown, e.g. the exchange was not
    reachable) lacks it, or, with no listing, when the ingestor refused it (``refused``); otherwise
    "pending". An empty listing tells nothing (a mirror that lists nothing refuses nothing)."""
    states: dict[str, str] = {}
    for symbol in symbols:
        if symbol in followed:
            states[symbol] = FOLLOWED
        elif (symbol not in listed) if listed else (symbol in refused):
            states[symbol] = refused_state(market)
        else:
            states[symbol] = PENDING
    return states


def accepted(states: Mapping[str, str]) -> list[str]:
    """The symbols of ``states`` that are not refused, in order."""
    return [symbol for symbol, state in states.items() if not state.startswith("refused")]
