"""Requests created over HTTP, for producers without an AMQP client.

The body is an ``InteractionRequest`` as on the wire, except that ``id`` is generated when
absent, ``reply_to`` defaults to ``http`` (a durable queue the gateway declares and drains, so
outcomes are never unroutable; the outcome is read back from the store) and ``requester`` is
always the key's identity. It is then validated exactly as the broker validates it
(``decode_request``), so the errors are the broker's, and published with confirms. The same id
with the same request again is idempotent; with another request, a 409.
"""

import asyncio
import contextlib
from typing import Any, cast
from uuid import uuid4

import orjson

from hitl.core.decoding import decode_request
from hitl.core.machine import InteractionState
from hitl.errors import InvalidMessage
from hitl.gateway.deps import GatewayContext, Principal
from hitl.gateway.handlers import from_detail
from hitl.gateway.models import Created, Status
from hitl.gateway.problems import Problem
from hitl_contract import ErrorCode, InteractionRequest
from hitl_contract.wire import encode_model

HTTP_REPLY_TO = "http"


async def create(
    ctx: GatewayContext, principal: Principal, body: bytes, wait: float
) -> tuple[int, Created]:
    """(201 and the outcome when decided within ``wait`` seconds, else 202 pending)."""
    request = parse(body, principal, ctx.max_body_bytes)
    existing = await ctx.reads.load(request.id)
    if existing is not None and encode_model(existing.request) != encode_model(request):
        raise _conflict(request)
    wait = min(wait, ctx.settings.gateway_max_wait_seconds)
    if existing is None or (existing.is_pending and wait > 0):
        await _publish_and_wait(ctx, request, publish=existing is None, wait=wait)
    state = await ctx.reads.load(request.id)
    if state is None:  # published; the broker has not stored it yet
        return 202, Created(id=request.id, status="pending", outcome=None)
    return _created(state)


async def _publish_and_wait(
    ctx: GatewayContext, request: InteractionRequest, *, publish: bool, wait: float
) -> None:
    # Waiting starts before publishing: an auto-approved request is decided at once.
    final = asyncio.create_task(ctx.hub.wait_final(str(request.id), wait)) if wait > 0 else None
    try:
        if publish:
            await ctx.broker.request(request)
        if final is not None:
            await final
    finally:
        if final is not None and not final.done():
            final.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await final


def parse(body: bytes, principal: Principal, max_bytes: int) -> InteractionRequest:
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Problem(
            400,
            "malformed-json",
            "Malformed JSON",
            f"the body is not valid JSON: {exc}",
            code=ErrorCode.MALFORMED_JSON.value,
            path="body",
        ) from exc
    if not isinstance(data, dict):
        raise Problem(
            422,
            "invalid-request",
            "Invalid request body",
            "the body must be a JSON object: an interaction request",
            code=ErrorCode.INVALID_FIELD.value,
            got=type(data).__name__,
        )
    data.setdefault("id", str(uuid4()))
    data.setdefault("reply_to", HTTP_REPLY_TO)
    data["requester"] = principal.identity.model_dump(mode="json", exclude_defaults=True)
    try:
        return decode_request(orjson.dumps(data), max_bytes)
    except InvalidMessage as exc:
        if exc.detail.code == ErrorCode.PAYLOAD_TOO_LARGE:
            raise from_detail(413, "payload-too-large", "Request too large", exc.detail) from exc
        raise from_detail(
            422, "invalid-request", "Invalid interaction request", exc.detail
        ) from exc


def _created(state: InteractionState) -> tuple[int, Created]:
    status = cast(Status, state.status)
    created = Created(id=state.request.id, status=status, outcome=state.outcome)
    return (202 if state.is_pending else 201), created


def _conflict(request: InteractionRequest) -> Problem:
    return Problem(
        409,
        "id-conflict",
        "Id already used",
        f"interaction {request.id} exists with a different request; pick a new id (or leave it "
        "out to have one generated)",
        code=ErrorCode.ID_CONFLICT.value,
        path="id",
        got=str(request.id),
    )
