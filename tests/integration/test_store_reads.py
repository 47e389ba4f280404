"""The store's reads on the real Redis: history, read indexes and counters written by the
same Lua steps as the transitions (the cases also run on the twin, tests/unit)."""

import pytest
from redis.asyncio import Redis

from hitl.adapters.redis.store import RedisStore
from hitl.core.listing import Query
from hitl.runtime.stores import redis_store
from hitl.settings import Settings
from tests.store_cases import T0, StoreReads, open_, respond


class TestRedisReads(StoreReads):
    @pytest.fixture
    def store(self, redis: Redis, settings: Settings) -> RedisStore:
        return redis_store(redis, settings)


async def test_trimming_forgets_finished_interactions_in_every_index(
    redis: Redis, settings: Settings
) -> None:
    store = redis_store(redis, settings)
    kept = await open_(store, T0, thread_id="t", node_name="n")
    gone = await open_(store, T0 + 1, thread_id="t", node_name="n")
    await respond(store, gone.request.id, "approve", T0 + 2)
    await respond(store, kept.request.id, "approve", T0 + 100)
    assert await store.trim_done(T0 + 50) == 1
    for query in (Query(), Query(status="resolved"), Query(thread_id="t"), Query(node="n"),
                  Query(kind="approval"), Query(requester="raw-agent")):  # fmt: skip
        page = await store.query(query)
        assert [s.request.id for s in page.items] == [kept.request.id], query
    prefix = f"{settings.namespace}:"
    keys = [k.decode() async for k in redis.scan_iter(match=prefix + "*")]
    leftovers = [
        k for k in keys if str(gone.request.id) in k and ":ix:" not in k and ":hist:" not in k
    ]
    assert leftovers == []
    assert not await redis.hexists(store.keys.done_keys(store.keys.shard(gone.request.id)),
                                   str(gone.request.id))  # fmt: skip


async def test_trimming_forgets_index_entries_whose_values_hold_line_breaks(
    redis: Redis, settings: Settings
) -> None:
    # Thread ids, node names and requester ids may hold any character, "\n" too; the keys a
    # finished interaction is filed under must still all be found and trimmed.
    store = redis_store(redis, settings)
    gone = await open_(store, T0, thread_id="t\nx", node_name="n\nm", requester={"id": "a\nb"})
    await respond(store, gone.request.id, "approve", T0 + 2)
    assert await store.trim_done(T0 + 50) == 1
    left = [k async for k in redis.scan_iter(match=f"{settings.namespace}:*:by:*")]
    assert left == []


async def test_trimming_reads_the_line_per_key_records_of_older_versions(
    redis: Redis, settings: Settings
) -> None:
    store = redis_store(redis, settings)
    gone = await open_(store, T0, thread_id="t")
    await respond(store, gone.request.id, "approve", T0 + 2)
    shard = store.keys.shard(gone.request.id)
    await redis.hset(store.keys.done_keys(shard), str(gone.request.id),
                     "resolved\nresolved:thread:t\nresolved:kind:approval\n"
                     "resolved:requester:raw-agent")  # fmt: skip
    assert await store.trim_done(T0 + 50) == 1
    assert [k async for k in redis.scan_iter(match=f"{settings.namespace}:*:by:*")] == []


async def test_a_label_scan_reads_at_most_its_limit_per_page(
    redis: Redis, settings: Settings
) -> None:
    store = redis_store(redis, settings)
    opened = [
        await open_(store, T0 + n, labels={"rare": "yes"} if n == 9 else {}) for n in range(12)
    ]
    query = Query(labels={"rare": "yes"}, limit=5, scan_limit=4, newest_first=False)
    first = await store.query(query)
    assert first.items == [] and first.next is not None
    assert first.next.id == str(opened[3].request.id)  # stopped after reading four


async def test_a_history_older_versions_kept_in_a_list_is_read_and_moved_on_the_next_write(
    redis: Redis, settings: Settings
) -> None:
    # Before the history moved into the interaction hash, it was a list of one JSON entry
    # per item; such a list is read as it is, and the next write moves it into the hash.
    store = redis_store(redis, settings)
    state = await open_(store)
    iid = state.request.id
    key = store.keys.interaction(store.keys.shard(iid), iid)
    legacy = store.keys.history(store.keys.shard(iid), iid)
    await redis.hdel(key, "hist")
    await redis.rpush(legacy, b'{"at":1800000000.0,"event":"requested","version":1,'
                              b'"by":{"id":"old-agent"}}')  # fmt: skip
    assert [(h.event, h.by and h.by.id) for h in await store.history(iid)] == [
        ("requested", "old-agent")
    ]
    await respond(store, iid, "approve", T0 + 5)
    history = await store.history(iid)
    assert [h.event for h in history] == ["requested", "responded", "resolved"]
    assert history[0].by is not None and history[0].by.id == "old-agent"
    assert not await redis.exists(legacy)
