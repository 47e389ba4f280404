"""``/v1/webhooks/{receiver}/answers``: a person's answer, sent back by a webhook receiver and
signed with that receiver's secret (``hitl.gateway.signed``), handled as any answer is: the
store checked first, the broker deciding, its receipt turned into the HTTP answer."""

import logging
from typing import Annotated, Any
from uuid import uuid5

from fastapi import APIRouter, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from hitl.errors import ConfigError, TransportError, WebhookRefused
from hitl.gateway import answers
from hitl.gateway.deps import Principal, Scope, context
from hitl.gateway.models import AnswerResult
from hitl.gateway.openapi import WITH_BODY, problems
from hitl.gateway.problems import Problem
from hitl.gateway.signed import SignedAnswer
from hitl.notifiers.webhooks.verification import SeenIds, accept

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/webhooks", tags=["signed webhooks"])
ReceiverName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.\-]{1,128}$")]
SIGNED: dict[str, Any] = {
    "security": [],
    "parameters": [
        {"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
        for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
    ],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SignedAnswer"}}},
    },
}


@router.post(
    "/{receiver}/answers",
    response_model=AnswerResult,
    summary="A person's answer, signed by a webhook receiver",
    description="Signed per Standard Webhooks with one of the receiver's secrets (no API key). "
    "The answer is the named responder's, sent through channel webhook:<receiver>.",
    responses={
        202: {"model": AnswerResult, "description": "Recorded as a vote; no decision yet."},
        **problems(404, 409, 504, *WITH_BODY),
    },
    openapi_extra=SIGNED,
)
async def signed_answer(
    request: Request, response: Response, receiver: ReceiverName
) -> AnswerResult:
    ctx = context(request)
    signed = ctx.signed
    found = signed.receiver(receiver) if signed is not None else None
    if signed is None or found is None or not found.signing_secrets:
        raise Problem(
            404,
            "unknown-receiver",
            "Unknown webhook receiver",
            f"no webhook receiver {receiver!r} with a signing secret in the gateway's routing "
            "file (HITL_ROUTING_FILE)",
            path="receiver",
            got=receiver,
        )
    body = await request.body()
    seen = signed.seen(receiver)
    try:
        verified = await accept(body, request.headers, signed.secrets(found), seen)
    except WebhookRefused as exc:
        raise Problem(
            401, "bad-signature", "Signature refused", f"{type(exc).__name__}: {exc}"
        ) from exc
    except ConfigError as exc:  # the receiver's secret cannot be read: the operator's to fix
        raise Problem(503, "receiver-misconfigured", "Receiver misconfigured", str(exc)) from exc
    try:
        answer = SignedAnswer.model_validate(verified.payload)
    except ValidationError as exc:  # reported as any body that does not fit: 422, every field
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors) from exc
    principal = Principal(
        key_id=f"webhook:{receiver}",
        identity=answer.responder,
        scopes=frozenset({Scope.RESPOND}),
        channel=f"webhook:{receiver}"[:64],
        vouched=True,
    )
    # The same signed request replayed is refused; a receiver resending its answer with a
    # new webhook-id counts once when it keeps response_id.
    response_id = answer.response_id or uuid5(answer.interaction_id, verified.webhook_id)
    try:
        status, result = await answers.submit(
            ctx, principal, answer.interaction_id, answer.action, answer.data, response_id
        )
    except (TransportError, Problem) as exc:
        if isinstance(exc, TransportError) or exc.status >= 500:
            # 503 or 504 say "try again": the same signed request must then not be a replay.
            # Sent again, it carries the same response_id, so it still counts once.
            await _forget(seen, verified.webhook_id)
        raise
    response.status_code = status
    return result


async def _forget(seen: SeenIds, webhook_id: str) -> None:
    try:
        await seen.forget(webhook_id)
    except TransportError:  # Redis is down too: the sender must re-sign with a new webhook-id
        log.warning("could not forget webhook-id %s after a failed answer", webhook_id)
