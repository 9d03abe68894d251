"""Which watchlist symbols this ingestor follows, when several share one database (PostgreSQL).

Every ingestor reads the same watchlist and writes a symbol only while it owns it
(``store.claim_ownership``: an advisory lock per symbol), so two never write one symbol.
- One of ``--shards N`` takes at most ceil(W / N) of the W symbols: an even split.
- A lone ingestor (N = 1) takes any symbol it can: its command line's, and those added to the
  watchlist later (the API, the page). Several lone ingestors with their own ``--symbols`` share a
  database side by side.
- A symbol added to the watchlist lands on exactly one ingestor: the first with room to claim it.
- A symbol first seen written by another ingestor stays that one's: when it dies, its restart
  takes its symbols back. Only a symbol nobody has written for TAKEOVER_AFTER_S is taken over by
  another (beyond its share), so a symbol is never left unwritten for long, and a quick restart
  never finds its symbols gone.
"""
from __future__ import annotations

import logging
import math
import os
import time
import zlib
from collections.abc import Sequence

from pairdesk.store import is_url

log = logging.getLogger("data_ingestor")

TAKEOVER_AFTER_S = 20.0  # a symbol nobody writes for this long is taken by a shard beyond its share


def shards_problem(shards: int, db) -> str | None:
    """Why ``--shards N`` cannot work on ``db`` (None: it can): the one rule for the ingestor and run_all.py."""
    if shards < 1:
        return "--shards must be at least 1"
    if shards > 1 and not is_url(db):
        return "--shards needs a PostgreSQL database (--db postgresql://...): a SQLite file has one writer"
    return None


class SymbolClaims:
    """The policy of taking symbols, over an ownership claim (``store.claim_ownership``)."""

    def __init__(self, ownership, shards: int = 1, takeover_after_s: float = TAKEOVER_AFTER_S,
                 clock=time.monotonic) -> None:
        self.ownership = ownership
        self.shards = shards
        self.takeover_after_s = takeover_after_s
        self.clock = clock
        self._foreign: set[str] = set()  # symbols first seen written by another ingestor
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
        candidates = [s for s in listed if s not in keep]
        waiting = [s for s in candidates if room <= 0 or s in self._foreign]  # taken only if orphaned
        owned = self.ownership.owned_symbols() if waiting else set()  # one query, whatever the watchlist
        for symbol in self._in_turn(candidates):
            if (room <= 0 or symbol in self._foreign) and not self._orphaned(symbol, owned):
                continue
            refused = self.ownership.claim_symbols([symbol])
            if refused:
                if symbol not in self._foreign:
                    log.info("%s is written by %s; not here", symbol, refused[symbol])
                    self._foreign.add(symbol)
                continue
            self._foreign.discard(symbol)
            self._orphaned_since.pop(symbol, None)
            keep.append(symbol)
            room -= 1
        return keep

    def _in_turn(self, symbols: list[str]) -> list[str]:
        """``symbols`` in an order of this process's own: shards starting together try different ones first."""
        salt = str(os.getpid()).encode()
        return sorted(symbols, key=lambda s: zlib.crc32(salt + s.encode()))

    def _orphaned(self, symbol: str, owned: set[str]) -> bool:
        """True once ``symbol`` has had no owner (is not in ``owned``) for TAKEOVER_AFTER_S."""
        if symbol in owned:
            self._orphaned_since.pop(symbol, None)
            return False
        first = self._orphaned_since.setdefault(symbol, self.clock())
        if self.clock() - first < self.takeover_after_s:
            return False
        log.warning("%s: no ingestor has written it for %.0f s: taking it over", symbol, self.clock() - first)
        return True
