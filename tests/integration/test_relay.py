"""The outbox relay against the real servers: an entry left by an earlier broker version is
still published, and an unreadable entry is parked in the dead-letter queue instead of blocking
the relay, which goes on with the rest."""

import time
import uuid

import orjson
from redis.asyncio import Redis

from hitl.broker.service import BrokerService
from hitl.sdk import HitlClient
from hitl.settings import Settings
from hitl_contract.wire import OUTBOX_ENTRY_TYPE
from tests.helpers import dead_letters, eventually, lifecycle_events
from tests.servers import AMQP_URL, test_settings


async def test_relay_publishes_old_entries_and_parks_unreadable_ones(
    broker: BrokerService, redis: Redis, capture, amqp, settings: Settings
) -> None:
    assert broker.store is not None
    keys = broker.store.keys
    names = broker.names
    iid = str(uuid.uuid4())
    event = {
        "schema_version": 1,
        "event": "requested",
        "interaction_id": iid,
        "at": "2026-01-01T00:00:00Z",
    }
    old_format = {  # one message per entry, as brokers before LifecycleEvents wrote it
        "x": names.events,
        "k": "requested.approval",
        "t": "hitl.event",
        "m": f"event:{iid}:requested:1",
        "c": iid,
        "crit": False,
        "mand": False,
    }
    entries = {
        f"{iid}:1:0": orjson.dumps(old_format) + b"\n" + orjson.dumps(event),
        "broken:1": b'[{"x": "nowhere"}]\n{}',
        "garbage:1": b"\xff\xfe not json",
    }
    shard = 3
    async with capture(names.events, "requested.#") as events:
        due = time.time() - 1  # the writer's lease ran out long ago
        await redis.hset(keys.outbox_data(shard), mapping=entries)
        await redis.zadd(keys.outbox(shard), dict.fromkeys(entries, due))
        await events.wait_for(lambda m: len(lifecycle_events(m)) == 1)
        [relayed] = lifecycle_events(events.messages)
        assert str(relayed.interaction_id) == iid and relayed.event == "requested"
    parked = await dead_letters(amqp, settings.namespace, 2)
    assert sorted(m.routing_key for m in parked) == ["outbox", "outbox"]
    assert {m.message_id for m in parked} == {"outbox:broken:1", "outbox:garbage:1"}
    assert all(m.type == OUTBOX_ENTRY_TYPE for m in parked)
    assert {m.body for m in parked} == {entries["broken:1"], entries["garbage:1"]}
    assert all("outbox entry" in m.headers["x-hitl-error-message"] for m in parked)

    async def outbox_empty() -> bool:
        return (
            await redis.zcard(keys.outbox(shard)) == 0 == await redis.hlen(keys.outbox_data(shard))
        )

    await eventually(outbox_empty)


async def test_a_stopping_broker_sends_its_lingering_events_and_cleans_its_outbox(
    namespace: str, redis: Redis, capture
) -> None:
    broker = BrokerService(
        test_settings(namespace, events_linger_seconds=5, outbox_lease_seconds=30)
    )
    await broker.start()
    stopped = False
    try:
        async with (
            HitlClient.connect(AMQP_URL, service="producer", namespace=namespace) as client,
            capture(broker.names.events) as events,
        ):
            request = client.new_request("approval", thread_id="t", prompt="Ship it?")
            await client.submit(request)
            keys = broker.store.keys if broker.store else None
            assert keys is not None
            shard = keys.shard(request.id)
            await eventually(lambda: redis.zcard(keys.pending(shard)))
            assert lifecycle_events(events.messages) == []  # still lingering
            assert await redis.zcard(keys.outbox(shard)) == 1  # kept until they are sent
            await broker.stop()
            stopped = True
            await events.wait_for(lambda m: len(lifecycle_events(m)) == 2)
            assert [e.event for e in lifecycle_events(events.messages)] == [
                "requested",
                "notified",
            ]
            assert await redis.zcard(keys.outbox(shard)) == 0
    finally:
        if not stopped:
            await broker.stop()
