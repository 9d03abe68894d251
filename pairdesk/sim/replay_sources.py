"""Replay sources read as stream events: recordings of frames, Binance dumps, this product's databases.

Every source becomes `trade` / `aggTrade` events with the stream keys (``e``, ``E``, ``s``, ``t``
or ``a``, ``p``, ``q``, ``T``, ``m``; aggregates also ``f``/``l``; spot also ``M``). Dumps are read by
`pairdesk.history` (the product's one parser of Binance history files) and databases through
`pairdesk.history.replay_source` (the store's readers): the sim parses only recorded frames itself.
"""
from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from pairdesk import history
from pairdesk.history import HistoryImportError, replay_source
from pairdesk.markets import AGG_TRADE, FUTURES, SPOT, TRADE
from pairdesk.sim.config import SimConfigError
from pairdesk.sim.fixed import exact_decimals
from pairdesk.sim.listings import make_spec

SQLITE_MAGIC = b"SQLite format 3\x00"
DUMP_SUFFIXES = (".csv", ".zip")
DUMP_CHUNK_TRADES = 10_000
DATABASE, DUMP, RECORDING = "database", "dump", "recording"

TradeRow = tuple[str, int, int, float, float, bool]  # as ParsedHistory.trade_chunks and replay_source yield


def iter_replay_events(path: Path | str) -> Iterator[dict[str, Any]]:
    """Trade / aggTrade events of any replay source, as stream events.

    Sources: recordings (see `iter_recorded_events`), a tick database of this product, or Binance
    dump files (``BTCUSDT-trades-2024-08-09.csv`` or ``.zip``: every layout `pairdesk.history`
    accepts: spot or futures, trades or aggTrades, with or without a header, ms or µs times).
    """
    kind = source_kind(path)
    if kind == DATABASE:
        return _database_events(path)
    if kind == DUMP:
        return _dump_events(path)
    return iter_recorded_events(path)


def source_kind(path: Path | str) -> str:
    """What a replay source is: DATABASE (this product's, a file or a PostgreSQL URL), DUMP (Binance
    files) or RECORDING (frames)."""
    if isinstance(path, str):  # a URL (replay_source.source_path keeps only those as strings)
        return DATABASE
    try:
        with open(path, "rb") as probe:
            head = probe.read(16)
    except OSError as exc:
        raise SimConfigError(f"replay file {path} not found or unreadable ({exc.strerror})") from None
    if head == SQLITE_MAGIC:
        return DATABASE
    return DUMP if path.suffix.lower() in DUMP_SUFFIXES else RECORDING


def iter_recorded_events(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the `trade` / `aggTrade` events of a recording, in file order.

    Understands hftbacktest logs (gzip, `<local ns> <frame>` per line) and cryptofeed logs
    (`<unix s>: <frame>`, first line the URL); frames may be combined or raw. Other streams
    (depth, bookTicker, kline) are skipped.
    """
    with open(path, "rb") as probe:
        is_gzip = probe.read(2) == b"\x1f\x8b"
    opener: Callable[..., Any] = gzip.open if is_gzip else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for line_number, line in enumerate(lines, start=1):
            if '"e":"trade"' not in line and '"e":"aggTrade"' not in line:
                continue
            try:
                frame = orjson.loads(line[line.index("{"):])
            except orjson.JSONDecodeError:
                raise SimConfigError(f"{path}:{line_number}: not a JSON frame; is this a recording?") from None
            event = frame.get("data", frame)
            if event.get("e") in (TRADE, AGG_TRADE):
                yield event



def _database_events(path: Path) -> Iterator[dict[str, Any]]:
    try:
        source = replay_source.read_stored_trades(path)
    except HistoryImportError as exc:
        raise SimConfigError(f"{path}: not a tick database this sim can replay ({exc})") from None
    return events_from_trade_rows(source.market, source.stream, source)


def _dump_events(path: Path) -> Iterator[dict[str, Any]]:
    """A dump streamed through `pairdesk.history` (bounded memory), with the numbers as written and an
    aggregate's first and last trade ids, as Binance's stream would carry them."""
    try:
        for chunk in history.iter_history(path, for_replay=True):
            if chunk.format.kind not in history.TRADE_KINDS or chunk.format.market is None:
                raise SimConfigError(f"{path} holds {chunk.format.name}, not trades; replay a trades or aggTrades "
                                     f"dump")
            yield from _chunk_events(chunk)
    except HistoryImportError as exc:
        raise SimConfigError(f"{path}: {exc}") from None


def _chunk_events(chunk: history.TradeChunk) -> Iterator[dict[str, Any]]:
    market, kind = chunk.format.market, chunk.format.kind
    id_key = "t" if kind == TRADE else "a"
    ids, times, makers = chunk.ids.tolist(), chunk.times_ms.tolist(), chunk.makers.tolist()
    firsts = chunk.first_ids.tolist() if kind == AGG_TRADE else None
    lasts = chunk.last_ids.tolist() if kind == AGG_TRADE else None
    for i, trade_id in enumerate(ids):
        event: dict[str, Any] = {"e": kind, "E": times[i], "s": chunk.symbol, id_key: trade_id,
                                 "p": chunk.price_texts[i], "q": chunk.qty_texts[i], "T": times[i],
                                 "m": bool(makers[i])}
        if firsts is not None:
            event["f"], event["l"] = firsts[i], lasts[i]
        if market == SPOT:
            event["M"] = True
        yield event


def events_from_trade_rows(market: str, kind: str, rows: Iterable[TradeRow]) -> Iterator[dict[str, Any]]:
    """Parsed or stored trades (prices and quantities as floats) as the stream events Binance would send.

    Each symbol's prices and quantities are written with one width: the listing's decimals, widened
    until every value is exact (at most 8). An aggregate covers exactly one trade (``f`` = ``l`` = its
    id): a database does not keep an aggregate's first and last trade ids (dumps do: `_dump_events`).
    """
    by_symbol: dict[str, list[TradeRow]] = {}
    for row in rows:
        by_symbol.setdefault(row[0], []).append(row)
    id_key = "t" if kind == TRADE else "a"
    for symbol, symbol_rows in by_symbol.items():
        spec = make_spec(market, symbol)
        price_decimals = exact_decimals((row[3] for row in symbol_rows), spec.price_decimals)
        qty_decimals = exact_decimals((row[4] for row in symbol_rows), spec.qty_decimals)
        for _, trade_id, ts_ms, price, qty, maker in symbol_rows:
            event: dict[str, Any] = {"e": kind, "E": ts_ms, "s": symbol, id_key: trade_id,
                                     "p": f"{price:.{price_decimals}f}", "q": f"{qty:.{qty_decimals}f}",
                                     "T": ts_ms, "m": bool(maker)}
            if kind == AGG_TRADE:
                event["f"] = event["l"] = trade_id
            if market == SPOT:
                event["M"] = True
            yield event


def replay_market(paths: Sequence[Path]) -> str:
    """The market the replay sources hold (from their first event)."""
    for path in paths:
        for event in iter_replay_events(replay_source.source_path(path)):
            return recorded_market(event)
    raise SimConfigError("the replay files hold no @trade or @aggTrade events")


def recorded_market(event: dict[str, Any]) -> str:
    """Which market a recorded event came from: futures events carry "X" or lack "M"."""
    return FUTURES if "X" in event or "M" not in event else SPOT

