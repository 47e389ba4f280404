"""An incoming message held in memory, as the handlers read one (``hitl.ports.Delivery``)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class MemoryDelivery:
    body: bytes
    exchange: str | None = None
    routing_key: str | None = None
    type: str | None = None
    message_id: str | None = None
    correlation_id: str | None = None
    reply_to: str | None = None
    headers: Mapping[str, Any] = field(default_factory=dict)
    user_id: str | None = None
