"""Models of the ingestor's watchlist; a new list is checked by ``pairdesk.watchlist.check_watchlist``."""
from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from pairdesk.api.schemas.base import Model
from pairdesk.symbols import MAX_SYMBOL_LENGTH, MIN_SYMBOL_LENGTH, normalise_symbol
from pairdesk.watchlist import MAX_WATCHLIST, check_watchlist

STATES_DOC = ('per symbol: "followed" (the ingestor follows it), "pending" (accepted; the running ingestor has '
              'not picked it up yet, or the exchange could not be asked) or "refused: not trading on <market>"')


class WatchlistResponse(Model):
    symbols: list[str]
    updated_ms: int | None = Field(description="when the list was last written (null: never)")
    states: dict[str, str] = Field(description=STATES_DOC + "; with the symbols the ingestor refused lately")


# Each item through the symbol rule (so an error names its index), the list through the watchlist rule.
WatchedSymbol = Annotated[str, AfterValidator(normalise_symbol)]


class WatchlistUpdate(Model):
    symbols: Annotated[list[WatchedSymbol], AfterValidator(check_watchlist)] = Field(
        min_length=1, max_length=MAX_WATCHLIST,
        description=f"1 to {MAX_WATCHLIST} symbols of {MIN_SYMBOL_LENGTH} to {MAX_SYMBOL_LENGTH} letters and "
                    "digits; upper-cased, duplicates dropped",
        examples=[["BTCUSDT", "ETHUSDT"]])


class WatchlistChange(WatchlistResponse):
    added: list[str]
    removed: list[str]
    refused: list[str] = Field(description="asked for, but not stored: the exchange does not list them as trading")
