"""Live control messages on a WebSocket connection (SUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY...).

Answers and error objects are Binance's, word for word (BINANCE.md: live subscribing).
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Protocol

MAX_STREAMS_PER_CONNECTION = 1024


class Subscriber(Protocol):
    """What a control message can read and change on a connection."""

    streams: dict[str, None]
    combined: bool

    def subscribe(self, streams: Iterable[str]) -> None: ...

    def unsubscribe(self, streams: Iterable[str]) -> None: ...


class ControlError(Exception):
    """A bad live control message; `reply` is Binance's error object."""

    def __init__(self, code: int, msg: str, request_id: Any = None) -> None:
        super().__init__(msg)
        self.reply: dict[str, Any] = {"code": code, "msg": msg}
        if code == 0:
            self.reply["id"] = request_id


def answer_control(session: Subscriber, message: str | bytes) -> dict[str, Any]:
    """Answer one live control message with Binance's reply or error object."""
    try:
        return _answer(session, message)
    except ControlError as exc:
        return exc.reply


def _answer(session: Subscriber, message: str | bytes) -> dict[str, Any]:
    try:
        request = json.loads(message)
    except json.JSONDecodeError as exc:
        raise ControlError(3, f"Invalid JSON: expected value at line {exc.lineno} column {exc.colno}") from None
    except UnicodeDecodeError:
        raise ControlError(3, "Invalid JSON: expected value at line 1 column 1") from None
    if not isinstance(request, dict):
        raise ControlError(2, "Invalid request: expected a JSON object")
    request_id = request.get("id")
    if "method" not in request:
        raise ControlError(2, "Invalid request: missing field `method`")
    if not valid_request_id(request_id):
        raise ControlError(2, "Invalid request: request ID must be an unsigned integer")
    method, params = request["method"], request.get("params", [])
    if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            raise ControlError(2, "Invalid request: params must be an array of stream names")
        if method == "SUBSCRIBE":
            if len(set(session.streams) | set(params)) > MAX_STREAMS_PER_CONNECTION:
                raise ControlError(2, "Invalid request: too many streams")
            session.subscribe(params)
        else:
            session.unsubscribe(params)
        return {"result": None, "id": request_id}
    if method == "LIST_SUBSCRIPTIONS":
        return {"result": list(session.streams), "id": request_id}
    if method in ("SET_PROPERTY", "GET_PROPERTY"):
        return _property(session, method, params, request_id)
    raise ControlError(2, f"Invalid request: unknown variant `{method}`, expected one of `SUBSCRIBE`, "
                            "`UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`")


def _property(session: Subscriber, method: str, params: Any, request_id: Any) -> dict[str, Any]:
    if not isinstance(params, list) or not params or not isinstance(params[0], str):
        raise ControlError(2, "Invalid request: property name must be a string")
    if params[0] != "combined":
        raise ControlError(0, "Unknown property", request_id)
    if method == "GET_PROPERTY":
        return {"result": session.combined, "id": request_id}
    if len(params) != 2:
        raise ControlError(2, "Invalid request: too many parameters" if len(params) > 2 else
                             "Invalid request: missing property value")
    if not isinstance(params[1], bool):
        raise ControlError(1, "Invalid value type: expected Boolean")
    session.combined = params[1]
    return {"result": None, "id": request_id}


def valid_request_id(request_id: Any) -> bool:
    """Binance accepts a 64-bit integer, an alphanumeric string of up to 36 characters, or null."""
    if request_id is None:
        return True
    if isinstance(request_id, bool):
        return False
    if isinstance(request_id, int):
        return -(2**63) <= request_id < 2**63
    return isinstance(request_id, str) and len(request_id) <= 36 and request_id.isalnum()

