"""The gateway's event hub on the real RabbitMQ, fed by a real broker: fan-out, resume with
Last-Event-ID, dedupe, waiting for an outcome, slow subscribers."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from aio_pika.abc import AbstractRobustConnection
from prometheus_client import CollectorRegistry

from hitl.broker.service import BrokerService
from hitl.gateway.deps import EventsMissed, SubscriberDropped
from hitl.gateway.fanout import StreamItem
from hitl.gateway.hub import Hub
from hitl.runtime.host import ServiceHost
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from hitl_contract import LifecycleEvents
from hitl_contract.wire import CONTENT_TYPE, EVENT_TYPE, Names, encode_model
from tests.helpers import answer, publish_raw

HubFactory = Callable[..., "contextlib.AbstractAsyncContextManager[Hub]"]


@pytest.fixture
def open_hub(settings: Settings) -> HubFactory:
    """``async with open_hub(buffer_size=..., subscriber_limit=...) as hub:`` a started hub on
    a host of its own, as a gateway replica runs it."""

    @contextlib.asynccontextmanager
    async def started(buffer_size: int = 100, subscriber_limit: int = 1024) -> AsyncIterator[Hub]:
        host = ServiceHost(settings, role="gateway", registry=CollectorRegistry())
        hub = Hub(Names(settings.namespace), buffer_size, subscriber_limit=subscriber_limit)
        try:
            await hub.start(host)
            yield hub
        finally:
            await host.stop()

    return started


async def events_until_final(
    stream: AsyncIterator[StreamItem], iid: uuid.UUID, timeout: float = 10
) -> list[StreamItem]:
    """Items of ``stream`` up to the outcome of ``iid`` (other interactions' too)."""
    got: list[StreamItem] = []

    async def collect() -> None:
        async for item in stream:
            got.append(item)
            e = item[1]
            if e.interaction_id == iid and e.event in {"resolved", "cancelled", "timed_out"}:
                return

    await asyncio.wait_for(collect(), timeout)
    return got


def names_of(items: list[StreamItem], iid: uuid.UUID) -> list[str]:
    return [e.event.value for _, e in items if e.interaction_id == iid]


async def approve(client: HitlClient, responder: Responder, prompt: str = "ok?") -> uuid.UUID:
    request = client.new_request("approval", thread_id="hub", prompt=prompt)
    await client.submit(request)
    receipt = await responder.respond(answer(request.id, "approve"))
    assert receipt is not None and receipt.result == "accepted"
    return request.id


async def test_every_subscriber_gets_an_interactions_events_in_order(
    broker: BrokerService, client: HitlClient, responder: Responder, open_hub: HubFactory
) -> None:
    async with open_hub() as hub:
        streams = [hub.subscribe() for _ in range(3)]
        iid = await approve(client, responder)
        seen = [await events_until_final(s, iid) for s in streams]
        assert names_of(seen[0], iid) == ["requested", "notified", "responded", "resolved"]
        assert seen[1] == seen[0] and seen[2] == seen[0]
        for stream_id, e in seen[0]:
            assert stream_id == e.event_id and stream_id.startswith(f"{iid}:")


async def test_a_resume_gets_what_was_missed_while_held_and_a_reset_after(
    broker: BrokerService, client: HitlClient, responder: Responder, open_hub: HubFactory
) -> None:
    async with open_hub(buffer_size=6) as hub:
        watcher = hub.subscribe()
        first = await approve(client, responder, "first")
        seen = await events_until_final(watcher, first)
        ids = [stream_id for stream_id, _ in seen]
        assert len(ids) == 4
        # a client that saw only the first event comes back: it gets the other three
        resumed = hub.subscribe(ids[0])
        assert [(await anext(resumed))[0] for _ in range(3)] == ids[1:]
        # four more events push the first interaction's out of a ring of six
        second = await approve(client, responder, "second")
        ids += [stream_id for stream_id, _ in await events_until_final(watcher, second)]
        assert [(await anext(resumed))[0] for _ in range(4)] == ids[4:]
        with pytest.raises(EventsMissed, match="no longer held"):
            await anext(hub.subscribe(ids[1]))
        later = hub.subscribe(ids[2])  # the oldest held: events 3 and 4 of the first
        assert [(await anext(later))[0] for _ in range(5)] == ids[3:]


async def test_an_event_published_again_is_passed_on_once(
    amqp: AbstractRobustConnection,
    broker: BrokerService,
    client: HitlClient,
    responder: Responder,
    open_hub: HubFactory,
) -> None:
    async with open_hub() as hub:
        stream = hub.subscribe()
        first = await approve(client, responder, "first")
        seen = await events_until_final(stream, first)
        again = LifecycleEvents(events=[e for _, e in seen])  # as the relay would, after a crash
        await publish_raw(
            amqp,
            broker.names.events,
            encode_model(again),
            "resolved.approval",
            type=EVENT_TYPE,
            content_type=CONTENT_TYPE,
        )
        second = await approve(client, responder, "second")
        after = await events_until_final(stream, second)
        assert names_of(after, first) == []  # the copies came before these, and were dropped
        assert names_of(after, second) == ["requested", "notified", "responded", "resolved"]


async def test_unreadable_events_are_skipped_and_the_stream_goes_on(
    amqp: AbstractRobustConnection,
    broker: BrokerService,
    client: HitlClient,
    responder: Responder,
    open_hub: HubFactory,
) -> None:
    async with open_hub() as hub:
        stream = hub.subscribe()
        for body, kind in ((b"{not json", EVENT_TYPE), (b'{"events": []}', EVENT_TYPE),
                           (b"{}", "something.else")):  # fmt: skip
            await publish_raw(amqp, broker.names.events, body, "x.y", type=kind)
        iid = await approve(client, responder)
        seen = await events_until_final(stream, iid)
        assert names_of(seen, iid) == ["requested", "notified", "responded", "resolved"]
        assert len(seen) == 4


async def test_wait_final_returns_once_the_outcome_is_known(
    broker: BrokerService, client: HitlClient, responder: Responder, open_hub: HubFactory
) -> None:
    async with open_hub() as hub:
        request = client.new_request("approval", thread_id="hub", prompt="wait?")
        await client.submit(request)
        waiting = asyncio.create_task(hub.wait_final(str(request.id), 10))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        await responder.respond(answer(request.id, "reject"))
        assert await waiting is True
        assert await hub.wait_final(str(request.id), 0)  # known already: no wait
        timed = client.new_request("approval", thread_id="hub", prompt="t", timeout_seconds=0.3)
        await client.submit(timed)
        assert await hub.wait_final(str(timed.id), 10) is True
        still_pending = client.new_request("approval", thread_id="hub", prompt="p")
        await client.submit(still_pending)
        assert await hub.wait_final(str(still_pending.id), 0.3) is False


async def test_a_slow_subscriber_is_dropped_and_the_others_keep_up(
    broker: BrokerService, client: HitlClient, responder: Responder, open_hub: HubFactory
) -> None:
    async with open_hub(subscriber_limit=5) as hub:
        slow, fast = hub.subscribe(), hub.subscribe()
        for n in range(3):  # 12 events, more than the slow one's queue holds
            iid = await approve(client, responder, f"#{n}")
            assert len(await events_until_final(fast, iid)) == 4
        with pytest.raises(SubscriberDropped, match="fell 5 events behind"):
            await anext(slow)
        assert hub.fanout.subscribers == 1


async def test_the_hub_shows_its_consumer_in_readiness_and_stops_its_streams(
    settings: Settings, broker: BrokerService
) -> None:
    host = ServiceHost(settings, role="gateway", registry=CollectorRegistry())
    hub = Hub(Names(settings.namespace), 10)
    try:
        await hub.start(host)
        report = dict(await host.readiness.report())
        assert report[f"consumer of {hub.queue_name}"] is None
        stream = hub.subscribe()
    finally:
        await host.stop()
    assert [item async for item in stream] == []
    assert await hub.wait_final(str(uuid.uuid4()), 5) is False  # at once: stopped
