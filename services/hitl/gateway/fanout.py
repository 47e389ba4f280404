"""Lifecycle events fanned out to any number of subscribers, in memory.

``Fanout`` is the hub without RabbitMQ (``hub.py`` feeds it from the events exchange): it
drops events it has seen (the broker can publish one again after a crash, with the same
``event_id``), keeps the most recent ones in a ring so a client that reconnects with its last
event id gets what it missed, hands each event to every subscriber's own bounded queue, and
wakes whoever waits for an interaction to finish.

A replica that nobody watches (no stream open, no long-poll waiting) keeps what arrives as it
came (``defer``) and decodes it only when someone subscribes or waits: decoding was most of
what the events cost a replica that only answers. At most ``buffer_size`` batches wait so;
past that the oldest is dropped undecoded and the ring emptied, so a resume from before the
drop is told it missed events instead of silently skipping them.

Publishing never waits for a subscriber: one that lets its queue fill up is dropped (and its
queue freed) with ``SubscriberDropped``, so a slow client costs the others nothing and memory
stays bounded. A subscription nobody reads is dropped the same way.
"""

import asyncio
import itertools
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TypeVar
from uuid import UUID

from hitl.gateway.deps import EventsMissed, SubscriberDropped
from hitl_contract import LifecycleEvent, LifecycleEventName

FINAL = frozenset(
    {LifecycleEventName.RESOLVED, LifecycleEventName.CANCELLED, LifecycleEventName.TIMED_OUT}
)
StreamItem = tuple[str, LifecycleEvent]
Batch = Callable[[], Iterable[LifecycleEvent]]  # a batch decoded when called
log = logging.getLogger(__name__)
_MIN_MEMORY = 4096  # ids remembered for dedupe and finished interactions, at least
K = TypeVar("K")
V = TypeVar("V")


class _Subscriber:
    """One subscriber's queue. ``end`` frees it at once; the reader then gets ``reason``
    (or the end of the stream when ``reason`` is None)."""

    def __init__(self, limit: int, backlog: Iterable[StreamItem] = ()) -> None:
        self.items: deque[StreamItem] = deque(backlog)
        self.limit = limit + len(self.items)  # a resumed backlog does not count against it
        self.ended = False
        self.reason: Exception | None = None
        self._ready = asyncio.Event()

    def offer(self, item: StreamItem) -> bool:
        """Queue ``item``; False (and ended) when the queue was full."""
        if len(self.items) >= self.limit:
            self.end(SubscriberDropped(f"fell {self.limit} events behind the stream"))
            return False
        self.items.append(item)
        self._ready.set()
        return True

    def end(self, reason: Exception | None) -> None:
        self.items.clear()
        self.ended = True
        self.reason = reason
        self._ready.set()

    async def next(self) -> StreamItem | None:
        while not self.items:
            if self.ended:
                if self.reason is not None:
                    raise self.reason
                return None
            self._ready.clear()
            await self._ready.wait()
        return self.items.popleft()


class Fanout:
    def __init__(self, buffer_size: int, subscriber_limit: int = 1024) -> None:
        if buffer_size < 1 or subscriber_limit < 1:
            raise ValueError("buffer_size and subscriber_limit must be at least 1")
        self._recent: deque[tuple[int, StreamItem]] = deque(maxlen=buffer_size)
        self._deferred: deque[Batch] = deque()
        self._deferred_limit = buffer_size
        self._memory = max(buffer_size, _MIN_MEMORY)
        self._seen: OrderedDict[str, int] = OrderedDict()  # event id -> its sequence number
        self._finished: OrderedDict[str, None] = OrderedDict()  # interaction ids
        self._waiters: dict[str, set[asyncio.Future[bool]]] = {}
        self._subscribers: set[_Subscriber] = set()
        self._subscriber_limit = subscriber_limit
        self._sequence = itertools.count(1)
        self._closed = False

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    # --- in --------------------------------------------------------------------------------

    def defer(self, batch: Batch) -> None:
        """Events to decode when someone needs them: at once while anyone subscribes or
        waits, else at the next subscription or wait (in order, before anything newer)."""
        if self._subscribers or self._waiters:
            self.publish(batch())
            return
        self._deferred.append(batch)
        if len(self._deferred) > self._deferred_limit:
            self._deferred.popleft()  # as the ring would have lost its events
            self._recent.clear()  # so a resume from before them is told, not misled

    def publish(self, events: Iterable[LifecycleEvent]) -> int:
        """Hand new events to every subscriber; how many were new (not seen before)."""
        self._catch_up()
        return self._publish_now(events)

    def _publish_now(self, events: Iterable[LifecycleEvent]) -> int:
        fresh = 0
        for event in events:
            seq = next(self._sequence)
            stream_id = event.event_id or f"local:{seq}"  # the broker always sets event_id
            if stream_id in self._seen:
                continue
            fresh += 1
            _remember(self._seen, stream_id, seq, self._memory)
            item = (stream_id, event)
            self._recent.append((seq, item))
            for subscriber in list(self._subscribers):
                if not subscriber.offer(item):
                    self._subscribers.discard(subscriber)
                    log.info("dropped an event subscriber: %s", subscriber.reason)
            if event.event in FINAL and event.interaction_id is not None:
                self._finish(str(event.interaction_id))
        return fresh

    def lost(self, why: str) -> None:
        """Events may have been lost (the queue was gone for a while): the buffer no longer
        leads on from what subscribers saw, so it is emptied and every subscriber told."""
        self._recent.clear()
        self._deferred.clear()
        self._end_all(lambda: EventsMissed(why))

    def close(self) -> None:
        """End every subscription and wait; the hub takes no more events."""
        self._closed = True
        self._deferred.clear()
        self._end_all(lambda: None)
        for waiters in self._waiters.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(False)

    # --- out -------------------------------------------------------------------------------

    def subscribe(self, last_event_id: str | None = None) -> AsyncIterator[StreamItem]:
        """See ``deps.EventHub.subscribe``."""
        self._catch_up()
        if self._closed:
            subscriber = _Subscriber(self._subscriber_limit)
            subscriber.end(None)
        elif last_event_id is None:
            subscriber = _Subscriber(self._subscriber_limit)
        else:
            backlog = self._after(last_event_id)
            subscriber = _Subscriber(self._subscriber_limit, backlog or ())
            if backlog is None:
                subscriber.end(EventsMissed(f"event {last_event_id!r} is no longer held"))
        if not subscriber.ended:
            self._subscribers.add(subscriber)
        return self._read(subscriber)

    async def _read(self, subscriber: _Subscriber) -> AsyncIterator[StreamItem]:
        try:
            while (item := await subscriber.next()) is not None:
                yield item
        finally:
            self._subscribers.discard(subscriber)

    async def wait_final(self, interaction_id: str, timeout: float) -> bool:
        """See ``deps.EventHub.wait_final``."""
        key = str(UUID(interaction_id))
        self._catch_up()
        if key in self._finished:
            return True
        if self._closed:
            return False
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(key, set())
        waiters.add(waiter)
        try:
            done, _ = await asyncio.wait({waiter}, timeout=timeout)
            return bool(done) and waiter.result()
        finally:
            waiters.discard(waiter)
            if not waiters:
                self._waiters.pop(key, None)

    # --- inside ----------------------------------------------------------------------------

    def _catch_up(self) -> None:
        while self._deferred:
            self._publish_now(self._deferred.popleft()())

    def _after(self, last_event_id: str) -> list[StreamItem] | None:
        """What came after ``last_event_id``; None when the ring no longer holds it."""
        seq = self._seen.get(last_event_id)
        if seq is None or not self._recent or seq < self._recent[0][0]:
            return None
        return [item for s, item in self._recent if s > seq]

    def _finish(self, interaction_id: str) -> None:
        _remember(self._finished, interaction_id, None, self._memory)
        for waiter in self._waiters.get(interaction_id, ()):
            if not waiter.done():
                waiter.set_result(True)

    def _end_all(self, reason: Callable[[], Exception | None]) -> None:
        subscribers, self._subscribers = self._subscribers, set()
        for subscriber in subscribers:
            subscriber.end(reason())


def _remember(memory: "OrderedDict[K, V]", key: K, value: V, capacity: int) -> None:
    memory[key] = value
    if len(memory) > capacity:
        memory.popitem(last=False)
