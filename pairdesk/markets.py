"""Markets and stream kinds: the names every part of the desk agrees on.

A database holds one market and one stream kind, never a mix (trade ids and aggregate ids are
different sequences; spot and USD-M futures are different books).
"""
from __future__ import annotations

from typing import Final, Literal

Market = Literal["spot", "futures"]
StreamKind = Literal["trade", "aggTrade"]

SPOT: Final = "spot"
FUTURES: Final = "futures"
MARKETS: Final[tuple[str, ...]] = (SPOT, FUTURES)

TRADE: Final = "trade"
AGG_TRADE: Final = "aggTrade"
STREAM_KINDS: Final[tuple[str, ...]] = (TRADE, AGG_TRADE)

# Streams stored beside the trades: top of book (both markets) and mark price with funding (USD-M).
BOOK_TICKER: Final = "bookTicker"
MARK_PRICE: Final = "markPrice@1s"

# The stream a market follows unless told otherwise: futures @trade can only be gap-filled with an
# API key (historicalTrades), so USD-M futures follows aggTrade.
DEFAULT_STREAM: Final[dict[str, str]] = {SPOT: TRADE, FUTURES: AGG_TRADE}

# What a local (loopback) exchange's data is labelled as.
LOCAL_SOURCE: Final = "local"

# The close reason a local exchange gives every connection once its replay has sent the whole recording.
REPLAY_FINISHED: Final = "replay finished"


def check_market(market: str) -> str:
    """``market`` itself, or ValueError naming the valid ones."""
    if market not in MARKETS:
        raise ValueError(f"unknown market {market!r}; expected one of {', '.join(MARKETS)}")
    return market


def check_stream_kind(kind: str) -> str:
    """``kind`` itself, or ValueError naming the valid ones."""
    if kind not in STREAM_KINDS:
        raise ValueError(f"unknown stream kind {kind!r}; expected one of {', '.join(STREAM_KINDS)}")
    return kind
