"""Connecting to RabbitMQ and Redis at start-up: bounded retries that say what they wait for."""

import asyncio
import logging

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from hitl.core.backoff import backoff_delay
from hitl.errors import TransportError

log = logging.getLogger(__name__)
# A command that finds every pooled connection busy waits this long for one instead of failing
# with "Too many connections": the broker may run 2 x prefetch handlers plus a poller batch.
REDIS_POOL_WAIT_SECONDS = 10.0


async def connect_amqp(url: str, attempts: int, *, name: str) -> AbstractRobustConnection:
    for attempt in range(1, attempts + 1):
        try:
            return await aio_pika.connect_robust(url, client_properties={"connection_name": name})
        except (OSError, aio_pika.exceptions.AMQPError) as exc:
            if attempt == attempts:
                raise TransportError(
                    f"RabbitMQ at {_safe(url)} not reachable after {attempts} tries: {exc!r}"
                ) from exc
            delay = backoff_delay(attempt, base=0.5, cap=5.0)
            log.warning(
                "waiting for RabbitMQ at %s (try %d/%d, next in %.1fs): %r",
                _safe(url),
                attempt,
                attempts,
                delay,
                exc,
            )
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


async def connect_redis(url: str, attempts: int, *, max_connections: int = 64) -> "Redis":
    client: Redis = Redis.from_pool(
        BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=REDIS_POOL_WAIT_SECONDS
        )
    )
    for attempt in range(1, attempts + 1):
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            if attempt == attempts:
                await client.aclose()
                raise TransportError(
                    f"Redis at {_safe(url)} not reachable after {attempts} tries: {exc!r}"
                ) from exc
            delay = backoff_delay(attempt, base=0.5, cap=5.0)
            log.warning(
                "waiting for Redis at %s (try %d/%d, next in %.1fs): %r",
                _safe(url),
                attempt,
                attempts,
                delay,
                exc,
            )
            await asyncio.sleep(delay)
        else:
            return client
    raise AssertionError("unreachable")


def _safe(url: str) -> str:
    """The URL without its password, for logs."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
