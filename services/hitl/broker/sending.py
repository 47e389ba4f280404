"""Sending committed outbox messages.

Notifications and outcomes, which people and producers wait for, go with group commit: a
message goes at once when nothing is in flight; under load, messages gather while the
previous batch waits for its confirms, then go out together in one socket write
(``Publisher.publish_batch``).

A transition's lifecycle events trail behind: once its notifications and outcomes are
confirmed they join a queue that is flushed at most every ``events_linger`` seconds, as one
``LifecycleEvents`` message per routing key. Nobody waits on an event, and the transition's
outbox entry keeps them safe until they are confirmed (a broker that dies first leaves them to
the relay), so its handler does not wait for them either. Trailing, they neither delay the
write of a notification nor compete with it inside RabbitMQ while its queue commits it; with
one interaction in flight a window carries the events of several, and under load a few
messages carry the events of hundreds.
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from hitl.adapters.amqp.envelope import Envelope
from hitl.adapters.amqp.publisher import Publisher
from hitl.adapters.batching import Coalescer
from hitl.broker.outbound import OutboxMessage, event_batch

log = logging.getLogger(__name__)


class Sender:
    def __init__(
        self,
        publisher: Publisher,
        *,
        events_linger: float = 0.05,
        max_events_per_message: int = 200,
    ) -> None:
        self._publisher = publisher
        self._direct: Coalescer[OutboxMessage, bool] = Coalescer(
            self._flush_direct, one_at_a_time=True
        )
        self._events = _TrailingEvents(publisher, events_linger, max_events_per_message)

    async def send(self, message: OutboxMessage) -> bool:
        """Send one message and wait until it is confirmed: True if routed (an event always
        counts as routed: nobody listening is normal, so events are not ``mandatory``)."""
        if not message.event:
            return await self._direct.submit(message)
        await self._events.add([message])
        return True

    async def send_all(
        self, messages: Sequence[OutboxMessage]
    ) -> tuple[list[bool | BaseException], "asyncio.Future[None]"]:
        """Send the notifications and outcomes among ``messages``; return, once they are
        confirmed, the result of each (routed, or the failure) and a future for the events,
        which follow in the background: it resolves once they are confirmed, or fails with
        their error. If a notification or outcome failed, the events are not sent and the
        future never resolves: the relay sends them later, with what failed."""
        direct = [m for m in messages if not m.event]
        results = await self._direct.submit_many(direct) if direct else []
        if any(isinstance(r, BaseException) for r in results):
            return results, asyncio.get_running_loop().create_future()
        return results, self._events.add([m for m in messages if m.event])

    async def drain(self) -> None:
        """Flush the events waiting in the queue now, and wait for their confirms."""
        await self._events.drain()

    async def _flush_direct(self, messages: list[OutboxMessage]) -> list[bool]:
        return await self._publisher.publish_batch([(m.envelope, True) for m in messages])


class _TrailingEvents:
    """Queued events, each group with a future; one task flushes the queue after a linger,
    and again while more keep coming."""

    def __init__(self, publisher: Publisher, linger: float, max_per_message: int) -> None:
        self._publisher = publisher
        self._linger = linger
        self._max = max_per_message
        self._queue: list[tuple[list[OutboxMessage], asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._now = asyncio.Event()  # cut the linger short (drain)

    def add(self, events: list[OutboxMessage]) -> "asyncio.Future[None]":
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        if not events:
            done.set_result(None)
            return done
        self._queue.append((events, done))
        if self._task is None:
            self._task = loop.create_task(self._run(), name="hitl-trailing-events")
        return done

    async def drain(self) -> None:
        while self._task is not None:
            self._now.set()
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        try:
            while self._queue:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._linger):
                        await self._now.wait()
                batch, self._queue = self._queue, []
                error = await self._publish([e for events, _ in batch for e in events])
                for _, done in batch:
                    if done.done():  # its waiter gave up
                        continue
                    if error is None:
                        done.set_result(None)
                    else:
                        done.set_exception(error)
        finally:
            self._task = None
            self._now.clear()

    async def _publish(self, events: list[OutboxMessage]) -> BaseException | None:
        # One message per routing key, in first-seen order: an interaction's events keep theirs.
        by_key: dict[tuple[str, str], list[Envelope]] = {}
        for message in events:
            e = message.envelope
            by_key.setdefault((e.exchange, e.routing_key), []).append(e)
        batches = [
            (event_batch(envelopes[i : i + self._max]), False)
            for envelopes in by_key.values()
            for i in range(0, len(envelopes), self._max)
        ]
        try:
            await self._publisher.publish_batch(batches)
        except Exception as exc:  # noqa: BLE001 - each transition's callback decides
            log.warning("could not publish %d lifecycle events: %s", len(events), exc)
            return exc
        return None
