"""The paced REST client that fills gaps: symbol check, recent trades, pages by ``fromId``.

It spends at most WEIGHT_SHARE of the market's request weight per minute (counting the
exchange's own ``X-MBX-USED-WEIGHT-1M``) and waits out ``Retry-After`` on 429 / 418.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time

import httpx

from pairdesk.binance.frames import _REST_PARSERS, BadFrame, FundingRate, Trade, parse_rest_funding
from pairdesk.binance.listing import trading_symbols_in
from pairdesk.binance.markets import HTTP_TIMEOUT_S, MARKET_SPECS, REST_PAGE_LIMIT, WEIGHT_SHARE

log = logging.getLogger("pairdesk.binance")


class RestError(Exception):
    """An answer from the exchange that is not data: ``status`` is the HTTP status, ``code`` Binance's."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"HTTP {status}" + (f" code {code}" if code is not None else "") + f": {message}")
        self.status = status
        self.code = code


class WeightPacer:
    """Keeps a client under a share of the exchange's request weight per minute.

    The exchange's own count (``X-MBX-USED-WEIGHT-1M``) wins over ours when it is higher, and a
    ``Retry-After`` pauses every request until it has passed.
    """

    def __init__(self, limit_per_min: int, share: float = WEIGHT_SHARE, clock=time.monotonic) -> None:
        self.budget = max(1, int(limit_per_min * share))
        self.clock = clock
        self.minute_start = clock()
        self.used = 0
        self.paused_until = 0.0

    def delay_for(self, weight: int) -> float:
        """Seconds to wait before a request of ``weight`` may go out (0 when it may go now)."""
        now = self.clock()
        if now >= self.minute_start + 60:
            self.minute_start, self.used = now, 0
        if now < self.paused_until:
            return self.paused_until - now
        if self.used + weight > self.budget:
            return self.minute_start + 60 - now
        return 0.0

    def spend(self, weight: int) -> None:
        self.used += weight

    def observe(self, used_header: str | None) -> None:
        if used_header and used_header.isdigit():  # the IP's total, other clients included
            self.used = max(self.used, int(used_header))

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock() + seconds)


class BinanceRest:
    """The REST calls the ingestor needs: symbol check, recent trades, pages by ``fromId``."""

    def __init__(self, base_url: str, market: str, kind: str, client: httpx.AsyncClient | None = None,
                 pacer: WeightPacer | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.market = market
        self.kind = kind
        headers = {}
        api_key = os.environ.get("BINANCE_API_KEY")
        if api_key:  # only futures historicalTrades needs one
            headers["X-MBX-APIKEY"] = api_key
        self.client = client or httpx.AsyncClient(timeout=HTTP_TIMEOUT_S, headers=headers)
        self.spec = MARKET_SPECS[market]
        self.pacer = pacer or WeightPacer(self.spec.weight_limit_per_min)
        # fundingRate has its own limit (requests per 5 minutes per IP), one request = 1
        self.funding_pacer = WeightPacer(max(1, self.spec.funding_limit_per_5min // 5))
        self.requests = 0
        self.throttled = 0

    async def close(self) -> None:
        await self.client.aclose()

    async def get(self, path: str, weight: int, params: dict | None = None,
                  pacer: WeightPacer | None = None) -> object:
        """GET a JSON answer, paced under the weight limit (or ``pacer``'s own); 429/418 wait
        ``Retry-After`` and retry."""
        pacer = pacer or self.pacer
        while True:
            delay = pacer.delay_for(weight)
            if delay > 0:
                log.info("REST pacing: waiting %.1f s before %s", delay, path)
                await asyncio.sleep(delay)
                continue
            pacer.spend(weight)
            self.requests += 1
            response = await self.client.get(self.base_url + path, params=params)
            if pacer is self.pacer:
                pacer.observe(response.headers.get("X-MBX-USED-WEIGHT-1M"))
            if response.status_code in (429, 418):
                self.throttled += 1
                retry_after = _retry_after_s(response)
                log.warning("REST %s answered %d: waiting %.0f s (Retry-After)", path, response.status_code,
                            retry_after)
                pacer.pause(retry_after)
                continue
            if response.status_code >= 400:
                raise _rest_error(response)
            try:
                return response.json()
            except ValueError:
                raise RestError(response.status_code, None, f"{path} answered something that is not JSON") from None

    async def ping(self) -> bool:
        """True when the REST API answers at all."""
        try:
            await self.get(self.spec.ping.path, self.spec.ping.weight)
            return True
        except (httpx.HTTPError, RestError):
            return False

    async def trading_symbols(self) -> set[str]:
        """Symbols the exchange lists as TRADING (``exchangeInfo``)."""
        return trading_symbols_in(await self.get(self.spec.exchange_info.path, self.spec.exchange_info.weight))

    async def fetch_from(self, symbol: str, from_id: int, limit: int = REST_PAGE_LIMIT) -> list[Trade]:
        """Up to ``limit`` trades of ``symbol`` from id ``from_id`` on, oldest first."""
        endpoint = self.spec.fetch[self.kind]
        rows = await self.get(endpoint.path, endpoint.weight, {"symbol": symbol, "fromId": from_id, "limit": limit})
        return self._parse_rows(rows, symbol)

    async def recent(self, symbol: str, limit: int = REST_PAGE_LIMIT) -> list[Trade]:
        """The most recent trades of ``symbol``, oldest first."""
        endpoint = self.spec.recent[self.kind]
        rows = await self.get(endpoint.path, endpoint.weight, {"symbol": symbol, "limit": limit})
        return self._parse_rows(rows, symbol)

    async def funding_history(self, symbol: str, start_ms: int, end_ms: int | None = None,
                              limit: int = REST_PAGE_LIMIT) -> list[FundingRate]:
        """Up to ``limit`` settled funding rates of ``symbol`` from ``start_ms`` on, oldest first
        (``GET /fapi/v1/fundingRate``, paced under its own limit). RestError on a market without funding."""
        endpoint = self.spec.funding
        if endpoint is None:
            raise RestError(404, None, f"{self.market} has no funding rates")
        params = {"symbol": symbol, "startTime": int(start_ms), "limit": limit}
        if end_ms is not None:
            params["endTime"] = int(end_ms)
        rows = await self.get(endpoint.path, endpoint.weight, params, pacer=self.funding_pacer)
        if not isinstance(rows, list):
            raise RestError(200, None, f"expected a list of funding rates, got {type(rows).__name__}")
        try:
            return sorted((parse_rest_funding(row) for row in rows), key=lambda f: f.funding_time_ms)
        except BadFrame as exc:
            raise RestError(200, None, f"bad fundingRate row ({exc})") from None

    def _parse_rows(self, rows: object, symbol: str) -> list[Trade]:
        if not isinstance(rows, list):
            raise RestError(200, None, f"expected a list of trades, got {type(rows).__name__}")
        parse = _REST_PARSERS[self.kind]
        return sorted((parse(row, symbol) for row in rows), key=lambda t: t.trade_id)


def _retry_after_s(response: httpx.Response) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(1.0, float(value))
    except ValueError:
        return 60.0


def _rest_error(response: httpx.Response) -> RestError:
    try:
        body = response.json()
        return RestError(response.status_code, body.get("code"), str(body.get("msg", body)))
    except (ValueError, AttributeError):
        return RestError(response.status_code, None, response.text[:200])
