"""Sending committed outbox messages, with group commit: a message goes at once when nothing is
in flight; under load, messages gather while the previous batch waits for its confirms, then
go out together in two socket writes (``Publisher.publish_writes``): the notifications and
outcomes, then the lifecycle events, merged into one ``LifecycleEvents`` message per routing
key. Under load that is a few event messages for dozens of interactions instead of two to four
each, and RabbitMQ confirms (and syncs to disk) whole batches."""

from collections.abc import Sequence

from hitl.adapters.amqp.publisher import Envelope, Publisher
from hitl.adapters.batching import Coalescer
from hitl.broker.outbound import OutboxMessage, event_batch


class Sender:
    def __init__(self, publisher: Publisher, *, max_events_per_message: int = 200) -> None:
        self._publisher = publisher
        self._max_events = max_events_per_message
        self._batches: Coalescer[OutboxMessage, bool] = Coalescer(self._flush, one_at_a_time=True)

    async def send(self, message: OutboxMessage) -> bool:
        """True once confirmed, and routed (an event always counts as routed: nobody listening
        is normal, so events are not ``mandatory``)."""
        return await self._batches.submit(message)

    async def send_all(self, messages: Sequence[OutboxMessage]) -> list[bool | BaseException]:
        """``send`` for several messages in the same batch; failures are returned, not raised."""
        return await self._batches.submit_many(messages)

    async def _flush(self, messages: list[OutboxMessage]) -> list[bool | BaseException]:
        direct: list[tuple[Envelope, bool]] = []
        batched: list[tuple[Envelope, bool]] = []
        carried_by: list[tuple[int, int]] = []  # per message: (0 direct | 1 batched, index)
        events: dict[tuple[str, str], list[int]] = {}
        for n, message in enumerate(messages):
            if message.event:
                e = message.envelope
                events.setdefault((e.exchange, e.routing_key), []).append(n)
                carried_by.append((1, -1))
            else:
                carried_by.append((0, len(direct)))
                direct.append((message.envelope, True))
        # One message per routing key, in first-seen order: an interaction's events keep theirs.
        for members in events.values():
            for i in range(0, len(members), self._max_events):
                chunk = members[i : i + self._max_events]
                for n in chunk:
                    carried_by[n] = (1, len(batched))
                batched.append((event_batch([messages[n].envelope for n in chunk]), False))
        # Notifications and outcomes are written first, events right behind them: nobody
        # waits on an event, so they do not delay the messages people and producers wait for.
        results = await self._publisher.publish_writes([direct, batched])
        return [results[kind][i] for kind, i in carried_by]
