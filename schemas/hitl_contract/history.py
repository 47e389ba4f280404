"""An interaction's audit history: every step of its life, kept with it for its retention.

The broker appends entries in the same atomic Redis step as the transition they record, so the
history never says more or less than what happened. Readers (the gateway, ``hitl show``) get
them oldest first.
"""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from hitl_contract.claims import Claim
from hitl_contract.common import ContractModel, ErrorDetail, Identity


class HistoryEvent(StrEnum):
    REQUESTED = "requested"
    NOTIFIED = "notified"
    REMINDED = "reminded"
    ESCALATED = "escalated"
    VOTED = "voted"
    RESPONDED = "responded"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    REFUSED = "refused"  # an answer the broker would not take; the interaction did not change
    LATE = "late"  # an answer that came after the outcome (a second click)
    CLAIMED = "claimed"  # claimed or renewed (by: who)
    RELEASED = "released"  # a claim released (by: its holder, or an admin)
    # Written by notifiers, one per delivery attempt and what followed:
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    FELL_BACK = "fell_back"  # delivery failed for good; the route's fallback receiver was sent it
    UNDELIVERED = "undelivered"  # failed for good with no fallback: dead-lettered
    UPDATED = "updated"  # what a receiver was shown now says the interaction is settled


class HistoryEntry(ContractModel):
    """One step: when, what, who, through which channel, and the answer it came from."""

    at: datetime
    event: HistoryEvent
    version: int = Field(
        description="The interaction's version after this step (for deliveries, the version "
        "of the notification's step is not known: 0)."
    )
    by: Identity | None = Field(
        default=None, description="Who: the responder, or the requester for 'requested'."
    )
    decided_by: str | None = Field(
        default=None,
        description="For a final step: person, requester, timeout, policy or responders.",
    )
    channel: str | None = Field(default=None, description="Where the answer came from.")
    response_id: UUID | None = None
    action: str | None = Field(default=None, description="The answer's or the outcome's action.")
    route: str | None = Field(
        default=None, description="For notified, reminded, escalated: where it was sent."
    )
    receivers: list[str] | None = Field(
        default=None, description="Every receiver notified in this step (routing config)."
    )
    policy: str | None = Field(default=None, description="The policy that decided, if one did.")
    error: ErrorDetail | None = Field(default=None, description="Why an answer was refused.")
    receiver: str | None = Field(default=None, description="For deliveries: the receiver.")
    attempt: int | None = Field(default=None, description="For deliveries: try number, from 1.")
    latency_ms: float | None = Field(default=None, description="For deliveries: how long it took.")
    reference: str | None = Field(
        default=None, description="For deliveries: what identifies the message at the receiver."
    )
    detail: str | None = Field(
        default=None, description="For deliveries: the outcome, e.g. 'HTTP 503', or the error."
    )
    claim: Claim | None = Field(
        default=None, description="For claimed: the claim taken; for released: the one ended."
    )
