"""Refusals: a message or an answer hitl will not act on is announced, never dropped silently.

A ``rejected`` lifecycle event says what was wrong and where (``ErrorDetail``: code, path,
allowed values, what was sent), the error metric counts it, and a sender waiting on
``reply_to`` gets a receipt with the same error. An answer that does not fit stops here (its
interaction stays pending); a message that cannot be used at all is also parked by
``DeadLetters``.
"""

from datetime import UTC, datetime
from uuid import UUID

from hitl.broker.inbound import ReplyTarget
from hitl.broker.outbound import event_message
from hitl.broker.receipts import Receipts
from hitl.broker.sending import Sender
from hitl.observability.metrics import Metrics
from hitl.ports import Clock
from hitl_contract import (
    Claim,
    ErrorDetail,
    LifecycleEvent,
    LifecycleEventName,
    ReceiptResult,
    ResponseReceipt,
)
from hitl_contract.wire import Names


class Refusals:
    def __init__(
        self, sender: Sender, receipts: Receipts, names: Names, metrics: Metrics, clock: Clock
    ) -> None:
        self._clock = clock
        self._sender = sender
        self._receipts = receipts
        self._names = names
        self._metrics = metrics

    async def refuse(
        self,
        detail: ErrorDetail,
        source: str,
        key: str,
        *,
        interaction_id: UUID | None,
        thread_id: str | None = None,
        kind: str | None = None,
        response_id: UUID | None = None,
        reply: ReplyTarget | None = None,
        result: ReceiptResult = ReceiptResult.REJECTED,
        claim: Claim | None = None,
    ) -> None:
        """``key`` names what was refused, stably across redeliveries (the event's id);
        ``claim``: the claim in the way of an answer or claim refused as ``claimed``."""
        self._metrics.errors.labels(source, detail.code.value).inc()
        event = LifecycleEvent(
            event=LifecycleEventName.REJECTED,
            event_id=f"rejected:{source}:{key}",
            interaction_id=interaction_id,
            thread_id=thread_id,
            kind=kind,
            at=datetime.fromtimestamp(self._clock(), UTC),
            response_id=response_id,
            error=detail,
            source=source,
        )
        await self._sender.send(event_message(event, self._names, f"event:{event.event_id}"))
        await self._receipts.send(
            reply,
            ResponseReceipt(
                interaction_id=interaction_id,
                response_id=response_id,
                result=result,
                error=detail,
                claim=claim,
            ),
        )
