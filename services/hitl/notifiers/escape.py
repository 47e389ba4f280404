"""Where a notification goes when its receiver failed for good: the route's fallback receiver
(the notification again, routed ``<fallback>.<kind>``, for whichever notifier serves it), or,
with no fallback, none bound to take it (``fallback`` says so; the deliverer then
dead-letters it), or when the fallback itself failed, the dead-letter queue with the
reason."""

from hitl.observability.tracing import carried_headers
from hitl.ports import Envelope, MessageSink
from hitl_contract import ErrorCode, ErrorDetail, Notification
from hitl_contract.wire import (
    NOTIFICATION_TYPE,
    Names,
    dead_letter_headers,
    encode_model,
    notification_key,
    notification_message_id,
)

SOURCE = "delivery"
# On a notification handed to a fallback receiver: whose delivery failed. A fallback that fails
# too goes to the dead-letter queue, never to a fallback of its own (two receivers each other's
# fallback would hand a notification back and forth while both are down).
FELL_BACK_FROM = "x-hitl-fallback-from"


class AmqpEscape:
    def __init__(self, sink: MessageSink, names: Names) -> None:
        self._sink = sink
        self._names = names

    async def fallback(self, note: Notification, message_id: str, receiver: str, to: str) -> bool:
        """Hand ``note`` to receiver ``to``; False when no notifier's queue took it."""
        note = note.model_copy(update={"route": to})
        iid = str(note.interaction_id)
        return await self._sink.publish(
            Envelope(
                self._names.notifications,
                notification_key(to, note.request.kind),
                encode_model(note),
                NOTIFICATION_TYPE,
                notification_message_id(iid, note.reason, note.attempt, to),
                iid,
                {FELL_BACK_FROM: receiver, **carried_headers()},
            )
        )

    async def dead_letter(
        self, note: Notification, message_id: str, receiver: str, reason: str
    ) -> None:
        key = notification_key(receiver, note.request.kind)
        detail = ErrorDetail(
            code=ErrorCode.UNDELIVERABLE,
            message=f"could not deliver to {receiver!r}: {reason}"[:1000],
            path="route",
            got=receiver,
        )
        await self._sink.publish(
            Envelope(
                self._names.dead_letter,
                SOURCE,
                encode_model(note),
                NOTIFICATION_TYPE,
                message_id,
                str(note.interaction_id),
                dead_letter_headers(detail, SOURCE, self._names.notifications, key),
            ),
            mandatory=False,
        )
