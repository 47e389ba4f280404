"""Connecting to RabbitMQ and Redis at start-up: bounded retries that say what they wait for."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from hitl.core.backoff import backoff_delay
from hitl.errors import TransportError

log = logging.getLogger(__name__)
T = TypeVar("T")
# A command that finds every pooled connection busy waits this long for one instead of failing
# with "Too many connections": the broker may run 2 x prefetch handlers plus a poller batch.
REDIS_POOL_WAIT_SECONDS = 10.0


async def connect_amqp(url: str, attempts: int, *, name: str) -> AbstractRobustConnection:
    async def connect() -> AbstractRobustConnection:
        return await aio_pika.connect_robust(url, client_properties={"connection_name": name})

    return await _retrying(
        "RabbitMQ", url, attempts, connect, (OSError, aio_pika.exceptions.AMQPError)
    )


async def connect_redis(url: str, attempts: int, *, max_connections: int = 64) -> "Redis":
    client: Redis = Redis.from_pool(
        BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=REDIS_POOL_WAIT_SECONDS
        )
    )

    async def connect() -> "Redis":
        await client.ping()
        return client

    try:
        return await _retrying("Redis", url, attempts, connect, (RedisError, OSError))
    except BaseException:
        await client.aclose()
        raise


async def _retrying(
    what: str,
    url: str,
    attempts: int,
    connect: Callable[[], Awaitable[T]],
    errors: tuple[type[BaseException], ...],
) -> T:
    """Bounded start-up retries with jittered backoff, each one saying what it waits for."""
    for attempt in range(1, attempts + 1):
        try:
            return await connect()
        except errors as exc:
            if attempt == attempts:
                raise TransportError(
                    f"{what} at {_safe(url)} not reachable after {attempts} tries: {exc!r}"
                ) from exc
            delay = backoff_delay(attempt, base=0.5, cap=5.0)
            log.warning(
                "waiting for %s at %s (try %d/%d, next in %.1fs): %r",
                what,
                _safe(url),
                attempt,
                attempts,
                delay,
                exc,
            )
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def _safe(url: str) -> str:
    """The URL without its password, for logs."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
