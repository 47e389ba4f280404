"""What hitl publishes: one message with the properties it sets, before it becomes frames."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from aio_pika.abc import FieldValue

PERSISTENT = 2  # AMQP delivery mode: written to disk
Headers = Mapping[str, FieldValue]


@dataclass(frozen=True, slots=True)
class Envelope:
    exchange: str
    routing_key: str
    body: bytes
    message_type: str
    message_id: str
    correlation_id: str | None = None
    headers: Headers = field(default_factory=dict)
    reply_to: str | None = None
