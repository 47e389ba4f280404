"""``DeliveryLog`` (``hitl.notifiers.log``) on Redis, shared by every notifier replica."""

from collections.abc import Awaitable
from typing import TypeVar

from redis.exceptions import RedisError

from hitl.adapters.redis.connection import RedisClient
from hitl.adapters.redis.keys import Keys
from hitl.errors import TransportError

T = TypeVar("T")


class RedisDeliveryLog:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def delivered(self, message_id: str) -> bool:
        return bool(await self._call(self._redis.exists(self._keys.delivered(message_id))))

    async def mark_delivered(self, message_id: str, ttl_seconds: int) -> None:
        await self._call(self._redis.set(self._keys.delivered(message_id), b"1", ex=ttl_seconds))

    async def disabled(self, receiver: str) -> str | None:
        reason = await self._call(self._redis.hget(self._keys.disabled_receivers(), receiver))
        return _text(reason) if reason else None

    async def disable(self, receiver: str, reason: str) -> None:
        await self._call(self._redis.hset(self._keys.disabled_receivers(), receiver, reason))

    async def enable(self, receiver: str) -> bool:
        return bool(await self._call(self._redis.hdel(self._keys.disabled_receivers(), receiver)))

    async def all_disabled(self) -> dict[str, str]:
        found = await self._call(self._redis.hgetall(self._keys.disabled_receivers()))
        return {_text(k): _text(v) for k, v in found.items()}

    @staticmethod
    async def _call(awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis (delivery log) failed: {exc}") from exc


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
