"""REST plumbing in Binance's manner: errors, query parameters, request weights, JSON answers."""
from __future__ import annotations

import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

REST_DEFAULT_LIMIT = 500
REST_MAX_LIMIT = 1000
JSON_CONTENT_TYPE = "application/json;charset=UTF-8"


class RestError(Exception):
    """A Binance REST error: HTTP status plus `{"code":..., "msg":...}`."""

    def __init__(self, status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.status = status
        self.body = {"code": code, "msg": msg}
        self.headers = headers or {}


INT_PATTERN = "^[0-9]{1,20}$"
SYMBOLS_PATTERN = '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'


class QueryParams:
    """Query-string parameters with Binance's validation errors, tracking which were read."""

    def __init__(self, query: str) -> None:
        self._values = dict(parse_qsl(query, keep_blank_values=True))
        self._read: set[str] = set()

    def has(self, name: str) -> bool:
        """Whether `name` was sent with a value (does not count as reading it)."""
        return self._values.get(name, "") != ""

    def text(self, name: str, required: bool = False) -> str | None:
        """A string parameter; -1102 when required and missing or empty."""
        self._read.add(name)
        value = self._values.get(name)
        if value in (None, ""):
            if required:
                raise RestError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
            return None
        return value

    def integer(self, name: str, required: bool = False) -> int | None:
        """A non-negative integer parameter; -1100 when it has other characters."""
        value = self.text(name, required)
        if value is None:
            return None
        if not re.fullmatch(r"[0-9]{1,20}", value):
            raise RestError(400, -1100,
                            f"Illegal characters found in parameter '{name}'; legal range is '{INT_PATTERN}'.")
        return int(value)

    def limit(self, default: int = REST_DEFAULT_LIMIT) -> int:
        """`limit`: `default` when absent (500 for trades), 1..1000."""
        value = self.integer("limit")
        if value is None:
            return default
        if not 1 <= value <= REST_MAX_LIMIT:
            raise RestError(400, -1130, "Data sent for parameter 'limit' is not valid.")
        return value

    def finish(self) -> None:
        """-1104 when a parameter was sent that the endpoint does not read (catches typos)."""
        unread = set(self._values) - self._read
        if unread:
            raise RestError(400, -1104, f"Not all sent parameters were read; read '{len(self._values) - len(unread)}' "
                                        f"parameter(s) but was sent '{len(self._values)}'.")


class WindowLimiter:
    """An endpoint's own request limit per client, counted over a sliding window (fundingRate:
    500 per 5 minutes per IP); a refused request does not count."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._times: dict[str, deque[float]] = {}

    def admit(self, client: str) -> int | None:
        """Count one request of `client`; None when allowed, else the Retry-After seconds."""
        now = time.monotonic()
        times = self._times.setdefault(client, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) >= self.limit:
            return max(1, math.ceil(times[0] + self.window_s - now))
        times.append(now)
        return None


@dataclass(frozen=True)
class RestRoute:
    """One REST endpoint: handler and request weight (`weight_all` when no symbol is given), and
    its own request limit if it has one."""

    handler: Callable[[QueryParams, Request], Any]
    weight: int
    weight_all: int | None = None
    own_limit: WindowLimiter | None = None


class WeightMeter:
    """Request weight used per wall-clock minute, as in `X-MBX-USED-WEIGHT-1M`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._minute = -1
        self.used = 0

    def add(self, weight: int) -> int:
        """Count a request's weight; returns the minute's total."""
        minute = int(time.time() // 60)
        if minute != self._minute:
            self._minute, self.used = minute, 0
        self.used += weight
        return self.used

    @staticmethod
    def seconds_to_next_minute() -> int:
        """Retry-After for a request over the limit."""
        return max(1, math.ceil(60 - time.time() % 60))



def json_response(connection: ServerConnection, status: int, body: Any, headers: dict[str, str]) -> Response:
    """A JSON HTTP answer built on `connection.respond`, with extra headers."""
    response = connection.respond(status, orjson.dumps(body).decode())
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = JSON_CONTENT_TYPE
    for name, value in headers.items():
        response.headers[name] = value
    return response
