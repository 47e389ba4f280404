"""Store integrity on the real servers, in-process: a broker takes over a reconciliation whose
broker went quiet, and a shard whose sequence goes back (flushed under a running broker) is
reported, fenced and reconciled. (Redis killed and restored: tests/faults/.)"""

import time
import uuid

import pytest
from redis.asyncio import Redis

from hitl.adapters.redis.integrity import SequenceWatch
from hitl.adapters.redis.keys import Keys
from hitl.broker import integrity
from hitl.broker.service import BrokerService
from hitl.sdk import HitlClient
from tests.helpers import eventually


async def fenced_shards(watch: SequenceWatch) -> int:
    return sum("fence" in shard for shard in await watch.shards())


async def test_a_fence_nobody_reconciles_is_taken_over(
    broker: BrokerService, redis: "Redis", monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(integrity, "_TAKE_OVER_AFTER", 0.5)
    keys = Keys(broker.settings.namespace, broker.settings.shards)
    watch = SequenceWatch(redis, keys)
    assert await fenced_shards(watch) == 0  # reconciled at start (a new namespace)

    # A broker fenced the store and died while reconciling it.
    await watch.fence("fenced by a broker that died")
    items = ["state", "reconciling", "at", repr(time.time() - 60), "by", "gone:1"]
    await redis.hset(keys.integrity(), items=items)

    async def unfenced() -> bool:
        return await fenced_shards(watch) == 0

    await eventually(unfenced, timeout=20)
    record = await redis.hgetall(keys.integrity())
    assert record[b"state"] == b"ok"
    assert record[b"by"] != b"gone:1"
    assert await broker.not_ready() == []


async def test_a_sequence_that_goes_back_is_reported_fenced_and_reconciled(
    broker: BrokerService, client: HitlClient, redis: "Redis", caplog: pytest.LogCaptureFixture
) -> None:
    keys = Keys(broker.settings.namespace, broker.settings.shards)
    first = client.new_request("approval", thread_id="t", prompt="one?", timeout_seconds=600)
    await client.submit(first)
    store = broker.store
    assert store is not None

    async def stored() -> bool:
        return await store.load(first.id) is not None

    await eventually(stored, timeout=10)
    shard = keys.shard(first.id)
    await redis.delete(keys.sequence(shard))  # as a FLUSHALL would, under a running broker
    second = client.new_request("approval", thread_id="t", prompt="two?", timeout_seconds=600)
    while keys.shard(second.id) != shard:
        second = second.model_copy(update={"id": uuid.uuid4()})
    await client.submit(second)

    async def reconciled() -> bool:  # this loss's reconciliation, not the one at start
        record = await redis.hgetall(keys.integrity())
        return record.get(b"state") == b"ok" and b'"regression"' in record.get(b"report", b"")

    await eventually(reconciled, timeout=20)
    watch = SequenceWatch(redis, keys)
    assert await fenced_shards(watch) == 0
    lost = broker.metrics.store_data_loss.labels("transitions")._value.get()
    assert lost >= 1
    assert f"DATA LOSS in Redis: shard {shard} came back at transition 0" in caplog.text
