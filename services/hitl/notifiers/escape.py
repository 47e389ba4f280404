"""Where a notification goes when its receiver failed for good: the route's fallback receiver
(the notification again, routed ``<fallback>.<kind>``, for whichever notifier serves it), or,
with no fallback or none bound to take it, the dead-letter queue with the reason."""

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


class AmqpEscape:
    def __init__(self, sink: MessageSink, names: Names) -> None:
        self._sink = sink
        self._names = names

    async def fallback(self, note: Notification, message_id: str, receiver: str, to: str) -> None:
        note = note.model_copy(update={"route": to})
        iid = str(note.interaction_id)
        routed = await self._sink.publish(
            Envelope(
                self._names.notifications,
                notification_key(to, note.request.kind),
                encode_model(note),
                NOTIFICATION_TYPE,
                notification_message_id(iid, note.reason, note.attempt, to),
                iid,
            )
        )
        if not routed:
            reason = f"its fallback receiver {to!r} has no notifier bound"
            await self.dead_letter(note, message_id, receiver, reason)

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
