"""Sending committed outbox messages.

Notifications and outcomes, which people and producers wait for, go with group commit: a
message goes at once when nothing is in flight; under load, messages gather while the
previous batch waits for its confirms, then go out together in one socket write
(``Publisher.publish_batch``).

A transition's lifecycle events trail behind: they take their place in a queue when the
transition is sent, are ready once its notifications and outcomes are confirmed, and the
ready head of the queue is flushed at most every ``events_linger`` seconds, as one
``LifecycleEvents`` message per routing key (so an interaction's events keep their order).
Nobody waits on an event, and the transition's outbox entry keeps them safe until they are
confirmed (a broker that dies first leaves them to the relay), so its handler does not wait
for them either. Trailing, they neither delay the write of a notification nor compete with it
inside RabbitMQ while its queue commits it; with one interaction in flight a window carries
the events of several, and under load a few messages carry the events of hundreds.
"""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence

from hitl.broker.outbound import OutboxMessage, event_batch
from hitl.ports import Envelope, MessageSink
from hitl.runtime.coalescer import Coalescer

log = logging.getLogger(__name__)


class Sender:
    def __init__(
        self,
        publisher: MessageSink,
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
        slot = self._events.reserve()
        self._events.fill(slot, [message])
        await slot.done
        return True

    async def send_all(
        self, messages: Sequence[OutboxMessage]
    ) -> tuple[list[bool | BaseException], "asyncio.Future[None]"]:
        """Send the notifications and outcomes among ``messages``; return, once they are
        confirmed, the result of each (routed, or the failure) and a future for the events,
        which follow in the background: it resolves once they are confirmed, or fails with
        their error. If a notification or outcome failed, the events are not sent and the
        future never resolves: the relay sends them later, with what failed.

        Events keep the order of the ``send_all`` calls: the place of a transition's events
        is taken when it is called, so a later transition of the same interaction (a vote,
        with no message to wait for) cannot overtake them."""
        direct = [m for m in messages if not m.event]
        events = [m for m in messages if m.event]
        slot = self._events.reserve()
        try:
            results = await self._direct.submit_many(direct) if direct else []
        except BaseException:
            self._events.drop(slot)
            raise
        if any(isinstance(r, BaseException) for r in results):
            self._events.drop(slot)
            return results, asyncio.get_running_loop().create_future()
        self._events.fill(slot, events)
        return results, slot.done

    async def drain(self) -> None:
        """Flush the events waiting in the queue now, and wait for their confirms."""
        await self._events.drain()

    async def _flush_direct(self, messages: list[OutboxMessage]) -> list[bool]:
        return await self._publisher.publish_batch([(m.envelope, True) for m in messages])


class _Slot:
    """A transition's place in the event queue, taken before its events are ready."""

    __slots__ = ("done", "events", "ready")

    def __init__(self, done: "asyncio.Future[None]") -> None:
        self.done = done
        self.events: list[OutboxMessage] | None = None  # None: dropped (never sent)
        self.ready = False


class _TrailingEvents:
    """Slots in call order; one task flushes the ready ones at the head of the queue after a
    linger, and again while more keep coming."""

    def __init__(self, publisher: MessageSink, linger: float, max_per_message: int) -> None:
        self._publisher = publisher
        self._linger = linger
        self._max = max_per_message
        self._slots: deque[_Slot] = deque()
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()  # a slot became ready
        self._now = asyncio.Event()  # cut the linger short (drain)

    def reserve(self) -> _Slot:
        slot = _Slot(asyncio.get_running_loop().create_future())
        self._slots.append(slot)
        return slot

    def fill(self, slot: _Slot, events: list[OutboxMessage]) -> None:
        slot.events, slot.ready = events, True
        self._changed.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="hitl-trailing-events"
            )

    def drop(self, slot: _Slot) -> None:
        slot.events, slot.ready = None, True
        self._changed.set()

    async def drain(self) -> None:
        while self._task is not None:
            self._now.set()
            await asyncio.wait({self._task})  # not shield: a cancelled task ends the wait too

    async def _run(self) -> None:
        try:
            while self._slots:
                while self._slots and not self._slots[0].ready:  # wait for the head
                    self._changed.clear()
                    await self._changed.wait()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._linger):
                        await self._now.wait()
                batch: list[_Slot] = []
                while self._slots and self._slots[0].ready:
                    batch.append(self._slots.popleft())
                sent = [slot for slot in batch if slot.events is not None]
                if not sent:
                    continue
                error = await self._publish([e for slot in sent for e in slot.events or ()])
                for slot in sent:
                    if slot.done.done():  # its waiter gave up
                        continue
                    if error is None:
                        slot.done.set_result(None)
                    else:
                        slot.done.set_exception(error)
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
