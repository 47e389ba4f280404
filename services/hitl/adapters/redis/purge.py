"""Removing every Redis key of a namespace (tests, benchmarks, retiring a namespace)."""

import re

from hitl.adapters.redis.connection import RedisClient
from hitl.adapters.redis.keys import namespace_prefix


async def purge_namespace(redis: RedisClient, namespace: str, *, batch: int = 5000) -> int:
    """UNLINK every key of ``namespace`` and return how many went. SCAN finds them a ``batch``
    at a time, so the server is never blocked long; never for a namespace a broker still
    uses."""
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", namespace_prefix(namespace)) + "*"
    deleted = 0
    chunk: list[bytes] = []
    async for key in redis.scan_iter(match=pattern, count=batch):
        chunk.append(key)
        if len(chunk) >= batch:
            deleted += await redis.unlink(*chunk)
            chunk = []
    if chunk:
        deleted += await redis.unlink(*chunk)
    return deleted
