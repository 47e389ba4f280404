"""Bounded start-up retries that say what they wait for: a process started before its servers
(a compose stack, a pod beside a restarting RabbitMQ) waits a while, then fails clearly."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aio_pika.abc import AbstractRobustConnection
from redis.asyncio import Redis

from hitl.adapters.amqp.connection import AMQP_CONNECT_ERRORS, open_amqp
from hitl.adapters.redis.connection import REDIS_CONNECT_ERRORS, open_redis
from hitl.core.backoff import backoff_delay
from hitl.errors import TransportError

log = logging.getLogger(__name__)
T = TypeVar("T")


async def with_startup_retries(
    what: str,
    url: str,
    attempts: int,
    connect: Callable[[], Awaitable[T]],
    errors: tuple[type[BaseException], ...],
) -> T:
    """``connect()`` until it works, at most ``attempts`` times with jittered backoff; then a
    ``TransportError`` naming the server (its URL without the password) and the last error."""
    for attempt in range(1, attempts + 1):
        try:
            return await connect()
        except errors as exc:
            if attempt == attempts:
                raise TransportError(
                    f"{what} at {safe_url(url)} not reachable after {attempts} tries: {exc!r}"
                ) from exc
            delay = backoff_delay(attempt, base=0.5, cap=5.0)
            log.warning(
                "waiting for %s at %s (try %d/%d, next in %.1fs): %r",
                what,
                safe_url(url),
                attempt,
                attempts,
                delay,
                exc,
            )
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def safe_url(url: str) -> str:
    """The URL without its password, for logs."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


async def connect_amqp(url: str, attempts: int, *, name: str) -> AbstractRobustConnection:
    """A robust RabbitMQ connection, after up to ``attempts`` tries."""
    return await with_startup_retries(
        "RabbitMQ", url, attempts, lambda: open_amqp(url, name=name), AMQP_CONNECT_ERRORS
    )


async def connect_redis(url: str, attempts: int, *, max_connections: int = 64) -> Redis:
    """A Redis client whose server answered a PING, after up to ``attempts`` tries."""
    client = open_redis(url, max_connections=max_connections)

    async def ping() -> Redis:
        await client.ping()
        return client

    try:
        return await with_startup_retries("Redis", url, attempts, ping, REDIS_CONNECT_ERRORS)
    except BaseException:
        await client.aclose()
        raise
