"""The sim's own HTTP surface (not Binance): `GET /sim/history`, `GET /sim/quotes`, `GET /sim/stats`,
`GET|POST /sim/control`."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from pairdesk.markets import TRADE
from pairdesk.sim.faults import FAULT_SWITCH_NAMES, FaultSwitches, is_number
from pairdesk.sim.rest import QueryParams, RestError, json_response
from pairdesk.sim.tape_history import history_records

if TYPE_CHECKING:
    from pairdesk.sim.server import ExchangeSim

CONTROL_ACTIONS = frozenset({"paused", "rate_per_s", "server_shutdown", "drop_all", "shock"})
FAULT_COUNTERS = frozenset({"silenced_frames", "gap_frames", "resent_frames", "junk_frames", "silences",
                            "server_shutdowns", "rate_limit_closes", "lifetime_closes", "shocks"})


class SimApi:
    """Answers the /sim/ requests of one `ExchangeSim`; `history_now` and `stats_now` run on its loop."""

    def __init__(self, sim: ExchangeSim) -> None:
        self.sim = sim
        self.routes: dict[str, Callable[[QueryParams, Request, bytes], Any]] = {
            "/sim/history": self._history, "/sim/quotes": self._quotes, "/sim/stats": self._stats,
            "/sim/control": self._control,
        }

    def handles(self, path: str) -> bool:
        """Whether `path` (without query) is one of the /sim/ endpoints."""
        return path in self.routes

    def answer(self, connection: ServerConnection, request: Request) -> Response:
        """Answer one /sim/ request; a bad one is HTTP 400 with {"error": "..."}."""
        parts = urlsplit(request.path)
        body = getattr(connection, "request_body", b"")
        try:
            result = self.routes[parts.path](QueryParams(parts.query), request, body)
        except RestError as exc:
            return json_response(connection, exc.status, {"error": exc.body["msg"]}, {})
        except (ValueError, KeyError, TypeError) as exc:
            return json_response(connection, 400, {"error": str(exc).strip("'\"")}, {})
        return json_response(connection, 200, result, {})

    def _history(self, params: QueryParams, request: Request, body: bytes) -> list[dict[str, Any]]:
        symbol = params.text("symbol") or ""
        return self.history_now(symbol.upper(), params.text("kind") or TRADE, params.integer("fromId"),
                                params.integer("limit"))

    def _quotes(self, params: QueryParams, request: Request, body: bytes) -> list[dict[str, Any]]:
        """The bookTicker updates of `symbol` sent (see `SentQuoteLog.records`)."""
        symbol = (params.text("symbol") or "").upper()
        if symbol not in self.sim.histories:
            raise ValueError(f"unknown symbol {symbol!r}; the sim trades {', '.join(self.sim.histories)}")
        return self.sim.quote_log.records(symbol)

    def _stats(self, params: QueryParams, request: Request, body: bytes) -> dict[str, Any]:
        return self.stats_now()

    def _control(self, params: QueryParams, request: Request, body: bytes) -> dict[str, Any]:
        if request.method == "GET" or not body.strip():
            return self.sim.switches()
        changes = json.loads(body)
        if not isinstance(changes, dict):
            raise ValueError("the control body must be a JSON object")
        return self.sim.apply_control_now(changes)

    def history_now(self, symbol: str, kind: str, from_id: int | None, limit: int | None) -> list[dict[str, Any]]:
        """Ground-truth records of `symbol` (see `ExchangeSim.history`)."""
        history = self.sim.histories.get(symbol)
        if history is None:
            raise ValueError(f"unknown symbol {symbol!r}; the sim trades {', '.join(self.sim.histories)}")
        return history_records(history, kind, from_id, limit)

    def stats_now(self) -> dict[str, Any]:
        """Counts per symbol, connections, frames sent, faults injected, REST use."""
        sim = self.sim
        symbols = {}
        for symbol, history in sim.histories.items():
            last = history.trade(-1) if len(history) else None
            symbols[symbol] = {
                "trades": len(history), "first_trade_id": history.first_trade_id,
                "last_trade_id": last.trade_id if last else None, "agg_trades": history.agg_count,
                "first_agg_id": history.first_agg_id,
                "last_agg_id": history.first_agg_id + history.agg_count - 1 if history.agg_count else None,
                "last_price": last.price if last else None,
                "quotes_sent": sim.quote_log.count(symbol),
                "last_update_id": sim.quote_log.last_update_id(symbol),
                "frames_sent": {kind: n for (s, kind), n in sim.frames_by_symbol.items() if s == symbol},
            }
        counters = dict(sim.counters)
        return {
            "market": sim.market, "mode": sim.mode(), "replay_stream": sim.replay_stream,
            "clock_ms": sim.now_us() // 1000, "paused": sim.paused,
            "symbols": symbols,
            "planted_pairs": [{"leader": leader, "follower": follower, "half_life_s": half_life}
                              for follower, (leader, half_life) in sim.planted().items()],
            "connections": {"open": len(sim.sessions), "total": counters.get("connections_total", 0),
                            "clients": [s.describe() for s in sim.sessions]},
            "frames_sent": {k.removeprefix("frames_"): v for k, v in counters.items() if k.startswith("frames_")},
            "faults": {k: v for k, v in counters.items()
                       if k.startswith(("drops_", "rest_4")) or k in FAULT_COUNTERS},
            "rest": {"requests": counters.get("rest_requests", 0), "weight_used_1m": sim.rest.weight.used,
                     "weight_limit_1m": sim.rest.weight.limit},
            "control_messages": counters.get("control_messages", 0),
            "switches": sim.switches(),
            "blast": sim.blast_result,
        }


def validate_control(changes: dict[str, Any], faults: FaultSwitches, traded_symbols: Collection[str],
                     has_model: bool) -> None:
    """Raise ValueError naming the first bad key or value in a control request."""
    unknown = set(changes) - FAULT_SWITCH_NAMES - CONTROL_ACTIONS
    if unknown:
        valid = sorted(FAULT_SWITCH_NAMES | CONTROL_ACTIONS)
        raise ValueError(f"unknown control keys {sorted(unknown)}; valid: {valid}")
    dataclasses.replace(faults).update({k: v for k, v in changes.items() if k in FAULT_SWITCH_NAMES})
    shock = changes.get("shock")
    if shock is not None:
        symbol, pct = (shock.get("symbol"), shock.get("pct")) if isinstance(shock, dict) else (None, None)
        is_traded = isinstance(symbol, str) and symbol.upper() in traded_symbols
        if not is_traded or not is_number(pct) or pct <= -100:
            raise ValueError('shock must look like {"symbol": "ETHUSDT", "pct": 1.5}, for a traded symbol')
        if not has_model:
            raise ValueError("shock needs the model; this sim is replaying or blasting")
    rate = changes.get("rate_per_s")
    if rate is not None and (not is_number(rate) or rate < 0):
        raise ValueError("rate_per_s must be a non-negative number")
    for flag in ("paused", "server_shutdown", "drop_all"):
        if flag in changes and not isinstance(changes[flag], bool):
            raise ValueError(f"{flag} must be true or false")

