"""What happens to a message hitl cannot use: a copy in the dead-letter queue with headers that
say what was wrong and where, a ``rejected`` lifecycle event, a metric, and, when the sender
left a ``reply_to``, a receipt. The consumer keeps running."""

import logging
import time
from datetime import UTC, datetime
from uuid import UUID

import orjson
from aio_pika.abc import AbstractIncomingMessage

from hitl.adapters.amqp.publisher import Envelope, Publisher
from hitl.adapters.amqp.topology import Names
from hitl.broker.outbound import EVENT_TYPE, RECEIPT_TYPE, encode_model
from hitl.observability.metrics import Metrics
from hitl_contract import (
    ErrorDetail,
    InteractionOutcome,
    LifecycleEvent,
    LifecycleEventName,
    ReceiptResult,
    ResponseReceipt,
)

log = logging.getLogger(__name__)


class Rejections:
    def __init__(self, publisher: Publisher, names: Names, metrics: Metrics) -> None:
        self._publisher = publisher
        self._names = names
        self._metrics = metrics

    async def dead_letter(
        self,
        message: AbstractIncomingMessage,
        detail: ErrorDetail,
        source: str,
        *,
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
        headers = {
            "x-hitl-error-code": detail.code.value,
            "x-hitl-error-message": detail.message,
            "x-hitl-error-path": detail.path or "",
            "x-hitl-error-allowed": orjson.dumps(detail.allowed).decode(),
            "x-hitl-error-got": orjson.dumps(detail.got).decode(),
            "x-hitl-source": source,
            "x-original-exchange": message.exchange or "",
            "x-original-routing-key": message.routing_key or "",
            "x-hitl-rejected-at": datetime.now(UTC).isoformat(),
        }
        envelope = Envelope(
            self._names.dead_letter,
            source,
            message.body,
            message.type or "unknown",
            message.message_id or f"dead:{time.time_ns()}",
            message.correlation_id,
            headers,
        )
        await self._publisher.publish(envelope)
        self._metrics.dead_lettered.labels(source, detail.code.value).inc()
        await self.report(
            detail,
            source,
            interaction_id=interaction_id,
            thread_id=thread_id,
            kind=kind,
            reply_to=message.reply_to,
            correlation_id=message.correlation_id,
            result=result,
        )

    async def report(
        self,
        detail: ErrorDetail,
        source: str,
        *,
        interaction_id: UUID | None,
        thread_id: str | None = None,
        kind: str | None = None,
        response_id: UUID | None = None,
        reply_to: str | None = None,
        correlation_id: str | None = None,
        result: ReceiptResult = ReceiptResult.REJECTED,
    ) -> None:
        """A ``rejected`` event and, for a responder waiting on ``reply_to``, a receipt."""
        self._metrics.errors.labels(source, detail.code.value).inc()
        event = LifecycleEvent(
            event=LifecycleEventName.REJECTED,
            interaction_id=interaction_id,
            thread_id=thread_id,
            kind=kind,
            at=datetime.now(UTC),
            response_id=response_id,
            error=detail,
            source=source,
        )
        routed = await self._publisher.publish(
            Envelope(
                self._names.events,
                f"rejected.{kind or 'unknown'}",
                encode_model(event),
                EVENT_TYPE,
                f"event:rejected:{time.time_ns()}",
                str(interaction_id) if interaction_id else None,
            )
        )
        if not routed:
            self._metrics.unroutable.labels(self._names.events).inc()
        await self.receipt(
            reply_to,
            correlation_id,
            ResponseReceipt(
                interaction_id=interaction_id, response_id=response_id, result=result, error=detail
            ),
        )

    async def receipt(
        self, reply_to: str | None, correlation_id: str | None, receipt: ResponseReceipt
    ) -> None:
        if not reply_to:
            return
        cid = correlation_id or (str(receipt.response_id) if receipt.response_id else None)
        await self._publisher.publish(
            Envelope(
                "",
                reply_to,
                encode_model(receipt),
                RECEIPT_TYPE,
                f"receipt:{receipt.response_id}:{receipt.result}",
                cid,
            ),
            mandatory=False,
        )

    async def outcome_receipt(
        self,
        message: AbstractIncomingMessage,
        response_id: UUID,
        result: ReceiptResult,
        outcome: InteractionOutcome,
    ) -> None:
        await self.receipt(
            message.reply_to,
            message.correlation_id,
            ResponseReceipt(
                interaction_id=outcome.interaction_id,
                response_id=response_id,
                result=result,
                outcome=outcome,
            ),
        )
