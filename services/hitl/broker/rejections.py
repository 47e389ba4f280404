"""What happens to a message hitl cannot use: a copy in the dead-letter queue with headers that
say what was wrong and where, a ``rejected`` lifecycle event, a metric, and, for an answer whose
sender left a ``reply_to``, a receipt. The consumer keeps running."""

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from aio_pika.abc import AbstractIncomingMessage

from hitl.adapters.amqp.envelope import Envelope
from hitl.adapters.amqp.publisher import Publisher
from hitl.broker.outbound import event_message
from hitl.broker.sending import Sender
from hitl.errors import TransportError
from hitl.observability.metrics import Metrics
from hitl_contract import (
    ErrorDetail,
    LifecycleEvent,
    LifecycleEventName,
    ReceiptResult,
    ResponseReceipt,
)
from hitl_contract.wire import (
    RECEIPT_TYPE,
    Names,
    dead_letter_headers,
    encode_model,
    receipt_message_id,
)

log = logging.getLogger(__name__)


def message_key(message_id: str | None, body: bytes) -> str:
    """A stable name for a message, so a redelivery produces the same ids downstream."""
    return message_id or hashlib.blake2b(body, digest_size=12).hexdigest()


class Rejections:
    def __init__(
        self, publisher: Publisher, sender: Sender, names: Names, metrics: Metrics
    ) -> None:
        self._publisher = publisher
        self._sender = sender
        self._names = names
        self._metrics = metrics

    async def park(self, envelope: Envelope, detail: ErrorDetail, source: str) -> None:
        """Publish a copy of ``envelope`` (as first sent) to the dead-letter exchange."""
        headers = dead_letter_headers(detail, source, envelope.exchange, envelope.routing_key)
        parked = await self._publisher.publish(
            Envelope(
                self._names.dead_letter,
                source,
                envelope.body,
                envelope.message_type,
                message_key(envelope.message_id, envelope.body),
                envelope.correlation_id,
                headers,
            )
        )
        if not parked:  # never ack a message we could not park: keep it for redelivery
            raise TransportError(
                f"no queue is bound to {self._names.dead_letter!r}; "
                "the dead-letter queue is missing"
            )
        self._metrics.dead_lettered.labels(source, detail.code.value).inc()

    async def dead_letter(
        self,
        original: Envelope,
        detail: ErrorDetail,
        source: str,
        *,
        reply: "ReplyTarget | None" = None,
        interaction_id: UUID | None = None,
        thread_id: str | None = None,
        kind: str | None = None,
        result: ReceiptResult = ReceiptResult.REJECTED,
    ) -> None:
        """Park a message we cannot process, and tell everyone why."""
        log.warning(
            "dead-lettering a message from %s: %s at %s",
            source,
            detail.message,
            detail.path or "<root>",
        )
        await self.park(original, detail, source)
        await self.report(
            detail,
            source,
            original.message_id,
            interaction_id=interaction_id,
            thread_id=thread_id,
            kind=kind,
            reply=reply,
            result=result,
        )

    async def report(
        self,
        detail: ErrorDetail,
        source: str,
        key: str,
        *,
        interaction_id: UUID | None,
        thread_id: str | None = None,
        kind: str | None = None,
        response_id: UUID | None = None,
        reply: "ReplyTarget | None" = None,
        result: ReceiptResult = ReceiptResult.REJECTED,
    ) -> None:
        """A ``rejected`` event and, for a responder waiting on ``reply_to``, a receipt."""
        self._metrics.errors.labels(source, detail.code.value).inc()
        event = LifecycleEvent(
            event=LifecycleEventName.REJECTED,
            event_id=f"rejected:{source}:{key}",
            interaction_id=interaction_id,
            thread_id=thread_id,
            kind=kind,
            at=datetime.now(UTC),
            response_id=response_id,
            error=detail,
            source=source,
        )
        await self._sender.send(event_message(event, self._names, f"event:{event.event_id}"))
        await self.receipt(
            reply,
            ResponseReceipt(
                interaction_id=interaction_id, response_id=response_id, result=result, error=detail
            ),
        )

    async def receipt(self, reply: "ReplyTarget | None", receipt: ResponseReceipt) -> None:
        if reply is None or not reply.reply_to:
            return
        cid = reply.correlation_id or (str(receipt.response_id) if receipt.response_id else None)
        await self._publisher.publish(
            Envelope(
                "",
                reply.reply_to,
                encode_model(receipt),
                RECEIPT_TYPE,
                receipt_message_id(receipt.response_id, receipt.result),
                cid,
            ),
            mandatory=False,
        )


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """Where the sender of an answer waits for its receipt (AMQP reply_to, correlation_id)."""

    reply_to: str | None
    correlation_id: str | None


def received(message: AbstractIncomingMessage) -> tuple[Envelope, ReplyTarget]:
    """A delivery as the envelope it was published with, and where its sender waits."""
    envelope = Envelope(
        message.exchange or "",
        message.routing_key or "",
        message.body,
        message.type or "unknown",
        message_key(message.message_id, message.body),
        message.correlation_id,
    )
    return envelope, ReplyTarget(message.reply_to, message.correlation_id)
