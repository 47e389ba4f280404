"""``RedisSeenIds`` on the real Redis: the shared cases, the key's expiry, and a replayed signed
request refused by a second replica (another client on the same Redis)."""

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import orjson
import pytest
from redis.asyncio import Redis
from standardwebhooks import Webhook

from hitl.adapters.redis.keys import Keys
from hitl.adapters.redis.seen_ids import RedisSeenIds
from hitl.errors import ReplayedWebhook
from hitl.notifiers.webhooks.verification import REPLAY_WINDOW_SECONDS, SeenIds, accept
from tests.seen_ids_cases import CASES
from tests.servers import REDIS_URL
from tests.webhooks import SECRET


@pytest.fixture
async def keys(redis: Redis) -> AsyncIterator[Keys]:
    """A namespace of this test's own; its keys are deleted afterwards."""
    keys = Keys(f"test-{uuid.uuid4().hex[:12]}", shards=1)
    yield keys
    found = [key async for key in redis.scan_iter(match=f"{keys.namespace}:*")]
    if found:
        await redis.delete(*found)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
async def test_redis_seen_ids(
    case: Callable[[SeenIds], Awaitable[None]], redis: Redis, keys: Keys
) -> None:
    await case(RedisSeenIds(redis, keys))


async def test_an_id_is_kept_for_its_ttl_under_the_namespace(redis: Redis, keys: Keys) -> None:
    assert await RedisSeenIds(redis, keys).first_time("msg_ttl", 600)
    key = keys.seen_webhook("msg_ttl")
    assert key.startswith(f"{keys.namespace}:")
    assert 0 < await redis.ttl(key) <= 600


async def test_a_replay_to_another_replica_is_refused(redis: Redis, keys: Keys) -> None:
    body = orjson.dumps({"action": "approve"})
    stamp = int(time.time())
    headers = {
        "webhook-id": "msg_answer_1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": Webhook(SECRET).sign(
            "msg_answer_1", datetime.fromtimestamp(stamp, UTC), body.decode()
        ),
    }
    other: Redis = Redis.from_url(REDIS_URL)  # a second gateway replica's connection
    try:
        first = await accept(body, headers, [SECRET], RedisSeenIds(redis, keys))
        assert first.payload == {"action": "approve"}
        with pytest.raises(ReplayedWebhook):
            await accept(body, headers, [SECRET], RedisSeenIds(other, keys))
    finally:
        await other.aclose()
    assert 0 < await redis.ttl(keys.seen_webhook("msg_answer_1")) <= REPLAY_WINDOW_SECONDS
