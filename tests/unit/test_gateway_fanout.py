"""The gateway's fan-out of lifecycle events, in memory: dedupe, resume, slow subscribers,
holes, waiting for an outcome. The hub on the real servers: tests/integration/test_gateway_hub.py."""

import asyncio
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from hitl.gateway.deps import EventsMissed, SubscriberDropped
from hitl.gateway.fanout import Fanout, StreamItem
from hitl_contract import LifecycleEvent, LifecycleEventName


def event(
    name: str = "requested", iid: uuid.UUID | None = None, version: int = 1
) -> LifecycleEvent:
    iid = iid or uuid.uuid4()
    return LifecycleEvent(
        event=LifecycleEventName(name),
        event_id=f"{iid}:{version}:{name}",
        interaction_id=iid,
        kind="approval",
        at=datetime.now(UTC),
    )


async def take(stream: AsyncIterator[StreamItem], n: int) -> list[str]:
    return [(await anext(stream))[0] for _ in range(n)]


async def nothing_more(stream: AsyncIterator[StreamItem]) -> bool:
    try:
        await asyncio.wait_for(anext(stream), 0.05)
    except TimeoutError:
        return True
    return False


async def test_every_subscriber_gets_every_event_in_order_once() -> None:
    hub = Fanout(buffer_size=10)
    streams = [hub.subscribe() for _ in range(3)]  # subscribed now, read later
    events = [event(), event(), event("resolved")]
    assert hub.publish(events) == 3
    assert hub.publish([events[1], events[2]]) == 0  # published again after a crash
    ids = [e.event_id for e in events]
    for stream in streams:
        assert await take(stream, 3) == ids
        assert await nothing_more(stream)


async def test_a_resume_gets_what_came_after_the_last_id() -> None:
    hub = Fanout(buffer_size=10)
    events = [event() for _ in range(5)]
    hub.publish(events)
    stream = hub.subscribe(events[1].event_id)
    later = event()
    hub.publish([later])
    assert await take(stream, 4) == [e.event_id for e in [*events[2:], later]]
    newest = hub.subscribe(later.event_id)
    assert await nothing_more(newest)


@pytest.mark.parametrize("last", ["never-seen", "evicted"])
async def test_a_resume_from_an_id_no_longer_held_says_so(last: str) -> None:
    hub = Fanout(buffer_size=3)
    events = [event() for _ in range(5)]
    hub.publish(events)
    last_id = events[0].event_id if last == "evicted" else "never-seen"
    with pytest.raises(EventsMissed, match="no longer held"):
        await anext(hub.subscribe(last_id))
    assert hub.subscribers == 0
    oldest_held = events[2].event_id
    assert await take(hub.subscribe(oldest_held), 2) == [e.event_id for e in events[3:]]


async def test_a_slow_subscriber_is_dropped_without_holding_back_the_others() -> None:
    hub = Fanout(buffer_size=100, subscriber_limit=3)
    slow, fast = hub.subscribe(), hub.subscribe()
    seen: list[str] = []
    for _ in range(10):
        e = event()
        hub.publish([e])
        seen += await take(fast, 1)
        assert seen[-1] == e.event_id
    assert hub.subscribers == 1  # the slow one left, and its queue with it
    with pytest.raises(SubscriberDropped, match="fell 3 events behind"):
        await anext(slow)
    assert len(seen) == 10


async def test_a_resumed_backlog_does_not_count_against_the_limit() -> None:
    hub = Fanout(buffer_size=100, subscriber_limit=2)
    events = [event() for _ in range(10)]
    hub.publish(events)
    stream = hub.subscribe(events[0].event_id)  # 9 to catch up on
    hub.publish([event()])
    assert len(await take(stream, 10)) == 10


async def test_lost_events_end_every_subscription_and_empty_the_buffer() -> None:
    hub = Fanout(buffer_size=10)
    events = [event() for _ in range(3)]
    hub.publish(events)
    stream = hub.subscribe()
    hub.lost("connection lost")
    with pytest.raises(EventsMissed, match="connection lost"):
        await anext(stream)
    with pytest.raises(EventsMissed):  # resuming across the hole is refused too
        await anext(hub.subscribe(events[-1].event_id))
    fresh = hub.subscribe()
    after = event()
    hub.publish([after])
    assert await take(fresh, 1) == [after.event_id]


async def test_a_subscription_that_stops_reading_leaves_the_hub() -> None:
    hub = Fanout(buffer_size=10)
    stream = hub.subscribe()
    hub.publish([event()])
    await take(stream, 1)
    assert hub.subscribers == 1
    assert isinstance(stream, AsyncGenerator)
    await stream.aclose()
    assert hub.subscribers == 0


async def test_wait_final_sees_outcomes_before_and_after_it_waits() -> None:
    hub = Fanout(buffer_size=10)
    done, later, never = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    hub.publish([event("resolved", done, 3)])
    assert await hub.wait_final(str(done), 0.01)
    waiting = [asyncio.create_task(hub.wait_final(str(later), 5)) for _ in range(2)]
    await asyncio.sleep(0)
    hub.publish([event("responded", later, 2)])  # not an outcome
    await asyncio.sleep(0.01)
    assert not any(w.done() for w in waiting)
    hub.publish([event("timed_out", later, 3)])
    assert await asyncio.gather(*waiting) == [True, True]
    assert not await hub.wait_final(str(never), 0.05)


async def test_closing_ends_streams_and_waits() -> None:
    hub = Fanout(buffer_size=10)
    stream = hub.subscribe()
    waiting = asyncio.create_task(hub.wait_final(str(uuid.uuid4()), 5))
    await asyncio.sleep(0)
    hub.close()
    assert [item async for item in stream] == []
    assert await waiting is False
    assert [item async for item in hub.subscribe()] == []


def deferred(
    events: list[LifecycleEvent], decoded: list[int]
) -> Callable[[], list[LifecycleEvent]]:
    def batch() -> list[LifecycleEvent]:
        decoded.append(len(events))
        return events

    return batch


async def test_nothing_is_decoded_while_nobody_listens_and_a_resume_still_gets_it() -> None:
    hub = Fanout(buffer_size=10)
    first, later = [event(), event()], [event(), event("resolved")]
    decoded: list[int] = []
    hub.defer(deferred(first, decoded))
    hub.defer(deferred(later, decoded))
    assert decoded == []
    stream = hub.subscribe(first[0].event_id)  # decodes what waited, in order
    assert decoded == [2, 2]
    assert await take(stream, 3) == [e.event_id for e in [first[1], *later]]
    live = [event()]
    hub.defer(deferred(live, decoded))  # someone listens: decoded at once
    assert decoded == [2, 2, 1]
    assert await take(stream, 1) == [live[0].event_id]


async def test_a_waiter_sees_a_deferred_final_event() -> None:
    hub = Fanout(buffer_size=10)
    iid = uuid.uuid4()
    hub.defer(deferred([event("resolved", iid)], []))
    assert await hub.wait_final(str(iid), timeout=0.01)


async def test_batches_dropped_undecoded_make_an_older_resume_a_miss_not_a_skip() -> None:
    hub = Fanout(buffer_size=2)
    old = [event()]
    hub.publish(old)  # decoded into the ring
    decoded: list[int] = []
    batches = [[event()] for _ in range(3)]
    for batch in batches:
        hub.defer(deferred(batch, decoded))
    stream = hub.subscribe(old[0].event_id)  # the first deferred batch was dropped: a hole
    with pytest.raises(EventsMissed):
        await anext(stream)
    assert decoded == [1, 1]  # the two kept were decoded, the dropped one never
    resumed = hub.subscribe(batches[1][0].event_id)
    assert await take(resumed, 1) == [batches[2][0].event_id]
