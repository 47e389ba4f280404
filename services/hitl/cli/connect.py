"""Connections for commands a person types: one try, bounded by a few seconds, and on failure
one line naming the server's URL and the setting that holds it. (Services keep their bounded
start-up retries: ``hitl.runtime.startup``.)"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from aio_pika.abc import AbstractRobustConnection

from hitl.adapters.amqp.connection import AMQP_CONNECT_ERRORS
from hitl.adapters.redis.connection import REDIS_CONNECT_ERRORS, RedisClient
from hitl.cli.errors import Unreachable, Usage
from hitl.errors import ConfigError, TransportError
from hitl.runtime.startup import (
    amqp_tls,
    connect_amqp,
    connect_redis,
    redis_sentinel_password,
    redis_tls,
)
from hitl.settings import Settings, safe_url

CONNECT_SECONDS = 5.0
_FAILURES: tuple[type[BaseException], ...] = (
    TimeoutError,
    TransportError,
    *AMQP_CONNECT_ERRORS,
    *REDIS_CONNECT_ERRORS,
)
T = TypeVar("T")


async def fail_fast(what: str, url: str, setting: str, connect: Awaitable[T]) -> T:
    """``connect`` within ``CONNECT_SECONDS``, or ``Unreachable`` saying where and which
    setting to check."""
    try:
        async with asyncio.timeout(CONNECT_SECONDS):
            return await connect
    except ConfigError as exc:  # refused: a login, a vhost, a certificate; names the setting
        raise Usage(str(exc)) from exc
    except _FAILURES as exc:
        reason = f"no answer within {CONNECT_SECONDS:g}s"
        if not isinstance(exc, TimeoutError):
            reason = _reason(exc)
        raise Unreachable(
            f"cannot reach {what} at {safe_url(url)} ({reason}); check {setting} and that "
            f"{what} is running"
        ) from exc


def _reason(exc: BaseException) -> str:
    cause = exc.__cause__ if isinstance(exc, TransportError) and exc.__cause__ else exc
    text = str(cause).strip() or type(cause).__name__
    return text.splitlines()[0][:200]


async def amqp(settings: Settings, name: str) -> AbstractRobustConnection:
    return await fail_fast(
        "RabbitMQ",
        settings.amqp_url,
        "HITL_AMQP_URL",
        connect_amqp(
            settings.amqp_url, 1, name=name, tls=amqp_tls(settings), setting="HITL_AMQP_URL"
        ),
    )


@contextlib.asynccontextmanager
async def redis(settings: Settings) -> AsyncIterator[RedisClient]:
    client = await fail_fast(
        "Redis",
        settings.redis_url,
        "HITL_REDIS_URL",
        connect_redis(
            settings.redis_url,
            1,
            tls=redis_tls(settings),
            setting="HITL_REDIS_URL",
            sentinel_password=redis_sentinel_password(settings),
        ),
    )
    try:
        yield client
    finally:
        await client.aclose()
