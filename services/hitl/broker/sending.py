"""Sending committed outbox messages, with group commit: a message goes at once when nothing is
in flight; under load, messages gather while the previous batch waits for its confirms, then
go out together in one socket write (``Publisher.publish_batch``).

Notifications and outcomes, which people and producers wait for, have a pipeline of their own.
A transition's lifecycle events follow once its direct messages are confirmed, through a second
pipeline that merges them into one ``LifecycleEvents`` message per routing key. Nobody waits on
an event: sent behind, they neither delay the write of a notification nor compete with it
inside RabbitMQ while its queue commits it. Under load, that is a few event messages for dozens
of interactions instead of two to four each, and RabbitMQ confirms (and syncs) whole batches.
"""

from collections.abc import Sequence

from hitl.adapters.amqp.publisher import Envelope, Publisher
from hitl.adapters.batching import Coalescer
from hitl.broker.outbound import OutboxMessage, event_batch


class Sender:
    def __init__(self, publisher: Publisher, *, max_events_per_message: int = 200) -> None:
        self._publisher = publisher
        self._max_events = max_events_per_message
        self._direct: Coalescer[OutboxMessage, bool] = Coalescer(
            self._flush_direct, one_at_a_time=True
        )
        self._events: Coalescer[OutboxMessage, bool] = Coalescer(
            self._flush_events, one_at_a_time=True
        )

    async def send(self, message: OutboxMessage) -> bool:
        """True once confirmed, and routed (an event always counts as routed: nobody listening
        is normal, so events are not ``mandatory``)."""
        [result] = await self.send_all([message])
        if isinstance(result, BaseException):
            raise result
        return result

    async def send_all(self, messages: Sequence[OutboxMessage]) -> list[bool | BaseException]:
        """``send`` for several messages: the direct ones first, then the events; failures are
        returned, not raised."""
        results: list[bool | BaseException] = [False] * len(messages)
        for pipeline, event in ((self._direct, False), (self._events, True)):
            members = [n for n, message in enumerate(messages) if message.event == event]
            if not members:
                continue
            failed = next((r for r in results if isinstance(r, BaseException)), None)
            if failed is None:
                sent = await pipeline.submit_many([messages[n] for n in members])
            else:  # not now: the relay sends the events with what failed
                sent = [failed] * len(members)
            for n, result in zip(members, sent, strict=True):
                results[n] = result
        return results

    async def _flush_direct(self, messages: list[OutboxMessage]) -> list[bool]:
        return await self._publisher.publish_batch([(m.envelope, True) for m in messages])

    async def _flush_events(self, messages: list[OutboxMessage]) -> list[bool]:
        # One message per routing key, in first-seen order: an interaction's events keep theirs.
        by_key: dict[tuple[str, str], list[Envelope]] = {}
        for message in messages:
            e = message.envelope
            by_key.setdefault((e.exchange, e.routing_key), []).append(e)
        batches = [
            (event_batch(envelopes[i : i + self._max_events]), False)
            for envelopes in by_key.values()
            for i in range(0, len(envelopes), self._max_events)
        ]
        await self._publisher.publish_batch(batches)
        return [True] * len(messages)  # events are not mandatory: confirmed is enough
