"""Every error the API gives is JSON {"error": {"code", "message"}} with a 4xx for anything
the caller sent wrong. A 5xx is a defect: logged, and still answered in the same shape."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from outage_notify.db.bulk import BulkWriteError
from outage_notify.db.transient import is_transient
from outage_notify.logs import redacted_target

log = logging.getLogger(__name__)

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    503: "unavailable",
}


class ValidationIssue(BaseModel):
    loc: list[str] = Field(description="Where: body, query or path, then the field names")
    msg: str
    type: str | None


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(examples=["validation_failed"])
    message: str
    details: SkipJsonSchema[None] | list[ValidationIssue] = Field(
        None, description="The validation errors, when the request failed validation (422)"
    )


class ErrorBody(BaseModel):
    """Every error answer of the API."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


# status: (what it means, an example message) for /docs
ERROR_MEANINGS = {
    400: (
        "The body cannot be read: not valid JSON, or not in the documented content type",
        "request body is not valid JSON",
    ),
    401: ("Missing or unknown API key or customer link", "unknown or revoked API key"),
    403: (
        "This role may not do this; for a webhook, the signature does not match",
        "role agent may not do this (needs operator)",
    ),
    404: ("No such id", "no incident 'inc_0123456789abcdef0123'"),
    409: (
        "The incident is closed: it refuses any change but its same closed state",
        "incident is restored and can no longer change; report a new outage under a new"
        " external_id",
    ),
    413: ("The body is larger than the limit", "request body is larger than 10485760 bytes"),
    422: (
        "Well-formed input that fails validation",
        "etr must be an ISO 8601 time with a UTC offset, e.g. 2026-11-25T18:30:00+02:00",
    ),
}


CHALLENGE = {
    "WWW-Authenticate": {
        "required": True,
        "schema": {"type": "string"},
        "description": "Bearer: send an API key (or a customer link) as a Bearer token",
    }
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route: these statuses answer with ErrorBody."""
    return {s: _error_response(s) for s in statuses}


def _error_response(status: int) -> dict[str, Any]:
    meaning, message = ERROR_MEANINGS[status]
    example = {"error": {"code": STATUS_CODES[status], "message": message}}
    response: dict[str, Any] = {
        "model": ErrorBody,
        "description": meaning,
        "content": {"application/json": {"example": example}},
    }
    if status == 401:
        response["headers"] = CHALLENGE  # error_response() always sends it with a 401
    return response


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, code: str | None = None, **extra: Any):
        super().__init__(message)
        self.status = status
        self.code = code or STATUS_CODES.get(status, "error")
        self.message = message
        self.extra = extra


def error_response(
    status: int, message: str, code: str | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"code": code or STATUS_CODES.get(status, "error"), "message": message}
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.code, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "request body is not valid JSON")
        return error_response(422, _describe(errors), details=_safe(errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and message == "Not Found":
            message = "no such resource"
        return error_response(exc.status_code, message)

    @app.exception_handler(IntegrityError)
    async def _conflict(request: Request, exc: IntegrityError) -> JSONResponse:
        # Two requests raced to create the same record (PostgreSQL lets both try; SQLite's one
        # writer never does): the loser is told to try again, which then finds the record.
        log.warning("conflicting concurrent write on %s", redacted_target(request.scope))
        return error_response(409, "a concurrent request changed the same record; retry")

    # Handlers of these classes run inside the app (a handler of Exception runs in the outermost
    # middleware, which re-raises after answering).
    @app.exception_handler(DBAPIError)
    @app.exception_handler(BulkWriteError)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, IntegrityError):
            return await _conflict(request, exc)
        if is_transient(exc):
            # Lost a race with another transaction (which rolled this one back, so nothing
            # was written): not a defect, and the caller may simply retry.
            log.warning("transient database conflict on %s", redacted_target(request.scope))
            busy = error_response(503, "the database was busy with a conflicting change; retry")
            busy.headers["Retry-After"] = "1"
            return busy
        return await _defect(request, exc)

    @app.exception_handler(Exception)
    async def _defect(request: Request, exc: Exception) -> JSONResponse:
        # The route's template, never the path: it may hold a customer id or a phone number.
        log.exception("unhandled error on %s %s", request.method, redacted_target(request.scope))
        return error_response(500, "internal error; it has been logged", "internal_error")


def drop_fastapi_validation_error(schema: dict[str, Any]) -> dict[str, Any]:
    """Remove the 422 that FastAPI documents by itself (HTTPValidationError, a body this API
    never sends) from /openapi.json. Every route declares its own 422 with ErrorBody where
    validation can fail; the 422 left is on routes where it cannot, such as a string path id."""
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            responses = operation.get("responses", {}) if isinstance(operation, dict) else {}
            if _names_http_validation_error(responses.get("422", {})):
                del responses["422"]
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema


def _names_http_validation_error(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return str(schema.get("$ref", "")).endswith("/HTTPValidationError")


def _describe(errors: Sequence[Any]) -> str:
    parts = []
    for error in errors[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


def _safe(errors: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": e.get("type"),
        }
        for e in errors[:20]
    ]


class BodySizeLimit:
    """Refuses bodies over the limit with 413, by Content-Length or by counting as they stream."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, f"request body is larger than {self.max_bytes} bytes")
        await response(scope, receive, send)


class _TooLarge(StarletteHTTPException):
    # An HTTPException, because FastAPI turns any other error raised while it reads the body
    # into a 400; this one it lets through to the JSON handler as the 413 it is.
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body is larger than {max_bytes} bytes")
