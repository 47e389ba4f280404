"""Redis scripts batched into pipelines, against the real Redis: concurrent calls share a
pipeline and each gets its own result, also when Redis has forgotten the scripts."""

import asyncio
import time

from redis.asyncio import Redis

from hitl.adapters.redis.keys import Keys
from hitl.adapters.redis.store import RedisStore
from hitl.core.decoding import REQUEST_ADAPTER
from hitl.core.machine import Transition, open_interaction
from tests.helpers import raw_request


def opened() -> Transition:
    request = REQUEST_ADAPTER.validate_python(raw_request(timeout_seconds=600))
    return open_interaction(request, time.time(), "default")


async def test_concurrent_creates_survive_a_script_flush(redis: Redis, namespace: str) -> None:
    store = RedisStore(redis, Keys(namespace, 8), retention_seconds=60, outbox_lease_seconds=5.0)
    first = [opened() for _ in range(10)]
    await redis.script_flush()  # every EVALSHA of the next pipeline is refused: NOSCRIPT
    created = await asyncio.gather(*(store.create(t, []) for t in first))
    assert [c.result for c in created] == ["created"] * 10
    again = await asyncio.gather(
        *(store.create(t, []) for t in first[:3]), store.create(opened(), [])
    )
    assert [c.result for c in again] == ["duplicate"] * 3 + ["created"]
    states = await asyncio.gather(*(store.load(t.state.request.id) for t in first))
    assert [s.request.id for s in states if s] == [t.state.request.id for t in first]


async def test_one_failing_script_does_not_fail_its_neighbours(
    redis: Redis, namespace: str
) -> None:
    store = RedisStore(redis, Keys(namespace, 8), retention_seconds=60, outbox_lease_seconds=5.0)
    good = opened()
    key = store.keys.interaction(store.keys.shard(good.state.request.id), good.state.request.id)
    bad = opened()
    bad_key = store.keys.interaction(store.keys.shard(bad.state.request.id), bad.state.request.id)
    await redis.set(bad_key, "not a hash")  # EXISTS is true, HGET fails: WRONGTYPE
    results = await asyncio.gather(
        store.create(good, []), store.create(bad, []), return_exceptions=True
    )
    assert results[0].result == "created" and await redis.exists(key)
    assert "WRONGTYPE" in str(results[1])
