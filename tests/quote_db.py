"""A USD-M futures database with real quotes (test helper): the recorded BTCUSDT / ETHUSDT futures
trades and ``@bookTicker`` frames of 2024-08-08 23:59:16 -> 2024-08-09 00:00:01 UTC, the quotes
folded into one-second bars by ``pairdesk.quote_bars.QuoteBarBuilder`` (with a simulated BTC
disconnect: its frames in QUOTE_GAP are dropped, so a quote gap is recorded as the ingestor would),
mark prices at each second's mid and settled funding every 8 hours for three days (synthetic: the
recordings hold no @markPrice frames), all written with the store's own writers into a real file.
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from conftest import binance_file
from pairdesk import binance, store
from pairdesk.quote_bars import QuoteBarBuilder
from recordings import recorded_frames

SYMBOLS = ("BTCUSDT", "ETHUSDT")
PAIR = "BTCUSDT,ETHUSDT"
MIDNIGHT_MS = 1_723_161_600_000  # 2024-08-09T00:00:00Z: a settlement, at the end of the recording
EIGHT_HOURS_MS = 8 * 3_600_000
QUOTE_GAP = (1_723_161_580_000, 1_723_161_585_000)  # BTC's simulated disconnect: 23:59:40 -> 23:59:45 UTC
RATES = {"BTCUSDT": 0.0001, "ETHUSDT": -0.00005}  # the rate of the coming settlement in every mark second
SETTLED_RATES = {"BTCUSDT": (0.0001, 0.00008, 0.00012), "ETHUSDT": (-0.00002, 0.00003, -0.00004)}


def usdm(symbol: str) -> str:
    return f"hftbacktest/usdm/{symbol.lower()}_20240808.gz"


@cache
def recorded_quote_seconds(symbol: str, with_gap: bool = True) -> tuple[tuple, tuple]:
    """(quote bars, quote gaps) of ``symbol``'s recorded bookTicker frames folded as the ingestor folds
    them: BTC's frames in QUOTE_GAP dropped and the feed interrupted there (``with_gap``)."""
    builder, bars, gaps = QuoteBarBuilder(symbol), [], []
    interrupted = False
    last_t = 0
    for frame in recorded_frames(binance_file(usdm(symbol))):
        data = json.loads(frame)["data"]
        if data.get("e") != "bookTicker":
            continue
        t = data["T"]
        if with_gap and symbol == "BTCUSDT" and QUOTE_GAP[0] <= t < QUOTE_GAP[1]:
            if not interrupted:
                builder.interrupt(QUOTE_GAP[0], "disconnect")
                interrupted = True
            continue
        closed, gap = builder.update(data["u"], t, float(data["b"]), float(data["B"]), float(data["a"]),
                                     float(data["A"]))
        bars += closed
        if gap is not None:
            gaps.append(gap)
        last_t = t
    bars += builder.close_before(last_t + 1000)
    return tuple(bars), tuple(gaps)


def recorded_trades() -> list[binance.Trade]:
    trades = []
    for symbol in SYMBOLS:
        for frame in recorded_frames(binance_file(usdm(symbol))):
            parsed = binance.parse_message(frame, "trade")
            if isinstance(parsed, binance.Trade):
                trades.append(parsed)
    return trades


def mark_rows(symbol: str) -> list[tuple]:
    """One mark second per quote second: the mark at the second's closing mid, the coming settlement
    at midnight until midnight, then 8 hours later."""
    rows = []
    for bar in recorded_quote_seconds(symbol)[0]:
        mid = (bar.bid + bar.ask) / 2
        next_ms = MIDNIGHT_MS if bar.ts_ms < MIDNIGHT_MS else MIDNIGHT_MS + EIGHT_HOURS_MS
        rows.append((symbol, bar.ts_ms, mid, mid - 1.0, RATES[symbol], next_ms))
    return rows


def settled_rows(symbol: str) -> list[tuple]:
    """Three settlements before midnight (16:00 UTC on the 7th, 00:00 and 08:00 on the 8th), each with
    its mark price."""
    first_mark = mark_rows(symbol)[0][2]
    return [(symbol, MIDNIGHT_MS - (3 - i) * EIGHT_HOURS_MS - EIGHT_HOURS_MS, rate, first_mark)
            for i, rate in enumerate(SETTLED_RATES[symbol])]


def build_quote_db(path: Path) -> Path:
    """The futures database with trades, quotes, a quote gap, marks and settled funding."""
    store.write_trades(path, recorded_trades(), market="futures", stream="trade")
    conn = store.open_writer(path, "futures", "trade")
    try:
        with store.atomic(conn):
            for symbol in SYMBOLS:
                bars, gaps = recorded_quote_seconds(symbol)
                store.store_quote_bars(conn, bars)
                for gap in gaps:
                    store.record_quote_gap(conn, *gap)
                store.store_marks(conn, mark_rows(symbol))
                store.store_funding(conn, settled_rows(symbol))
    finally:
        conn.close()
    return path


def build_trades_only_db(path: Path) -> Path:
    """The same recorded futures trades without any quote, mark or funding (an import of trades only)."""
    store.write_trades(path, recorded_trades(), market="futures", stream="trade")
    return path
