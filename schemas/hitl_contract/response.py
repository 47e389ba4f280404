"""What a person (or the requester) answers, and the receipt the answer gets back."""

from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from pydantic import Field

from hitl_contract.claims import Claim
from hitl_contract.common import ErrorDetail, Identity, JsonObject, Message
from hitl_contract.outcome import InteractionOutcome


class HumanResponse(Message):
    """An answer to one interaction. ``action`` and ``data`` are checked against its kind."""

    interaction_id: UUID
    response_id: UUID = Field(
        default_factory=uuid4, description="Idempotency key: a redelivered answer is one answer."
    )
    action: str = Field(min_length=1, max_length=64, description="e.g. approve, reject, cancel.")
    data: JsonObject = Field(default_factory=dict)
    responder: Identity
    channel: str = Field(
        default="api", min_length=1, max_length=64, description="terminal, cli, sdk, webhook..."
    )
    responded_at: datetime | None = None


class ReceiptResult(StrEnum):
    ACCEPTED = "accepted"
    RECORDED = "recorded"  # a vote that does not decide yet
    HELD = "held"  # arrived before its request; applied when the request comes
    ALREADY_RESOLVED = "already_resolved"
    REJECTED = "rejected"
    UNKNOWN_INTERACTION = "unknown_interaction"


class ResponseReceipt(Message):
    """Sent to the AMQP ``reply_to`` of a response (or of a claim), when it has one."""

    interaction_id: UUID | None
    response_id: UUID | None
    result: ReceiptResult
    outcome: InteractionOutcome | None = Field(
        default=None, description="The outcome, for accepted (when decisive) and already_resolved."
    )
    error: ErrorDetail | None = None
    claim: Claim | None = Field(
        default=None,
        description="For a claim: the claim now held (accepted; none after a release), or the "
        "claim in the way (rejected with error code 'claimed'); for an answer refused as "
        "'claimed': the claim in the way.",
    )
