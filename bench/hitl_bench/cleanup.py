"""Removing what a bench namespace created: its queues, exchanges and Redis keys."""

import contextlib
from collections.abc import Iterable

import aio_pika
from redis.asyncio import Redis


async def delete_amqp(url: str, queues: Iterable[str], exchanges: Iterable[str]) -> None:
    connection = await aio_pika.connect(url)
    try:
        for queue in queues:
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.queue_delete(queue)
            with contextlib.suppress(Exception):
                await channel.close()
        for exchange in exchanges:
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.exchange_delete(exchange)
            with contextlib.suppress(Exception):
                await channel.close()
    finally:
        await connection.close()


async def delete_keys(redis: "Redis", prefix: str, batch: int = 5000) -> int:
    """UNLINK every key starting with ``prefix`` (SCAN, so the server is never blocked long)."""
    deleted = 0
    chunk: list[bytes] = []
    async for key in redis.scan_iter(match=f"{prefix}*", count=batch):
        chunk.append(key)
        if len(chunk) >= batch:
            deleted += await redis.unlink(*chunk)
            chunk = []
    if chunk:
        deleted += await redis.unlink(*chunk)
    return deleted
