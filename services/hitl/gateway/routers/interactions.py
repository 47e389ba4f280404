"""``/v1/interactions``: list and filter, read one with its history, answer, cancel, create."""

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import StringConstraints

from hitl.core.listing import waiting_for_identity
from hitl.gateway import answers, claims, creating, views
from hitl.gateway.cursors import Filters
from hitl.gateway.deps import Principal, Scope, context, require
from hitl.gateway.models import (
    AnswerBody,
    AnswerResult,
    CancelBody,
    ClaimBody,
    ClaimResult,
    Created,
    InteractionDetail,
    InteractionPage,
    Status,
)
from hitl.gateway.openapi import AUTHENTICATED, WITH_BODY, problems
from hitl.gateway.pages import page
from hitl.gateway.problems import Problem
from hitl_contract import KIND_NAMES, ClaimAction

router = APIRouter(prefix="/v1/interactions", tags=["interactions"])

Reader = Annotated[Principal, Depends(require(Scope.READ))]
Responder = Annotated[Principal, Depends(require(Scope.RESPOND))]
Requester = Annotated[Principal, Depends(require(Scope.REQUEST))]
InteractionId = Annotated[UUID, Path(description="The interaction's id.")]
Kind = Annotated[
    str | None, Query(description="One of the kinds.", json_schema_extra={"enum": list(KIND_NAMES)})
]
Label = Annotated[str, StringConstraints(pattern=r"^[^=]{1,256}=.{0,1024}$")]
REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "An interaction request as on the wire (schemas/json/interaction-"
        "request.schema.json), except: `id` is generated when absent, `reply_to` defaults to "
        "`http`, and `requester` is always the API key's identity.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewRequest"}}},
    }
}


@router.get(
    "",
    response_model=InteractionPage,
    summary="List interactions",
    responses=problems(400, *AUTHENTICATED),
)
async def list_interactions(
    request: Request,
    who: Reader,
    status: Status | None = None,
    kind: Kind = None,
    thread_id: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    label: Annotated[
        list[Label] | None,
        Query(description="key=value; repeat for several (all must match)."),
    ] = None,
    requester: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    node: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    waiting_for: Annotated[
        Literal["me"] | None,
        Query(description="me: pending interactions the key's identity or groups may answer."),
    ] = None,
    order: Literal["newest", "oldest"] = "newest",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=512, description="A page's next_cursor.")
    ] = None,
) -> InteractionPage:
    if kind is not None and kind not in KIND_NAMES:
        raise Problem(
            400,
            "invalid-request",
            "Invalid request parameters",
            f"kind: no kind {kind!r}",
            path="kind",
            allowed=list(KIND_NAMES),
            got=kind,
        )
    filters = Filters(
        status=status,
        kind=kind,
        thread_id=thread_id,
        requester=requester,
        node=node,
        waiting_for=waiting_for_identity(who.identity) if waiting_for else None,
        labels=_labels(label or []),
        newest_first=order == "newest",
    )
    items, next_cursor = await page(context(request), filters, limit, cursor)
    return InteractionPage(items=items, next_cursor=next_cursor)


@router.post(
    "",
    status_code=201,
    response_model=Created,
    summary="Create an interaction request",
    responses={
        202: {"model": Created, "description": "Published; no outcome yet (status pending)."},
        **problems(409, *WITH_BODY, *AUTHENTICATED),
    },
    openapi_extra=REQUEST_BODY,
)
async def create_interaction(
    request: Request,
    response: Response,
    who: Requester,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=3600,
            description="Seconds to wait for the outcome (bounded by the "
            "gateway's HITL_GATEWAY_MAX_WAIT_SECONDS).",
        ),
    ] = 0,
) -> Created:
    ctx = context(request)
    status, created = await creating.create(ctx, who, await request.body(), wait)
    response.status_code = status
    response.headers["Location"] = f"{router.prefix}/{created.id}"
    return created


@router.get(
    "/{interaction_id}",
    response_model=InteractionDetail,
    summary="One interaction, with its history",
    responses=problems(400, 404, *AUTHENTICATED),
)
async def get_interaction(
    request: Request, who: Reader, interaction_id: InteractionId
) -> InteractionDetail:
    ctx = context(request)
    state = await ctx.reads.load(interaction_id)
    if state is None:
        raise answers.unknown(interaction_id)
    return views.detail(state, await ctx.reads.history(interaction_id), ctx.clock())


@router.post(
    "/{interaction_id}/responses",
    response_model=AnswerResult,
    summary="Answer an interaction as the key's identity",
    responses={
        202: {"model": AnswerResult, "description": "Recorded as a vote; no decision yet."},
        **problems(404, 409, 504, *WITH_BODY, *AUTHENTICATED),
    },
)
async def respond(
    request: Request,
    response: Response,
    who: Responder,
    interaction_id: InteractionId,
    body: AnswerBody,
) -> AnswerResult:
    ctx = context(request)
    status, result = await answers.submit(
        ctx, who, interaction_id, body.action, body.data, body.response_id
    )
    response.status_code = status
    return result


@router.post(
    "/{interaction_id}/cancel",
    response_model=AnswerResult,
    summary="Cancel an interaction as the key's identity",
    responses=problems(404, 409, 504, *WITH_BODY, *AUTHENTICATED),
)
async def cancel(
    request: Request,
    who: Responder,
    interaction_id: InteractionId,
    body: CancelBody | None = None,
) -> AnswerResult:
    reason = body.reason if body is not None else None
    data: dict[str, Any] = {"reason": reason} if reason else {}
    _, result = await answers.submit(context(request), who, interaction_id, "cancel", data, None)
    return result


@router.post(
    "/{interaction_id}/claim",
    response_model=ClaimResult,
    summary="Claim (or renew a claim on) an interaction as the key's identity",
    description="While the claim holds, only its holder (or the claiming team's members) may "
    "answer; others get 409 `claimed` naming the holder and expiry (docs/gateway.md#claims).",
    responses=problems(404, 409, 422, 504, *WITH_BODY, *AUTHENTICATED),
)
async def claim(
    request: Request, who: Responder, interaction_id: InteractionId, body: ClaimBody | None = None
) -> ClaimResult:
    body = body or ClaimBody()
    return await claims.claim(
        context(request),
        who,
        interaction_id,
        ClaimAction.CLAIM,
        ttl_seconds=body.ttl_seconds,
        team=body.team,
    )


@router.delete(
    "/{interaction_id}/claim",
    response_model=ClaimResult,
    summary="Release a claim: as its holder, or with an admin key",
    responses=problems(404, 409, 504, *AUTHENTICATED),
)
async def release(request: Request, who: Responder, interaction_id: InteractionId) -> ClaimResult:
    return await claims.claim(context(request), who, interaction_id, ClaimAction.RELEASE)


def _labels(pairs: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if labels.get(key, value) != value:
            raise Problem(
                400,
                "invalid-request",
                "Invalid request parameters",
                f"label: {key!r} is given twice with different values; no interaction has both",
                path="label",
                got=pairs,
            )
        labels[key] = value
    return labels
