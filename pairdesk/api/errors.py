"""Errors of the REST API: every one is ``{"detail": "<one line>"}``, documented once per status.

422 for a bad parameter or file, 404 for an unknown symbol or rule, 403 / 401 for the token
endpoints, 503 when the database is missing or busy, 500 (still JSON) for anything else.
"""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

import pandas as pd
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from pairdesk import store

log = logging.getLogger(__name__)

MAX_SHOWN_INPUT_CHARS = 60  # of a refused value quoted back in a validation message


class ErrorBody(BaseModel):
    """Every error answer: one line saying what is wrong and, where it helps, what to do."""

    detail: str = Field(description="what went wrong", examples=["unknown symbol 'XYZUSDT': not in this database"])


def unprocessable(message: str) -> HTTPException:
    """422: a parameter or an uploaded file the API cannot use."""
    return HTTPException(status_code=422, detail=message)


def not_found(message: str) -> HTTPException:
    """404: an unknown symbol or rule."""
    return HTTPException(status_code=404, detail=message)


ResponsesDoc = dict[int | str, dict[str, Any]]

ERRORS: ResponsesDoc = {
    404: {"model": ErrorBody, "description": "unknown symbol (not in this database) or rule"},
    422: {"model": ErrorBody, "description": "a parameter is missing, malformed or out of range"},
}
BAD_BODY: ResponsesDoc = {
    400: {"model": ErrorBody, "description": "the body cannot be parsed at all (not JSON / not multipart)"}}
TOKEN_ERRORS: ResponsesDoc = {
    401: {"model": ErrorBody, "description": "missing or wrong token"},
    403: {"model": ErrorBody, "description": "the API was started without a token: these endpoints are off"},
    422: ERRORS[422],
}
UNAVAILABLE: ResponsesDoc = {503: {"model": ErrorBody, "description": "the database is missing, unreadable or busy"}}

_WHERE = {"query": "query parameter", "path": "path parameter", "body": "request body", "header": "header"}


def describe_validation(errors: Sequence[dict[str, Any]]) -> str:
    """FastAPI's list of validation errors as one line: "query parameter limit: ... (got '0')"."""
    parts = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        where = _WHERE.get(loc[0] if loc else "", "input")
        if len(loc) > 1:
            where += " " + "".join(f"[{p}]" if p.isdigit() else (f".{p}" if i else p) for i, p in enumerate(loc[1:]))
        message = str(error.get("msg", "invalid"))
        if error.get("type") not in ("missing", "json_invalid") and "input" in error:
            shown = repr(error["input"])
            if len(shown) > MAX_SHOWN_INPUT_CHARS:
                shown = shown[:MAX_SHOWN_INPUT_CHARS - 3] + "..."
            message += f" (got {shown})"
        parts.append(f"{where}: {message}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """Every error is {"detail": "<one line>"}: validation errors too; a missing or busy database is 503."""

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": describe_validation(exc.errors())}, status_code=422)

    @app.exception_handler(store.StoreError)
    async def store_error(_request: Request, exc: store.StoreError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(sqlite3.Error)
    @app.exception_handler(pd.errors.DatabaseError)  # what pandas' read_sql_query wraps sqlite3 errors in
    async def database_error(_request: Request, exc: Exception) -> JSONResponse:
        if any(word in str(exc) for word in ("locked", "busy")):
            log.warning("database busy: %s", exc)
            return JSONResponse({"detail": f"database busy ({exc}); try again"}, status_code=503)
        log.error("database error: %s", exc)
        return JSONResponse({"detail": f"database error: {exc}"}, status_code=500)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, store.database_errors()):  # psycopg's, on PostgreSQL (loaded only there)
            return await database_error(request, exc)
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse({"detail": f"internal error ({type(exc).__name__}: {exc}); see the API's log"},
                            status_code=500)
