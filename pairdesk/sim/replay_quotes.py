"""Replayed top of book: the `@bookTicker` frames of recordings, timed on the replay clock.

Only recordings of frames hold quotes. Binance trade dumps and this product's tick databases have
none, so a replay of those sends no bookTicker frames at all: quotes are never made up.

Futures frames carry `T` and `E` and replay at `T`, with both unchanged (replayed trades keep
their recorded times too). Spot frames carry no time: they replay at the recorder's receive
stamp moved onto the exchange's clock by the file's median `E` - receive time of its trades (the
hftbacktest recorder runs ~1.3 s behind), so they keep their place beside the trades and the
recording's pace. Values (u, b, B, a, A) stay exactly as recorded.
"""
from __future__ import annotations

import gzip
import statistics
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from pairdesk.history import replay_source
from pairdesk.markets import AGG_TRADE, FUTURES, SPOT, TRADE
from pairdesk.sim.config import SimConfigError
from pairdesk.sim.quotes import BookQuote
from pairdesk.sim.replay_sources import RECORDING, source_kind

BOOK_KEYS = ("u", "s", "b", "B", "a", "A")


def recorded_quotes(paths: Sequence[Path], market: str) -> list[BookQuote]:
    """The bookTicker updates of every recording among `paths`, ordered by replay time; an update
    recorded twice (overlapping files) is kept once."""
    by_symbol: dict[str, dict[int, BookQuote]] = {}
    for path in paths:
        if source_kind(replay_source.source_path(path)) != RECORDING:
            continue
        for quote in _file_quotes(Path(path), market):
            by_symbol.setdefault(quote.symbol, {}).setdefault(quote.update_id, quote)
    return sorted((q for quotes in by_symbol.values() for q in quotes.values()), key=lambda q: q.time_us)


def _file_quotes(path: Path, market: str) -> list[BookQuote]:
    offsets_us: list[int] = []  # E - receive stamp of the file's trades
    spot_frames: list[tuple[int | None, dict[str, Any]]] = []
    quotes: list[BookQuote] = []
    for line_number, stamp_us, event in _frames(path):
        kind = event.get("e")
        if kind in (TRADE, AGG_TRADE):
            if stamp_us is not None and type(event.get("E")) is int:
                offsets_us.append(event["E"] * 1000 - stamp_us)
            continue
        if kind not in ("bookTicker", None) or "u" not in event:
            continue
        if (FUTURES if kind else SPOT) != market:
            raise SimConfigError(f"{path} holds {FUTURES if kind else SPOT} bookTicker frames; "
                                 f"run with --market {FUTURES if kind else SPOT}")
        if type(event["u"]) is not int or not all(type(event.get(k)) is str for k in BOOK_KEYS[1:]):
            raise SimConfigError(f"{path}:{line_number}: a bookTicker frame without u, s, b, B, a, A")
        if kind:
            quotes.append(_quote(event, event["T"] * 1000, event["E"] * 1000))
        else:
            spot_frames.append((stamp_us, event))
    if spot_frames:
        offset_us = round(statistics.median(offsets_us)) if offsets_us else 0
        previous_us = 0
        for stamp_us, event in spot_frames:
            previous_us = previous_us if stamp_us is None else stamp_us + offset_us
            quotes.append(_quote(event, previous_us, None))
    return quotes


def _quote(event: dict[str, Any], time_us: int, event_us: int | None) -> BookQuote:
    return BookQuote(event["s"], event["u"], event["b"], event["B"], event["a"], event["A"], time_us, event_us)


def _frames(path: Path) -> Iterator[tuple[int, int | None, dict[str, Any]]]:
    """(line number, receive stamp in µs or None, event) of the lines that may be quotes or trades."""
    with open(path, "rb") as probe:
        is_gzip = probe.read(2) == b"\x1f\x8b"
    opener: Callable[..., Any] = gzip.open if is_gzip else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for line_number, line in enumerate(lines, start=1):
            if '"A":"' not in line and '"e":"trade"' not in line and '"e":"aggTrade"' not in line:
                continue
            start = line.find("{")
            try:
                frame = orjson.loads(line[start:])
            except orjson.JSONDecodeError:
                raise SimConfigError(f"{path}:{line_number}: not a JSON frame; is this a recording?") from None
            event = frame.get("data", frame) if isinstance(frame, dict) else None
            if isinstance(event, dict):
                yield line_number, _stamp_us(line[:start]), event


def _stamp_us(text: str) -> int | None:
    """The recorder's receive stamp (hftbacktest: ns or µs; cryptofeed: seconds) in µs."""
    text = text.strip().rstrip(":")
    if text.isdigit():
        value = int(text)
        return value // 1000 if value >= 10**17 else value if value >= 10**14 else value * 1000
    try:
        return int(float(text) * 1e6)
    except ValueError:
        return None
