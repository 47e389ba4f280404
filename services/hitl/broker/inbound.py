"""A delivery as the envelope it was published with, and where its sender waits for a receipt.

Dead letters carry the envelope as first sent; receipts go to the ``ReplyTarget``.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from hitl.core.tracecontext import TraceContext
from hitl.ports import Delivery, Envelope, Headers

_NO_HEADERS: Headers = {}  # a delivery without headers (most): never written to


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """Where the sender of an answer waits for its receipt (AMQP reply_to, correlation_id),
    and the answer's trace context, which the receipt carries back."""

    reply_to: str | None
    correlation_id: str | None
    trace: TraceContext | None = None


def message_key(message_id: str | None, body: bytes) -> str:
    """A stable name for a message, so a redelivery produces the same ids downstream: its
    message_id when that is plain printable text (it becomes part of event ids), else a digest
    of its body."""
    if message_id and len(message_id) <= _MAX_KEY and message_id.isprintable():
        return message_id
    return hashlib.blake2b(body, digest_size=12).hexdigest()


_MAX_KEY = 200


def received(delivery: Delivery) -> tuple[Envelope, ReplyTarget]:
    envelope = Envelope(
        delivery.exchange or "",
        delivery.routing_key or "",
        delivery.body,
        delivery.type or "unknown",
        message_key(delivery.message_id, delivery.body),
        delivery.correlation_id,
        _kept(delivery.headers) if delivery.headers else _NO_HEADERS,
        delivery.reply_to,
    )
    return envelope, ReplyTarget(delivery.reply_to, delivery.correlation_id)


def _kept(headers: Mapping[str, object]) -> Headers:
    """The headers an envelope can carry on (text, numbers, flags: the trace context's)."""
    return {k: v for k, v in headers.items() if isinstance(v, str | int | bool)}
