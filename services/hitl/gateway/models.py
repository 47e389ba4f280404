"""The bodies of the REST API (``/v1``), as pydantic models: what /openapi.json publishes.

Request bodies refuse unknown fields, like the wire contract; the interaction's own parts
(request, outcome, votes, history) are the contract's models, so the HTTP and AMQP sides
describe an interaction the same way.
"""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from hitl_contract import (
    Claim,
    HistoryEntry,
    Identity,
    InteractionOutcome,
    InteractionRequest,
    JsonObject,
    ReceiptResult,
    Vote,
)
from hitl_contract.claims import MOST_CLAIM_SECONDS

Status = Literal["pending", "resolved", "cancelled", "timed_out"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AnswerBody(Body):
    """An answer, as the key's identity (the responder is never taken from the body)."""

    action: str = Field(min_length=1, max_length=64, description="e.g. approve, reject, choose.")
    data: JsonObject = Field(default_factory=dict, description="The answer's fields, per kind.")
    response_id: UUID | None = Field(
        default=None,
        description="Idempotency key: sending the same answer again with it is one answer. "
        "Generated when absent.",
    )


class CancelBody(Body):
    reason: str | None = Field(default=None, max_length=1024, description="Why, for the record.")


class InteractionSummary(BaseModel):
    """One interaction in a listing."""

    id: UUID
    kind: str
    status: Status
    thread_id: str
    node_name: str | None
    requester: Identity
    prompt: str
    labels: dict[str, str]
    requested_at: datetime
    deadline: datetime | None = Field(description="When it times out, if it does.")
    time_waiting_seconds: float = Field(description="Pending: so far; finished: until decided.")
    time_left_seconds: float | None = Field(description="Until the deadline, while pending.")
    actions: list[str] = Field(description="The actions it may be answered with (pending only).")
    claim: Claim | None = Field(
        default=None, description="Who holds it, while a claim holds (docs/gateway.md#claims)."
    )


class InteractionPage(BaseModel):
    items: list[InteractionSummary]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= with the same filters for the next page; null at the end."
    )


class ThreadPending(BaseModel):
    thread_id: str
    pending: bool = Field(description="Whether anything in the thread waits for a person.")
    items: list[InteractionSummary] = Field(description="Its pending interactions, oldest first.")
    next_cursor: str | None


class InteractionDetail(BaseModel):
    """One interaction: the request as accepted, where it stands, and its history."""

    id: UUID
    status: Status
    version: int = Field(description="Grows by one with every change.")
    requested_at: datetime
    deadline: datetime | None
    timers: dict[str, datetime] = Field(
        description="Pending timers (timeout, remind, escalate:N) and when each fires."
    )
    route: str
    notifications: int
    reminders: int
    actions: list[str]
    votes: list[Vote]
    outcome: InteractionOutcome | None
    request: InteractionRequest
    history: list[HistoryEntry] = Field(description="Every step of its life, oldest first.")
    claim: Claim | None = Field(
        default=None, description="Who holds it, while a claim holds (docs/gateway.md#claims)."
    )


class AnswerResult(BaseModel):
    """What became of an answer: the broker's receipt."""

    result: ReceiptResult = Field(description="accepted (it decided), recorded (a vote), held.")
    interaction_id: UUID
    response_id: UUID
    outcome: InteractionOutcome | None = Field(
        description="The outcome, when the answer decided the interaction."
    )


class ClaimBody(Body):
    """A claim as the key's identity (never taken from the body)."""

    ttl_seconds: int | None = Field(
        default=None,
        ge=1,
        le=MOST_CLAIM_SECONDS,
        description="How long it holds; default and bound are the broker's "
        "(HITL_CLAIM_TTL_SECONDS, HITL_CLAIM_MAX_TTL_SECONDS).",
    )
    team: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="Claim for this team (one of the key identity's groups): its members may "
        "answer.",
    )


class ClaimResult(BaseModel):
    """What a claim or release left: the claim now held (none after a release)."""

    interaction_id: UUID
    claim: Claim | None


class Created(BaseModel):
    """A request created over HTTP: its outcome if decided within ?wait=, else pending."""

    id: UUID
    status: Status
    outcome: InteractionOutcome | None
