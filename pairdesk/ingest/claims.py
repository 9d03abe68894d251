"""Which watchlist symbols this ingestor follows, when several share one database (``--shards N``).

Every ingestor reads the same watchlist. One of N takes at most ceil(W / N) of its W symbols, each
by owning it (``store.claim_ownership``: an advisory lock per symbol on PostgreSQL), so the split is
even, two ingestors never write one symbol, and a symbol added to the watchlist lands on exactly
one of them (the first with room). A shard that dies frees its symbols; its restart takes them
back, and if it does not come back within TAKEOVER_AFTER_S the others take them beyond their share,
so a symbol is never left unwritten for long. Alone (N = 1) an ingestor takes every symbol it can.
"""
from __future__ import annotations

import logging
import math
import os
import time
import zlib
from collections.abc import Sequence

log = logging.getLogger("data_ingestor")

TAKEOVER_AFTER_S = 20.0  # a symbol nobody writes for this long is taken by a shard beyond its share


class SymbolClaims:
    """The policy of taking symbols, over an ownership claim (``store.claim_ownership``)."""

    def __init__(self, ownership, shards: int = 1, takeover_after_s: float = TAKEOVER_AFTER_S,
                 clock=time.monotonic) -> None:
        self.ownership = ownership
        self.shards = shards
        self.takeover_after_s = takeover_after_s
        self.clock = clock
        self.refused: dict[str, str] = {}  # symbol -> who writes it, for the log and the page
        self._orphaned_since: dict[str, float] = {}

    def share(self, watchlist: Sequence[str]) -> int:
        """How many of the watchlist's symbols this ingestor takes in the ordinary course."""
        return math.ceil(len(watchlist) / self.shards)

    def choose(self, watchlist: Sequence[str], mine: Sequence[str]) -> list[str]:
        """The symbols to follow now: those of ``mine`` still listed, plus what can be taken. Symbols
        no longer listed are released. Blocking (a few queries): run it off the event loop."""
        listed = list(dict.fromkeys(watchlist))
        keep = [s for s in mine if s in listed]
        self.ownership.release_symbols([s for s in mine if s not in listed])
        room = self.share(listed) - len(keep)
        for symbol in self._in_turn([s for s in listed if s not in keep]):
            if room <= 0 and not self._orphaned(symbol):
                continue
            refused = self.ownership.claim_symbols([symbol])
            if refused:
                self.refused.update(refused)
                continue
            self.refused.pop(symbol, None)
            self._orphaned_since.pop(symbol, None)
            keep.append(symbol)
            room -= 1
        return keep

    def _in_turn(self, symbols: list[str]) -> list[str]:
        """``symbols`` in an order of this process's own: shards starting together try different ones first."""
        salt = str(os.getpid()).encode()
        return sorted(symbols, key=lambda s: zlib.crc32(salt + s.encode()))

    def _orphaned(self, symbol: str) -> bool:
        """True once ``symbol`` has had no owner for TAKEOVER_AFTER_S (only a shard at its share asks)."""
        if self.ownership.owner_of(symbol) is not None:
            self._orphaned_since.pop(symbol, None)
            return False
        first = self._orphaned_since.setdefault(symbol, self.clock())
        if self.clock() - first < self.takeover_after_s:
            return False
        log.warning("%s: no ingestor has written it for %.0f s: taking it over beyond this shard's share",
                    symbol, self.clock() - first)
        return True
