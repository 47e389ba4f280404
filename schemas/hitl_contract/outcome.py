"""The single outcome of an interaction, delivered to the request's ``reply_to``."""

from datetime import datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import Field, JsonValue

from hitl_contract.common import ContractModel, Identity, JsonObject, Message


class OutcomeStatus(StrEnum):
    RESOLVED = "resolved"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


class DecidedBy(ContractModel):
    """Who or what decided: a person, the requester, the timeout, an auto-approve policy, or
    the votes of several responders under the request's decision policy."""

    type: Literal["person", "requester", "timeout", "policy", "responders"]
    identity: Identity | None = None
    channel: str | None = None
    policy: str | None = Field(
        default=None, description="The auto-approve rule, or the decision policy, that decided."
    )


class Vote(ContractModel):
    """One responder's answer under a multi-person decision policy (the latest one counts)."""

    responder: Identity
    channel: str
    action: str
    data: JsonObject = Field(default_factory=dict)
    response_id: UUID
    at: datetime


class InteractionOutcome(Message):
    interaction_id: UUID
    thread_id: str
    kind: str
    status: OutcomeStatus
    action: str
    data: JsonObject = Field(default_factory=dict)
    decided_by: DecidedBy
    response_id: UUID | None = None
    votes: list[Vote] = Field(
        default_factory=list, description="Every vote, for all_of and quorum decisions."
    )
    requested_at: datetime
    resolved_at: datetime
    resume_state: JsonValue = None
