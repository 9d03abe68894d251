"""Sharded ingestion: which of N ingestors follows a symbol.

Shard ``k`` of ``n`` follows the symbols whose CRC-32 (of the upper-case name) is ``k`` modulo ``n``.
The rule depends on nothing but the symbol, so every process computes the same split without
talking to the others, a symbol added to the watchlist lands on exactly one shard, and removing
one moves nothing else. The split is even only on average: with few symbols, some shards may
follow none (they stay up, waiting for a symbol of theirs).
"""
from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based); ``Shard(0, 1)`` follows every symbol."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index}/{self.count}: expected K/N with 0 <= K < N")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"K/N"`` (e.g. ``"2/4"``); ValueError with a one-line message otherwise."""
        try:
            index, count = (int(part) for part in text.split("/"))
        except ValueError:
            raise ValueError(f"shard {text!r}: expected K/N, e.g. 0/3") from None
        return cls(index, count)

    @property
    def sharded(self) -> bool:
        return self.count > 1

    def follows(self, symbol: str) -> bool:
        return shard_of(symbol, self.count) == self.index

    def share(self, symbols: Iterable[str]) -> list[str]:
        """The symbols of ``symbols`` this shard follows, in their order."""
        return [s for s in symbols if self.follows(s)]

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(symbol: str, count: int) -> int:
    """The shard (0..count-1) that follows ``symbol``."""
    return zlib.crc32(symbol.upper().encode()) % count
