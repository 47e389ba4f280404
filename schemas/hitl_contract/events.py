"""Messages the broker emits: notifications for notifier bots and lifecycle events for anyone."""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from hitl_contract.claims import Claim
from hitl_contract.common import ErrorDetail, Message
from hitl_contract.kinds import InteractionRequest
from hitl_contract.outcome import InteractionOutcome
from hitl_contract.wire import REJECTED_SOURCES


class NotifyReason(StrEnum):
    REQUESTED = "requested"
    REMINDER = "reminder"
    ESCALATION = "escalation"


class Notification(Message):
    """Show this request to people on ``route``; answer with a HumanResponse."""

    interaction_id: UUID
    reason: NotifyReason
    route: str
    attempt: int = Field(ge=1)
    deadline: datetime | None = None
    request: InteractionRequest


class LifecycleEventName(StrEnum):
    REQUESTED = "requested"
    NOTIFIED = "notified"
    REMINDED = "reminded"
    ESCALATED = "escalated"
    VOTED = "voted"
    RESPONDED = "responded"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    REJECTED = "rejected"
    CLAIMED = "claimed"  # claimed or renewed
    RELEASED = "released"  # a claim released by its holder or an admin


EVENT_ID_PATTERN = (
    r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[0-9]+:[a-z_]+"
    rf"|rejected:({'|'.join(REJECTED_SOURCES)}):.+)$"
)


class LifecycleEvent(Message):
    """One step in an interaction's life. ``rejected`` carries the error of a refused message."""

    event: LifecycleEventName
    event_id: str | None = Field(
        default=None,
        pattern=EVENT_ID_PATTERN,
        description=(
            "Stable id of this event: '<interaction_id>:<version>:<event>' for a step of an "
            "interaction; 'rejected:<source>:<key>' for a refused message, where key is the "
            "message's message_id (or a digest of its body), or '<response_id>:<version>' for "
            "a refused answer. An event published again after a crash keeps its id: "
            "deduplicate on it."
        ),
    )
    interaction_id: UUID | None = None
    thread_id: str | None = None
    kind: str | None = None
    at: datetime
    response_id: UUID | None = None
    outcome: InteractionOutcome | None = None
    error: ErrorDetail | None = None
    route: str | None = Field(default=None, description="For notified, reminded, escalated.")
    receivers: list[str] | None = Field(
        default=None,
        description="For notified, reminded, escalated: every receiver notified in this step, "
        "when a routing config chose them (route is then the first of them).",
    )
    source: str | None = Field(default=None, description="Where a rejected message came from.")
    claim: Claim | None = Field(
        default=None, description="For claimed: the claim now held; for released: the one ended."
    )


class LifecycleEvents(Message):
    """Lifecycle events published together, as the body of one message on the events exchange.

    The broker gathers events for a short linger (50 ms by default), after the notifications
    and outcomes they accompany are confirmed, and sends them as one message per routing key
    ``<event>.<kind>``, so every event in a batch has the same name and kind and a binding
    such as ``resolved.*`` selects whole batches. Events of one interaction keep their order;
    deduplicate on ``event_id``.
    """

    events: list[LifecycleEvent] = Field(min_length=1)
