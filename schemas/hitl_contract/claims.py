"""Claims: a responder (or a team) takes a pending interaction for a while, so that two people
do not work on the same question. While a claim holds, only its holder (or, for a team's
claim, the team's members) may answer; the requester may still cancel. A claim ends when it
expires (``until``), when its holder releases it, when an admin releases it, or when the
interaction is decided. A claim by its holder again renews it.

Claims travel to the broker like answers: an ``InteractionClaim`` published on
``<ns>.responses`` with AMQP type ``hitl.claim``; the broker, the one writer, applies it with
the same compare-and-set as an answer and sends a ``ResponseReceipt`` (its ``response_id`` is
the ``claim_id``) to the AMQP ``reply_to``.
"""

from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from pydantic import Field

from hitl_contract.common import ContractModel, Identity, Message

MOST_CLAIM_SECONDS = 7 * 24 * 3600  # no claim is asked for longer (the broker's bound may be less)


class ClaimAction(StrEnum):
    CLAIM = "claim"  # take it, or renew one's own claim
    RELEASE = "release"


class Claim(ContractModel):
    """Who holds an interaction, and until when."""

    holder: Identity = Field(description="Who claimed it (or last renewed the claim).")
    team: str | None = Field(
        default=None,
        description="A team's claim: every member of this group (Identity.groups) may answer.",
    )
    claimed_at: datetime = Field(description="When the claim was first taken.")
    until: datetime = Field(description="When it expires unless renewed.")
    claim_id: UUID = Field(description="The InteractionClaim that took or last renewed it.")


class InteractionClaim(Message):
    """Claim, renew or release a pending interaction, as ``by``."""

    interaction_id: UUID
    claim_id: UUID = Field(
        default_factory=uuid4,
        description="Idempotency key: a redelivered claim is one claim. The receipt's response_id.",
    )
    action: ClaimAction = ClaimAction.CLAIM
    by: Identity = Field(description="Who claims or releases.")
    team: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="Claim for this team (one of by.groups) instead of for `by` alone.",
    )
    ttl_seconds: int | None = Field(
        default=None,
        ge=1,
        le=MOST_CLAIM_SECONDS,
        description="How long the claim holds; default and upper bound are the broker's "
        "(HITL_CLAIM_TTL_SECONDS, HITL_CLAIM_MAX_TTL_SECONDS).",
    )
    admin: bool = Field(
        default=False,
        description="Release someone else's claim. Honoured only from the services in "
        "trusted_answer_services (the gateway sets it for an admin key).",
    )
    channel: str = Field(default="api", min_length=1, max_length=64)
