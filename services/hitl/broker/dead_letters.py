"""Dead letters: a copy of a message hitl cannot use, parked in ``<ns>.dead-letter`` with headers
that say what was wrong and where (``hitl_contract.wire.DEAD_LETTER_HEADERS``), for an operator
to inspect or replay. The original delivery is acked only once the copy is confirmed, so nothing
accepted is lost; a refusal (event, metric, receipt) goes with it.

Sources: ``requests`` and ``responses`` (bad input, an id used twice, an answer whose
interaction never came), ``unroutable`` (an outcome nobody is bound to receive) and ``outbox``
(an entry no broker version can read).
"""

import logging
from uuid import UUID

from hitl.broker.inbound import ReplyTarget, message_key
from hitl.broker.refusals import Refusals
from hitl.errors import TransportError
from hitl.observability.metrics import Metrics
from hitl.ports import Envelope, MessageSink
from hitl_contract import ErrorDetail, ReceiptResult
from hitl_contract.wire import Names, dead_letter_headers

log = logging.getLogger(__name__)


class DeadLetters:
    def __init__(
        self, sink: MessageSink, refusals: Refusals, names: Names, metrics: Metrics
    ) -> None:
        self._sink = sink
        self._refusals = refusals
        self._names = names
        self._metrics = metrics

    async def park(self, envelope: Envelope, detail: ErrorDetail, source: str) -> None:
        """Publish a copy of ``envelope`` (as first sent: body, type, ids, reply_to and the
        sender's own headers) to the dead-letter exchange, with the x-hitl-* headers."""
        headers = {
            **envelope.headers,
            **dead_letter_headers(detail, source, envelope.exchange, envelope.routing_key),
        }
        parked = await self._sink.publish(
            Envelope(
                self._names.dead_letter,
                source,
                envelope.body,
                envelope.message_type,
                message_key(envelope.message_id, envelope.body),
                envelope.correlation_id,
                headers,
                envelope.reply_to,
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
        reply: ReplyTarget | None = None,
        interaction_id: UUID | None = None,
        thread_id: str | None = None,
        kind: str | None = None,
        result: ReceiptResult = ReceiptResult.REJECTED,
    ) -> None:
        """Park a message we cannot process, and refuse it (event, metric, receipt)."""
        log.warning(
            "dead-lettering a message from %s: %s at %s",
            source,
            detail.message,
            detail.path or "<root>",
        )
        await self.park(original, detail, source)
        await self._refusals.refuse(
            detail,
            source,
            original.message_id,
            interaction_id=interaction_id,
            thread_id=thread_id,
            kind=kind,
            reply=reply,
            result=result,
        )
