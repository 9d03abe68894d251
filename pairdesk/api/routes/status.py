"""``/api/status`` and ``/api/symbols``: what the database holds and how the feeds are doing
(each feed's light is ``pairdesk.health``'s, the rule the dashboard shows too)."""
from __future__ import annotations

import math
import sqlite3
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter

from pairdesk import health, store
from pairdesk.api.convert import finite, records
from pairdesk.api.deps import DatabaseDep, Reader
from pairdesk.api.schemas.status import StatusResponse, SymbolsResponse

router = APIRouter(tags=["status"])

COUNTERS = ("messages", "trades", "bad_frames", "reconnects", "open_gaps")


def _age(now_ms: int, then_ms: Any) -> int | None:
    return None if then_ms is None else now_ms - int(then_ms)


def _without_nan(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The row with NaN (what pandas reads NULL numbers as) back to None."""
    if row is None:
        return None
    return {key: (None if isinstance(value, float) and math.isnan(value) else value) for key, value in row.items()}


def feed_record(light: health.FeedHealth, row: Mapping[str, Any] | None, now_ms: int) -> dict[str, Any]:
    """A FeedStatus: the light, then what the row (None: the symbol has none) says of the feed."""
    record = {"symbol": light.symbol, "verdict": light.colour, "label": light.label, "reason": light.reason}
    if row is None:
        return record
    last_trade, heartbeat = row.get("last_trade_ms"), row.get("updated_ms")
    return {**record, "state": row.get("state"), "transport": row.get("transport"),
            "last_trade_ms": last_trade, "last_trade_age_ms": _age(now_ms, last_trade),
            "last_message_ms": row.get("last_message_ms"), "heartbeat_ms": heartbeat,
            "heartbeat_age_ms": _age(now_ms, heartbeat), **{name: int(row.get(name) or 0) for name in COUNTERS},
            "message_rate": finite(row.get("message_rate")), "detail": row.get("detail") or ""}


def feed_status(symbol: str, row: Mapping[str, Any] | None, now_ms: int) -> dict[str, Any]:
    """A feed status row (None: the symbol has none) with its light, ``pairdesk.health.feed_health``'s."""
    row = _without_nan(row)
    return feed_record(health.feed_health(symbol, row, now_ms), row, now_ms)


def symbol_infos(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [{"symbol": symbol, "bars": bars, "trades": trades, "first_ms": first, "last_ms": last}
            for symbol, bars, trades, first, last in store.read_symbol_extents(conn)]


@router.get("/api/status", response_model=StatusResponse, summary="Database and feed status")
def get_status(conn: Reader, db: DatabaseDep) -> dict[str, Any]:
    """What the database holds (market, stream kind, source, schema version), each symbol's feed
    with a green / amber / red verdict, open gaps and trade counts."""
    meta = store.read_metadata(conn)
    now = store.now_ms()
    symbols = symbol_infos(conn)
    status_rows = {row["symbol"]: _without_nan(row) for row in records(store.read_feed_status(conn))}
    lights = sorted(health.feeds_health(status_rows.values(), [s["symbol"] for s in symbols], now),
                    key=lambda light: light.symbol)
    gaps = store.read_gaps(conn, open_only=True)
    by_symbol = {str(k): int(v) for k, v in gaps.groupby("symbol").size().items()} if len(gaps) else {}
    source = meta.get("source")
    return {
        "database": str(db.path), "market": meta.get("market"), "stream": meta.get("stream"), "source": source,
        "source_label": "DEMO" if source == "local" else (source or "unknown"), "demo": source == "local",
        "schema_version": int(meta["schema_version"]),
        "created_ms": int(meta["created_ms"]) if meta.get("created_ms", "").isdigit() else None,
        "server_time_ms": now,
        "verdict": health.overall_colour(lights),
        "feeds": [feed_record(light, status_rows.get(light.symbol), now) for light in lights],
        "open_gaps": len(gaps), "open_gaps_by_symbol": by_symbol,
        "trades": sum(s["trades"] for s in symbols), "symbols": symbols,
    }


@router.get("/api/symbols", response_model=SymbolsResponse, summary="Symbols in the database")
def get_symbols(conn: Reader) -> dict[str, Any]:
    """Every symbol with data, with its bar and trade counts and the time of its first and last bar."""
    return {"symbols": symbol_infos(conn)}
