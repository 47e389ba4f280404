"""Sending committed outbox messages. Everything submitted in the same loop turn goes out as one
batch of publishes (one socket write, see ``Publisher.publish_batch``), and the lifecycle events
among them are merged into one ``LifecycleEvents`` message per routing key. Under load that is a
few event messages for dozens of interactions instead of two to four each; with one interaction
in flight, its events still share the write of its notification or outcome."""

from hitl.adapters.amqp.publisher import Envelope, Publisher
from hitl.adapters.batching import Coalescer
from hitl.broker.outbound import OutboxMessage, event_batch


class Sender:
    def __init__(self, publisher: Publisher, *, max_events_per_message: int = 200) -> None:
        self._publisher = publisher
        self._max_events = max_events_per_message
        self._batches: Coalescer[OutboxMessage, bool] = Coalescer(self._flush)

    async def send(self, message: OutboxMessage) -> bool:
        """True once confirmed, and routed (an event always counts as routed: nobody listening
        is normal, so events are not ``mandatory``)."""
        return await self._batches.submit(message)

    async def _flush(self, messages: list[OutboxMessage]) -> list[bool | BaseException]:
        publishes: list[tuple[Envelope, bool]] = []
        carried_by: list[int] = []  # per message: its publish in ``publishes``
        events: dict[tuple[str, str], list[int]] = {}
        for n, message in enumerate(messages):
            carried_by.append(len(publishes))
            if message.event:
                e = message.envelope
                events.setdefault((e.exchange, e.routing_key), []).append(n)
            else:
                publishes.append((message.envelope, True))
        # One message per routing key, in first-seen order: an interaction's events keep theirs.
        for members in events.values():
            for i in range(0, len(members), self._max_events):
                chunk = members[i : i + self._max_events]
                for n in chunk:
                    carried_by[n] = len(publishes)
                publishes.append((event_batch([messages[n].envelope for n in chunk]), False))
        results = await self._publisher.publish_batch(publishes)
        return [results[i] for i in carried_by]
