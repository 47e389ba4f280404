"""Answers and cancels over HTTP: checked against the store, sent to the broker as the key's
identity, and the broker's receipt turned into the HTTP answer.

The store is read first, so an answer to a mistyped id is a 404 here and never waits in the
broker as an early answer, and a key whose identity may not answer is refused (403) without
anything being sent or recorded. That read is the interaction's status and who may answer it
(``InteractionReads.answerers``), not the whole interaction. Everything else (is the answer
valid, is it too late, does it decide) is the broker's to say: it is the one writer.
"""

from datetime import UTC, datetime
from uuid import UUID, uuid4

from hitl.core.decisions import check_answerer
from hitl.errors import NotAllowed
from hitl.gateway.deps import GatewayContext, Principal
from hitl.gateway.handlers import from_detail
from hitl.gateway.models import AnswerResult
from hitl.gateway.problems import Problem
from hitl_contract import (
    Claim,
    ErrorCode,
    ErrorDetail,
    HumanResponse,
    InteractionOutcome,
    JsonObject,
    ReceiptResult,
    ResponseReceipt,
)

_ANSWERED = {ReceiptResult.ACCEPTED: 200, ReceiptResult.RECORDED: 202, ReceiptResult.HELD: 202}


async def submit(
    ctx: GatewayContext,
    principal: Principal,
    interaction_id: UUID,
    action: str,
    data: JsonObject,
    response_id: UUID | None,
) -> tuple[int, AnswerResult]:
    """(HTTP status, result) of an accepted, recorded or held answer; a ``Problem`` else."""
    answerers = await ctx.reads.answerers(interaction_id)  # not the whole interaction
    if answerers is None:
        raise unknown(interaction_id)
    if principal.vouched and principal.identity.id == answerers.requester:
        raise Problem(
            403,
            "not-allowed",
            "Not an allowed responder",
            f"{principal.channel} may not answer as the requester {answerers.requester}: a "
            "requester's answer decides whatever the decision policy, so it answers with a key "
            "of its own or over AMQP",
            code=ErrorCode.NOT_ALLOWED.value,
            path="responder.id",
            got=principal.identity.id,
        )
    response = HumanResponse(
        interaction_id=interaction_id,
        response_id=response_id or uuid4(),
        action=action,
        data=data,
        responder=principal.identity,
        channel=principal.channel,
        responded_at=datetime.fromtimestamp(ctx.clock(), UTC),
    )
    if answerers.pending:
        try:
            check_answerer(answerers.responders, answerers.requester, response)
        except NotAllowed as exc:
            raise _not_allowed(exc.detail.allowed, principal) from exc
    timeout = ctx.settings.gateway_receipt_timeout_seconds
    try:
        receipt = await ctx.broker.answer(response, timeout)
    except TimeoutError as exc:
        raise Problem(
            504,
            "receipt-timeout",
            "No receipt in time",
            f"the broker did not confirm the answer within {timeout:g}s. It may still be "
            f"applied: GET /v1/interactions/{interaction_id} shows the interaction's status; "
            f"sending the answer again with response_id {response.response_id} is safe (it "
            "counts once)",
            response_id=str(response.response_id),
        ) from exc
    return _answered(receipt, response)


def _answered(receipt: ResponseReceipt, response: HumanResponse) -> tuple[int, AnswerResult]:
    status = _ANSWERED.get(receipt.result)
    if status is not None:
        result = AnswerResult(
            result=receipt.result,
            interaction_id=response.interaction_id,
            response_id=response.response_id,
            outcome=receipt.outcome,
        )
        return status, result
    if receipt.result == ReceiptResult.ALREADY_RESOLVED and receipt.outcome is not None:
        raise already_resolved(receipt.outcome)
    if receipt.result == ReceiptResult.UNKNOWN_INTERACTION:
        raise unknown(response.interaction_id)
    error = receipt.error
    if error is None:  # a receipt the contract does not describe: say what came
        raise Problem(502, "bad-receipt", "Unexpected receipt", f"result {receipt.result}")
    if error.code == ErrorCode.NOT_ALLOWED:
        raise from_detail(403, "not-allowed", "Not an allowed responder", error)
    if error.code == ErrorCode.CLAIMED and receipt.claim is not None:
        raise claimed_problem(error, receipt.claim)
    raise from_detail(422, "invalid-answer", "Invalid answer", error)


def unknown(interaction_id: UUID) -> Problem:
    return Problem(
        404,
        "unknown-interaction",
        "Unknown interaction",
        f"no interaction {interaction_id}: never asked, past its retention, or in another "
        "namespace",
        code=ErrorCode.UNKNOWN_INTERACTION.value,
        path="interaction_id",
        got=str(interaction_id),
    )


def already_resolved(outcome: InteractionOutcome) -> Problem:
    recorded = outcome.model_dump(mode="json")
    who = outcome.decided_by
    by = who.identity.id if who.identity else who.policy or who.type
    return Problem(
        409,
        "already-resolved",
        "Already resolved",
        f"the interaction is {outcome.status.value} ({outcome.action}) by {who.type} {by} at "
        f"{outcome.resolved_at.isoformat()}" + (f" via {who.channel}" if who.channel else ""),
        decided_by=recorded["decided_by"],
        resolved_at=recorded["resolved_at"],
        outcome=recorded,
    )


def claimed_problem(error: ErrorDetail, claim: Claim) -> Problem:
    """409: someone else holds a claim on the interaction; who, and until when."""
    held = claim.model_dump(mode="json")
    return Problem(
        409,
        "claimed",
        "Claimed by someone else",
        error.message,
        code=error.code.value,
        path=error.path,
        allowed=error.allowed,
        got=error.got,
        claimed_by=held["holder"],
        claimed_until=held["until"],
        claim=held,
    )


def _not_allowed(allowed: list[object] | None, principal: Principal) -> Problem:
    return Problem(
        403,
        "not-allowed",
        "Not an allowed responder",
        f"{principal.identity.id} (key {principal.key_id}) is not among the responders this "
        "interaction allows",
        code=ErrorCode.NOT_ALLOWED.value,
        path="responder.id",
        allowed=allowed,
        got=principal.identity.id,
    )
