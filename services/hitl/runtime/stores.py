"""The interaction store a process gets from its settings: Redis, keyed by namespace and shards.

One place builds it, for the broker (which writes) and for readers such as ``hitl pending`` and
the gateway, which see it only as ``InteractionReads``.
"""

import contextlib
from collections.abc import AsyncIterator

from hitl.adapters.redis.connection import RedisClient
from hitl.adapters.redis.integrity import SequenceWatch
from hitl.adapters.redis.keys import Keys
from hitl.adapters.redis.store import RedisStore
from hitl.ports import InteractionReads
from hitl.runtime.startup import connect_redis, redis_sentinel_password, redis_tls
from hitl.settings import Settings


def redis_store(redis: RedisClient, settings: Settings, *, watched: bool = False) -> RedisStore:
    """``watched``: with the store integrity check (``adapters/redis/integrity.py``): the
    broker's, the one writer."""
    keys = Keys(settings.namespace, settings.shards)
    return RedisStore(
        redis,
        keys,
        retention_seconds=settings.retention_seconds,
        outbox_lease_seconds=settings.outbox_lease_seconds,
        analytics_retention_seconds=settings.analytics_retention_seconds,
        script_timeout=settings.redis_script_timeout_seconds,
        watch=SequenceWatch(redis, keys) if watched else None,
        wait_replicas=settings.redis_wait_replicas,
        wait_timeout=settings.redis_wait_timeout_seconds,
    )


@contextlib.asynccontextmanager
async def open_reads(settings: Settings) -> AsyncIterator[InteractionReads]:
    """Read access to the interactions of ``settings.namespace``, for a short-lived process."""
    redis = await connect_redis(
        settings.redis_url,
        settings.startup_attempts,
        tls=redis_tls(settings),
        setting="HITL_REDIS_URL",
        sentinel_password=redis_sentinel_password(settings),
    )
    try:
        yield redis_store(redis, settings)
    finally:
        await redis.aclose()
