"""Readers for the recorded real Binance sessions (tests/data/, or $BINANCE_DATA_DIR) (test helpers).

The facts tests compare against (how many trades a file holds, its first and last trade, the last
price) are read here with ``json`` and ``csv`` alone, independently of ``pairdesk``'s parsers, so a
test holds on the trimmed copies in the repo and on the full recordings alike.
"""
from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from conftest import binance_file


def recorded_frames(path: Path) -> Iterator[str]:
    """The raw frames of a recording, in order, without the recorder's timestamps.

    hftbacktest files: gzip text, ``<local receive ns> <combined frame>`` per line.
    cryptofeed files: a first line with the URL, then ``<unix seconds>: <frame>`` per line.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as lines:
        for line in lines:
            stamp, _, frame = line.rstrip("\n").partition(" ")
            if frame.startswith("{"):
                yield frame


@lru_cache(maxsize=None)
def _trade_events(relative: str) -> tuple[dict, ...]:
    events = []
    for frame in recorded_frames(binance_file(relative)):
        data = json.loads(frame).get("data", {})
        if data.get("e") in ("trade", "aggTrade"):
            events.append(data)
    return tuple(events)


def trade_events(relative: str) -> list[dict]:
    """The ``data`` of every @trade / @aggTrade frame of a recording, in file order (decoded with json alone)."""
    return list(_trade_events(relative))


def other_frame_count(relative: str) -> int:
    """How many frames of a recording are neither @trade nor @aggTrade (depth, bookTicker, klines...)."""
    return sum(1 for _ in recorded_frames(binance_file(relative))) - len(_trade_events(relative))


def trade_count(*relatives: str) -> int:
    """How many trade frames the recordings hold together."""
    return sum(len(_trade_events(relative)) for relative in relatives)


def first_trade(relative: str) -> dict:
    """The first trade frame's ``data`` (keys e, E, s, t, p, q, T, m...) of a recording."""
    return _trade_events(relative)[0]


def last_price(symbol: str, *relatives: str) -> float:
    """The price of ``symbol``'s last trade (by trade time, then id) across recordings: the last bar's close."""
    trades = [e for relative in relatives for e in _trade_events(relative) if e["s"] == symbol]
    return float(max(trades, key=lambda e: (e["T"], e["t"]))["p"])


def dump_rows(relative: str) -> list[list[str]]:
    """The rows of a Binance CSV dump (no header in the spot dumps), fields as text."""
    return [line.split(",") for line in binance_file(relative).read_text().splitlines() if line]


def book_ticker_events(relative: str) -> list[dict]:
    """The ``data`` of every @bookTicker frame of a recording, in file order (decoded with json alone).

    USD-M frames carry e, u, s, b, B, a, A, T, E; spot frames carry no ``e`` and no time.
    """
    events = []
    for frame in recorded_frames(binance_file(relative)):
        message = json.loads(frame)
        if message.get("stream", "").endswith("@bookTicker"):
            events.append(message["data"])
    return events
