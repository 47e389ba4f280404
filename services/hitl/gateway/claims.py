"""Claims over HTTP: ``POST /v1/interactions/{id}/claim`` takes or renews a claim as the key's
identity, ``DELETE`` releases it (as its holder, or as an admin key). The broker decides
(``hitl.core.claims``) and its receipt becomes the HTTP answer: 200 with the claim; 403
``not-allowed``; 409 ``claimed`` naming who holds it and until when (``claimed_by``,
``claimed_until``, ``claim``); 409 ``already-resolved``; 404; 422 for a ttl above the bound.
"""

from uuid import UUID, uuid4

from hitl.gateway.answers import already_resolved, claimed_problem, unknown
from hitl.gateway.deps import GatewayContext, Principal, Scope
from hitl.gateway.handlers import from_detail
from hitl.gateway.models import ClaimResult
from hitl.gateway.problems import Problem
from hitl_contract import (
    ClaimAction,
    ErrorCode,
    InteractionClaim,
    ReceiptResult,
    ResponseReceipt,
)


async def claim(
    ctx: GatewayContext,
    principal: Principal,
    interaction_id: UUID,
    action: ClaimAction,
    *,
    ttl_seconds: int | None = None,
    team: str | None = None,
) -> ClaimResult:
    """Send a claim or release as ``principal`` and wait for the broker's receipt."""
    if await ctx.reads.answerers(interaction_id) is None:  # a mistyped id never waits
        raise unknown(interaction_id)
    message = InteractionClaim(
        interaction_id=interaction_id,
        claim_id=uuid4(),
        action=action,
        by=principal.identity,
        team=team,
        ttl_seconds=ttl_seconds,
        admin=action == ClaimAction.RELEASE and Scope.ADMIN in principal.scopes,
        channel=principal.channel,
    )
    timeout = ctx.settings.gateway_receipt_timeout_seconds
    try:
        receipt = await ctx.broker.claim(message, timeout)
    except TimeoutError as exc:
        raise Problem(
            504,
            "receipt-timeout",
            "No receipt in time",
            f"the broker did not confirm the {action.value} within {timeout:g}s; "
            f"GET /v1/interactions/{interaction_id} shows whether it holds",
        ) from exc
    return claimed(receipt, interaction_id)


def claimed(receipt: ResponseReceipt, interaction_id: UUID) -> ClaimResult:
    if receipt.result == ReceiptResult.ACCEPTED:
        return ClaimResult(interaction_id=interaction_id, claim=receipt.claim)
    if receipt.result == ReceiptResult.ALREADY_RESOLVED and receipt.outcome is not None:
        raise already_resolved(receipt.outcome)
    if receipt.result == ReceiptResult.UNKNOWN_INTERACTION:
        raise unknown(interaction_id)
    error = receipt.error
    if error is None:
        raise Problem(502, "bad-receipt", "Unexpected receipt", f"result {receipt.result}")
    if error.code == ErrorCode.CLAIMED and receipt.claim is not None:
        raise claimed_problem(error, receipt.claim)
    if error.code == ErrorCode.NOT_ALLOWED:
        raise from_detail(403, "not-allowed", "Not allowed", error)
    raise from_detail(422, "invalid-claim", "Invalid claim", error)
