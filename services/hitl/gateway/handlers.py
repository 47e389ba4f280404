"""The one place errors become HTTP responses: RFC 9457 ``application/problem+json``.

``Problem`` (raised by routes and dependencies) keeps its status; FastAPI's request validation
errors list every error with its location (400 for the query, path, headers and malformed
JSON; 422 for a well-formed body that does not fit); Starlette's own errors (unknown path,
wrong method) keep their status; a ``TransportError`` (RabbitMQ or Redis unreachable) is a 503
to retry; anything else is a 500 that says nothing of the internals, only an id to find the
logged traceback by.
"""

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from hitl.core.decoding import format_path
from hitl.errors import TransportError
from hitl.gateway.problems import PROBLEM_JSON, Problem
from hitl_contract import ErrorCode, ErrorDetail

log = logging.getLogger(__name__)
_REQUEST_PARTS = ("query", "path", "header", "cookie")
_MAX_ECHO = 200


Handler = Callable[[Request, Exception], Awaitable[Response]]


def install(app: FastAPI) -> None:
    for kind, handler in _handlers():
        app.add_exception_handler(kind, handler)


async def error_response(request: Request, exc: Exception) -> Response:
    """The response the installed handlers give ``exc``, for code that runs ahead of
    FastAPI's exception middleware (``hitl.gateway.answer_lane``)."""
    for kind, handler in _handlers():
        if isinstance(exc, kind):
            return await handler(request, exc)
    raise AssertionError("Exception has a handler")  # pragma: no cover


def _handlers() -> tuple[tuple[type[Exception], Handler], ...]:
    return (
        (Problem, _problem),
        (RequestValidationError, _invalid_request),
        (HTTPException, _http_error),
        (TransportError, _unavailable),
        (Exception, _internal),
    )


def problem_response(problem: Problem, request: Request) -> Response:
    return Response(
        orjson.dumps(problem.body(request.url.path)),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def from_detail(status: int, kind: str, title: str, detail: ErrorDetail) -> Problem:
    """A problem from the broker's ``ErrorDetail``: its code, path, allowed values, what was
    sent, and, when there were several, every field-level error."""
    errors = [_detail_error(d) for d in detail.details] if detail.details else None
    return Problem(
        status,
        kind,
        title,
        detail.message,
        code=detail.code.value,
        path=detail.path,
        allowed=detail.allowed,
        got=detail.got,
        errors=errors,
    )


def _detail_error(detail: ErrorDetail) -> dict[str, Any]:
    error: dict[str, Any] = {"code": detail.code.value, "message": detail.message}
    error.update(
        {k: v for k, v in (("path", detail.path), ("allowed", detail.allowed)) if v is not None}
    )
    if detail.got is not None:
        error["got"] = detail.got
    return error


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc, request)


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [_validation_error(e) for e in exc.errors()]
    malformed = any(e["type"] == "json_invalid" for e in exc.errors())
    in_request = all(e["location"] in _REQUEST_PARTS for e in errors)
    first = errors[0] if errors else {}
    if malformed:
        problem = Problem(
            400,
            "malformed-json",
            "Malformed JSON",
            "the body is not valid JSON",
            code=ErrorCode.MALFORMED_JSON.value,
            path="body",
            errors=errors,
        )
    else:
        where = f"{first.get('location')} {first.get('path')}".strip()
        problem = Problem(
            400 if in_request else 422,
            "invalid-request",
            "Invalid request parameters" if in_request else "Invalid request body",
            f"{where}: {first.get('message')}"
            + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
            code=ErrorCode.INVALID_FIELD.value,
            path=first.get("path"),
            errors=errors,
        )
    return problem_response(problem, request)


def _validation_error(error: Any) -> dict[str, Any]:
    loc: Sequence[int | str] = error.get("loc", ())
    location = str(loc[0]) if loc else "body"
    out: dict[str, Any] = {
        "location": location,
        "path": format_path(loc[1:]) or location,
        "message": error.get("msg", "invalid"),
        "type": error.get("type", "invalid"),
    }
    got = error.get("input")
    if error.get("type") not in ("missing", "json_invalid") and _scalar(got):
        out["got"] = (
            got[:_MAX_ECHO] + "..." if isinstance(got, str) and len(got) > _MAX_ECHO else got
        )
    return out


def _scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    titles = {404: "Not found", 405: "Method not allowed"}
    problem = Problem(
        exc.status_code,
        {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error"),
        titles.get(exc.status_code, "HTTP error"),
        str(exc.detail) if exc.detail else None,
        headers=dict(exc.headers) if exc.headers else None,
    )
    return problem_response(problem, request)


async def _unavailable(request: Request, exc: Exception) -> Response:
    log.warning("%s %s: unavailable: %s", request.method, request.url.path, exc)
    problem = Problem(
        503,
        "unavailable",
        "Temporarily unavailable",
        "RabbitMQ or Redis cannot be reached right now; try again shortly",
        headers={"Retry-After": "1"},
    )
    return problem_response(problem, request)


async def _internal(request: Request, exc: Exception) -> Response:
    error_id = uuid.uuid4().hex[:12]
    log.error(
        "%s %s failed (error id %s)", request.method, request.url.path, error_id, exc_info=exc
    )
    problem = Problem(
        500,
        "internal",
        "Internal error",
        f"the gateway failed; operators can find it in the logs by error id {error_id}",
        error_id=error_id,
    )
    return problem_response(problem, request)
