"""What a client in any language needs besides the message bodies: names, arguments, AMQP
message types, routing keys, message ids and dead-letter headers, each defined once.

Pure: no I/O and no AMQP client. The broker, the SDK and the AsyncAPI document all use these.

Producers publish requests to ``<ns>.requests`` and read outcomes from ``<ns>.outcomes`` (routing
key = the request's ``reply_to``). Notifier bots bind to ``<ns>.notifications`` (``<route>.<kind>``)
and publish answers to ``<ns>.responses``. ``<ns>.events`` carries lifecycle events
(``<event>.<kind>``). Bad messages end in ``<ns>.dead-letter`` with headers saying why.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

import orjson
from pydantic import BaseModel

from hitl_contract.common import ErrorDetail

DEFAULT_NAMESPACE = "hitl"
NAMESPACE_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
DEFAULT_ROUTE = "default"  # a notification's route when the request names none

QueueType = Literal["quorum", "classic"]
DEFAULT_QUEUE_TYPE: QueueType = "quorum"
DEFAULT_DELIVERY_LIMIT = 5  # deliveries of a message that keeps failing, then dead-lettered

CONTENT_TYPE = "application/json"
PERSISTENT = 2  # AMQP delivery_mode of every message

# The AMQP ``type`` property of each message.
REQUEST_TYPE = "hitl.request"
RESPONSE_TYPE = "hitl.response"
CLAIM_TYPE = "hitl.claim"  # an InteractionClaim, on the responses exchange
NOTIFICATION_TYPE = "hitl.notification"
EVENT_TYPE = "hitl.events"
OUTCOME_TYPE = "hitl.outcome"
RECEIPT_TYPE = "hitl.receipt"
OUTBOX_ENTRY_TYPE = "hitl.outbox-entry"  # only on a parked, unreadable outbox entry


@dataclass(frozen=True, slots=True)
class Names:
    """Every exchange and queue name, from one namespace."""

    namespace: str

    @property
    def requests(self) -> str:
        return f"{self.namespace}.requests"

    @property
    def responses(self) -> str:
        return f"{self.namespace}.responses"

    @property
    def notifications(self) -> str:
        return f"{self.namespace}.notifications"

    @property
    def outcomes(self) -> str:
        return f"{self.namespace}.outcomes"

    @property
    def events(self) -> str:
        return f"{self.namespace}.events"

    @property
    def dead_letter(self) -> str:
        return f"{self.namespace}.dlx"

    @property
    def requests_queue(self) -> str:
        return f"{self.namespace}.broker.requests"

    @property
    def responses_queue(self) -> str:
        return f"{self.namespace}.broker.responses"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.namespace}.dead-letter"

    def notifier_queue(self, receiver: str) -> str:
        """A receiver's notifications, consumed by the notifier of its type (one queue per
        receiver, so a slow one never holds up the others)."""
        return f"{self.namespace}.notifier.{receiver}"

    def notifier_settled_queue(self, channel: str) -> str:
        """The final lifecycle events a notifier reads to update what it showed."""
        return f"{self.namespace}.notifier-settled.{channel}"

    def reply_queue(self, reply_to: str) -> str:
        return f"{self.namespace}.reply.{reply_to}"

    @property
    def exchanges(self) -> tuple[str, ...]:
        return (self.requests, self.responses, self.notifications, self.outcomes, self.events)


def queue_arguments(
    names: Names,
    queue_type: QueueType = DEFAULT_QUEUE_TYPE,
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT,
    *,
    dead_letter: bool = True,
) -> dict[str, str | int]:
    """The arguments every hitl queue is declared with; RabbitMQ refuses other ones."""
    args: dict[str, str | int] = {"x-queue-type": queue_type}
    if dead_letter:  # the dead-letter queue itself has nowhere further to send, and no limit
        args["x-dead-letter-exchange"] = names.dead_letter
        if queue_type == "quorum":
            args["x-delivery-limit"] = delivery_limit
    return args


# --- routing keys and message ids -----------------------------------------------------------


def notification_key(route: str, kind: str) -> str:
    return f"{route}.{kind}"


def event_key(event: str, kind: str | None) -> str:
    """``unknown`` for a rejected message whose kind could not be read."""
    return f"{event}.{kind or 'unknown'}"


def outcome_key(reply_to: str) -> str:
    """An outcome is routed by its request's ``reply_to``, unchanged."""
    return reply_to


def outcome_message_id(interaction_id: str) -> str:
    """The outcome's message_id: stable, so a consumer dedupes a rare second copy on it."""
    return f"outcome:{interaction_id}"


def notification_message_id(
    interaction_id: str, reason: str, attempt: int, receiver: str | None = None
) -> str:
    """A notification's message_id: one per reason and attempt, and per receiver when a
    routing config chose the receivers (one step then notifies several)."""
    base = f"notification:{interaction_id}:{reason}:{attempt}"
    return f"{base}:{receiver}" if receiver is not None else base


def receipt_message_id(response_id: UUID | None, result: str) -> str:
    """A receipt's message_id; ``response_id`` is ``None`` for an answer that could not be read."""
    return f"receipt:{response_id}:{result}"


# --- dead letters ---------------------------------------------------------------------------

# The stage that refused a dead-lettered message: its routing key on the dead-letter exchange,
# its x-hitl-source header, and the <source> of its rejected event's id.
DEAD_LETTER_SOURCES: tuple[str, ...] = (
    "requests",
    "responses",
    "unroutable",
    "outbox",
    "delivery",  # a notification no receiver could be sent, not even a fallback
)
# What a rejected event may come from: the dead-letter sources, a routing config file that
# was refused on reload (the broker keeps the previous one), and an outcome a resumer could not
# apply to its thread (hitl.integrations.langgraph; it parks it).
REJECTED_SOURCES: tuple[str, ...] = (*DEAD_LETTER_SOURCES, "routing", "resume")

# (header, always present, meaning) of a dead-lettered message.
DEAD_LETTER_HEADERS: tuple[tuple[str, bool, str], ...] = (
    ("x-hitl-error-code", True, "Why: one of the ErrorCode values."),
    ("x-hitl-error-message", True, "What was wrong, for a person."),
    ("x-hitl-error-path", True, "Where in the message, e.g. 'options[2]'; '' for the whole."),
    ("x-hitl-error-allowed", True, "JSON text: the values that would have been valid, or null."),
    ("x-hitl-error-got", True, "JSON text: what was sent there (truncated), or null."),
    (
        "x-hitl-source",
        True,
        "Which stage refused it: requests, responses, unroutable, outbox or delivery.",
    ),
    ("x-original-exchange", True, "The exchange the message was first published to."),
    ("x-original-routing-key", True, "Its routing key there."),
    ("x-hitl-rejected-at", True, "When, as an ISO 8601 UTC timestamp."),
)


def dead_letter_headers(
    detail: ErrorDetail, source: str, exchange: str, routing_key: str
) -> dict[str, str]:
    values = (
        detail.code.value,
        detail.message,
        detail.path or "",
        orjson.dumps(detail.allowed).decode(),
        orjson.dumps(detail.got).decode(),
        source,
        exchange,
        routing_key,
        datetime.now(UTC).isoformat(),
    )
    return {name: value for (name, _, _), value in zip(DEAD_LETTER_HEADERS, values, strict=True)}


def encode_model(model: BaseModel) -> bytes:
    """A message body: JSON in one pass of pydantic's compiled serializer."""
    return model.__pydantic_serializer__.to_json(model)
