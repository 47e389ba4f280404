"""``POST /v1/interactions/{id}/responses`` as a plain ASGI call, ahead of FastAPI.

Answering is the gateway's hot route: a bot or a person's tool answers every interaction it
sees, and the gateway shares its cores with the broker. Through FastAPI an answer paid for the
middleware stack, route matching over every route, dependency solving, the body validated
into a model and the result validated again before it was written. This lane does the same
steps by hand, with the same pieces, for requests whose path holds a canonical UUID (anything
else, e.g. a malformed id, goes on to the FastAPI route, which describes it in the OpenAPI
document and answers it):

1. the body checks of ``BodyLimits`` (``BodyCheck``: 413, 415);
2. the body read as JSON (400 ``malformed-json`` otherwise), before the key, as FastAPI does;
3. the key and its ``respond`` scope (``deps.authorize``: 401, 403);
4. the body validated as ``AnswerBody`` (422 naming each field, located under ``body`` as
   FastAPI locates them);
5. ``answers.submit`` (404, 403, the broker's receipt or a 504), the result written with
   pydantic's JSON serializer, as the route's ``response_model`` writes it;
6. errors through the app's own handlers (``handlers.error_response``: problem+json), and
   the request counted and timed by route template, method and status (``HttpMetrics``).

``tests/integration/gateway/test_answer_lane.py`` checks that the lane and the FastAPI route
answer the same requests with the same status, headers and body.
"""

import json
import time
from typing import Any
from uuid import UUID

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from hitl.gateway import answers
from hitl.gateway.bodies import BodyCheck
from hitl.gateway.deps import GatewayContext, authorize, presented_key
from hitl.gateway.deps import Scope as KeyScope
from hitl.gateway.handlers import error_response
from hitl.gateway.metrics import HttpMetrics, StatusSeen
from hitl.gateway.models import AnswerBody

PREFIX = "/v1/interactions/"
SUFFIX = "/responses"
ROUTE = PREFIX + "{interaction_id}" + SUFFIX  # the metrics' route label, as FastAPI's
_LENGTH = len(PREFIX) + 36 + len(SUFFIX)
_JSON_HEADERS = b"content-type", b"application/json"


def answer_id(scope: Scope) -> UUID | None:
    """The interaction id of a request the lane takes: ``POST`` to the answer route with a
    canonical UUID (36 characters) in the path; None for anything else."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path: str = scope["path"]
    if len(path) != _LENGTH or not path.startswith(PREFIX) or not path.endswith(SUFFIX):
        return None
    try:
        return UUID(path[len(PREFIX) : -len(SUFFIX)])
    except ValueError:
        return None


class AnswerLane:
    def __init__(self, context: GatewayContext, check: BodyCheck, metrics: HttpMetrics) -> None:
        self._context = context
        self._check = check
        self._metrics = metrics

    async def __call__(
        self, interaction_id: UUID, scope: Scope, receive: Receive, send: Send
    ) -> None:
        start = time.perf_counter()
        sending = StatusSeen(send)
        try:
            checked = await self._check.read(scope, receive, sending)
            if checked is None:
                return
            try:
                code, body = await self._answer(interaction_id, scope, checked[0])
            except Exception as exc:  # noqa: BLE001  every error, as the app's handlers answer it
                response = await error_response(Request(scope), exc)
                await response(scope, receive, sending)
                return
            length = str(len(body)).encode()
            await sending(
                {
                    "type": "http.response.start",
                    "status": code,
                    "headers": [_JSON_HEADERS, (b"content-length", length)],
                }
            )
            await send({"type": "http.response.body", "body": body})
        finally:
            elapsed = time.perf_counter() - start
            self._metrics.observe(ROUTE, "POST", sending.status, elapsed)

    async def _answer(self, interaction_id: UUID, scope: Scope, raw: bytes) -> tuple[int, bytes]:
        ctx = self._context
        received = _json(raw)
        authorization = x_api_key = None
        for name, value in scope["headers"]:
            if name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == b"x-api-key" and x_api_key is None:
                x_api_key = value.decode("latin-1")
        token = presented_key(authorization, x_api_key)
        principal = await authorize(ctx.keys, token, KeyScope.RESPOND)
        answer = _answer_body(received)
        status, result = await answers.submit(
            ctx, principal, interaction_id, answer.action, answer.data, answer.response_id
        )
        return status, result.model_dump_json(by_alias=True).encode()


_MISSING = object()


def _json(raw: bytes) -> Any:
    """The body's JSON (``_MISSING`` when empty), read as FastAPI reads it, with
    ``json.loads``: a few microseconds for an answer, and the same values (orjson reads an
    integer past 64 bits as a float, and refuses NaN); a ``RequestValidationError`` like
    FastAPI's when it is not JSON."""
    if not raw:
        return _MISSING
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        error = {
            "type": "json_invalid",
            "loc": ("body", exc.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": exc.msg},
        }
        raise RequestValidationError([error], body=exc.doc) from exc
    except UnicodeDecodeError as exc:  # FastAPI answers these 400 too
        raise HTTPException(400, "There was an error parsing the body") from exc


def _answer_body(received: Any) -> AnswerBody:
    if received is _MISSING:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    try:
        return AnswerBody.model_validate(received, from_attributes=True)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors, body=received) from exc
