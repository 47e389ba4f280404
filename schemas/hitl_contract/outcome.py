"""The single outcome of an interaction, delivered to the request's ``reply_to``."""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field, JsonValue

from hitl_contract.common import ContractModel, Identity, JsonObject, Message


class OutcomeStatus(StrEnum):
    RESOLVED = "resolved"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


class DecidedBy(ContractModel):
    """Who or what decided: a person, the requester, the timeout, or a policy."""

    type: str = Field(description="person | requester | timeout | policy")
    identity: Identity | None = None
    channel: str | None = None


class InteractionOutcome(Message):
    interaction_id: UUID
    thread_id: str
    kind: str
    status: OutcomeStatus
    action: str
    data: JsonObject = Field(default_factory=dict)
    decided_by: DecidedBy
    response_id: UUID | None = None
    requested_at: datetime
    resolved_at: datetime
    resume_state: JsonValue = None
