"""Binance's REST endpoints of one market (trades, aggTrades, exchangeInfo, ticker; futures fundingRate
and premiumIndex), from the sim's histories, funding and mark prices."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from pairdesk.markets import FUTURES, SPOT
from pairdesk.sim.clock import wall_us
from pairdesk.sim.exchange_info import exchange_info
from pairdesk.sim.rest import (
    SYMBOLS_PATTERN,
    QueryParams,
    RestError,
    RestRoute,
    WeightMeter,
    WindowLimiter,
    json_response,
)
from pairdesk.sim.tape_history import SymbolHistory
from pairdesk.sim.wire import premium_index, rest_funding

if TYPE_CHECKING:
    from pairdesk.sim.server import ExchangeSim

REST_WEIGHT_LIMIT_1M = {SPOT: 6000, FUTURES: 2400}
AGG_TRADES_MAX_WINDOW_MS = 3_600_000
FUNDING_DEFAULT_LIMIT = 100
FUNDING_LIMIT_WINDOW_S = 300.0


class BinanceRest:
    """The REST half of the exchange: routes with their weights, the weight meter, forced 429/418."""

    def __init__(self, sim: ExchangeSim) -> None:
        self.sim = sim
        self.market = sim.market
        self.weight = WeightMeter(sim.config.weight_limit_1m or REST_WEIGHT_LIMIT_1M[sim.market])
        self.routes = self._build_routes()

    def handles(self, path: str) -> bool:
        """Whether `path` (without query) is one of this market's REST endpoints."""
        return path in self.routes

    def answer(self, connection: ServerConnection, request: Request) -> Response:
        parts = urlsplit(request.path)
        route = self.routes[parts.path]
        params = QueryParams(parts.query)
        weight = route.weight if route.weight_all is None or params.has("symbol") else route.weight_all
        used = self.weight.add(weight)
        headers = {"X-MBX-USED-WEIGHT-1M": str(used)}
        self.sim.counters["rest_requests"] += 1
        try:
            forced = self._forced_error()
            if forced is not None:
                raise forced
            self._check_own_limit(route, connection)
            if used > self.weight.limit:
                raise RestError(429, -1003, f"Too many requests; current limit of IP({self.sim.host}) request weight "
                                            f"per minute is {self.weight.limit}. Please use WebSocket Streams for "
                                            "live updates to avoid polling the API.",
                                {"Retry-After": str(WeightMeter.seconds_to_next_minute())})
            status, body = 200, route.handler(params, request)
            params.finish()
        except RestError as exc:
            status, body = exc.status, exc.body
            headers.update(exc.headers)
            self.sim.counters[f"rest_{exc.status}"] += 1
        return json_response(connection, status, body, headers)

    def _forced_error(self) -> RestError | None:
        """The next 429/418 requested by the rest_429 / rest_418 switches, if any."""
        retry = {"Retry-After": str(self.sim.faults.retry_after_s)}
        if self.sim.faults.rest_418 > 0:
            self.sim.faults.rest_418 -= 1
            until_ms = wall_us() // 1000 + self.sim.faults.retry_after_s * 1000
            return RestError(418, -1003, f"Way too many requests; IP({self.sim.host}) banned until {until_ms}. "
                                         "Please use WebSocket Streams for live updates to avoid bans.", retry)
        if self.sim.faults.rest_429 > 0:
            self.sim.faults.rest_429 -= 1
            return RestError(429, -1003, "Too many requests; please use the websocket for live updates.", retry)
        return None
    def _check_own_limit(self, route: RestRoute, connection: ServerConnection) -> None:
        """429 with Retry-After when the client has used up the endpoint's own limit."""
        if route.own_limit is None:
            return
        address = connection.remote_address
        retry_after = route.own_limit.admit(address[0] if address else "?")
        if retry_after is not None:
            minutes = route.own_limit.window_s / 60
            raise RestError(429, -1003, f"Too many requests; current limit of IP({self.sim.host}) is "
                                        f"{route.own_limit.limit} requests per {minutes:g} minutes for this "
                                        "endpoint.", {"Retry-After": str(retry_after)})

    def _build_routes(self) -> dict[str, RestRoute]:
        """Binance's endpoints for this market, with their request weights."""
        if self.market == SPOT:
            return {
                "/api/v3/ping": RestRoute(lambda p, r: {}, 1),
                "/api/v3/time": RestRoute(self._rest_time, 1),
                "/api/v3/exchangeInfo": RestRoute(self._rest_exchange_info, 20),
                "/api/v3/ticker/price": RestRoute(self._rest_ticker_price, 2, weight_all=4),
                "/api/v3/trades": RestRoute(self._rest_recent_trades, 25),
                "/api/v3/historicalTrades": RestRoute(self._rest_historical_trades, 25),
                "/api/v3/aggTrades": RestRoute(self._rest_agg_trades, 4),
            }
        return {
            "/fapi/v1/ping": RestRoute(lambda p, r: {}, 1),
            "/fapi/v1/time": RestRoute(self._rest_time, 1),
            "/fapi/v1/exchangeInfo": RestRoute(self._rest_exchange_info, 1),
            "/fapi/v1/ticker/price": RestRoute(self._rest_ticker_price, 1, weight_all=2),
            "/fapi/v1/trades": RestRoute(self._rest_recent_trades, 5),
            "/fapi/v1/historicalTrades": RestRoute(self._rest_historical_trades, 20),
            "/fapi/v1/aggTrades": RestRoute(self._rest_agg_trades, 20),
            "/fapi/v1/fundingRate": RestRoute(
                self._rest_funding_rate, 1,
                own_limit=WindowLimiter(self.sim.config.funding_limit_per_5m, FUNDING_LIMIT_WINDOW_S)),
            "/fapi/v1/premiumIndex": RestRoute(self._rest_premium_index, 1, weight_all=10),
        }

    def _history_for(self, params: QueryParams) -> SymbolHistory:
        symbol = params.text("symbol", required=True)
        assert symbol is not None
        history = self.sim.histories.get(symbol)
        if history is None:
            raise RestError(400, -1121, "Invalid symbol.")
        return history

    def _rest_micros(self, request: Request) -> bool:
        """Spot answers in microseconds when asked with `X-MBX-TIME-UNIT: MICROSECOND`."""
        return self.market == SPOT and request.headers.get("X-MBX-TIME-UNIT", "").upper() == "MICROSECOND"

    def _rest_time(self, params: QueryParams, request: Request) -> dict[str, int]:
        return {"serverTime": self.sim.now_us() // 1000}

    def _requested_symbols(self, params: QueryParams) -> list[str] | None:
        """`symbol=X` -> [X]; spot's `symbols=["X","Y"]` -> [X, Y]; neither -> None (all)."""
        symbol = params.text("symbol")
        symbols = params.text("symbols") if self.market == SPOT else None
        if symbol is not None:
            wanted = [symbol]
        elif symbols is not None:
            try:
                wanted = json.loads(symbols)
            except json.JSONDecodeError:
                wanted = None
            if not isinstance(wanted, list) or not all(isinstance(s, str) for s in wanted):
                raise RestError(400, -1100, "Illegal characters found in parameter 'symbols'; legal range is "
                                            f"'{SYMBOLS_PATTERN}'.")
        else:
            return None
        if any(s not in self.sim.histories for s in wanted):
            raise RestError(400, -1121, "Invalid symbol.")
        return wanted

    def _rest_ticker_price(self, params: QueryParams, request: Request) -> Any:
        wanted = self._requested_symbols(params)
        if wanted is not None and params.has("symbol"):
            return self._ticker(self.sim.histories[wanted[0]])
        return [self._ticker(self.sim.histories[s]) for s in wanted or self.sim.histories]

    def _ticker(self, history: SymbolHistory) -> dict[str, Any]:
        spec = history.spec
        units = history.last_price_units
        if units is None:
            units = round(spec.start_price * 10**spec.price_decimals / spec.tick_units) * spec.tick_units
        ticker: dict[str, Any] = {"symbol": spec.symbol, "price": spec.price_text(units)}
        if self.market == FUTURES:
            ticker["time"] = history.trade(-1).time_us // 1000 if len(history) else self.sim.now_us() // 1000
        return ticker

    def _rest_recent_trades(self, params: QueryParams, request: Request) -> list[dict[str, Any]]:
        history, limit = self._history_for(params), params.limit()
        micros = self._rest_micros(request)
        recent = history.trades(len(history) - limit, len(history))
        return [self.sim.wire.rest_trade(t, history.spec, micros) for t in recent]

    def _rest_historical_trades(self, params: QueryParams, request: Request) -> list[dict[str, Any]]:
        if self.market == FUTURES:
            self._require_api_key(request)
        history, limit, from_id = self._history_for(params), params.limit(), params.integer("fromId")
        start = len(history) - limit if from_id is None else max(history.trade_index(from_id), 0)
        micros = self._rest_micros(request)
        return [self.sim.wire.rest_trade(t, history.spec, micros) for t in history.trades(start, start + limit)]

    def _require_api_key(self, request: Request) -> None:
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise RestError(401, -2014, "API-key format invalid.")
        if key != self.sim.config.api_key:
            raise RestError(401, -2015, f"Invalid API-key, IP, or permissions for action, request ip: {self.sim.host}")

    def _rest_agg_trades(self, params: QueryParams, request: Request) -> list[dict[str, Any]]:
        history, limit = self._history_for(params), params.limit()
        from_id = params.integer("fromId")
        start_time, end_time = params.integer("startTime"), params.integer("endTime")
        micros = self._rest_micros(request)
        unit_us = 1 if micros else 1000
        if from_id is not None and (start_time is not None or end_time is not None) and self.market == FUTURES:
            raise RestError(400, -1128, "Combination of optional parameters invalid.")
        window_ms = (end_time - start_time) * unit_us // 1000 if start_time is not None and end_time is not None else 0
        if window_ms > AGG_TRADES_MAX_WINDOW_MS:
            raise RestError(400, -1127, "More than 1 hours between startTime and endTime.")
        count = history.agg_count
        start = count - limit
        if from_id is not None:
            start = max(history.agg_index(from_id), 0)
        elif start_time is not None:
            start = history.agg_index_at(start_time * unit_us)
        elif end_time is not None:
            start = history.agg_index_at((end_time + 1) * unit_us) - limit
        records = history.aggregates(start, start + limit)
        if end_time is not None:
            records = [a for a in records if a.time_us < (end_time + 1) * unit_us]
        if start_time is not None:
            records = [a for a in records if a.time_us >= start_time * unit_us]
        return [self.sim.wire.rest_agg(a, micros) for a in records]

    def _rest_exchange_info(self, params: QueryParams, request: Request) -> dict[str, Any]:
        wanted = (self._requested_symbols(params) if self.market == SPOT else None) or list(self.sim.histories)
        return exchange_info(self.market, [self.sim.histories[s].spec for s in wanted], self.sim.now_us() // 1000,
                             self.weight.limit)

    def _rest_funding_rate(self, params: QueryParams, request: Request) -> list[dict[str, Any]]:
        """Settled fundings ascending: from startTime the first `limit`, else the last `limit` up to endTime."""
        symbol = params.text("symbol")
        if symbol is not None and symbol not in self.sim.histories:
            raise RestError(400, -1121, "Invalid symbol.")
        start_time, end_time = params.integer("startTime"), params.integer("endTime")
        limit = params.limit(default=FUNDING_DEFAULT_LIMIT)
        assert self.sim.marks is not None
        return [rest_funding(row) for row in self.sim.marks.funding.rows(symbol, start_time, end_time, limit)]

    def _rest_premium_index(self, params: QueryParams, request: Request) -> Any:
        """The current mark, index and funding of one symbol (or of all, as a list)."""
        assert self.sim.marks is not None
        wanted = self._requested_symbols(params)
        now_ms = self.sim.now_us() // 1000
        answers = [premium_index(self.sim.marks.update(symbol, now_ms, self.sim.reference_units), now_ms)
                   for symbol in wanted or self.sim.histories]
        return answers[0] if wanted is not None else answers
