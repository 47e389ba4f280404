"""Webhook ids already accepted, in Redis: shared by every gateway replica, so a signed request
replayed to another replica is refused too."""

from redis.exceptions import RedisError

from hitl.adapters.redis.connection import RedisClient
from hitl.adapters.redis.keys import Keys
from hitl.errors import TransportError


class RedisSeenIds:
    """``hitl.notifiers.webhooks.verification.SeenIds`` on Redis: one key per id, written with
    SET NX EX, so the first of two racing replicas wins and the key expires by itself."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def first_time(self, webhook_id: str, ttl_seconds: int) -> bool:
        key = self._keys.seen_webhook(webhook_id)
        try:
            return bool(await self._redis.set(key, b"1", nx=True, ex=ttl_seconds))
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis write failed: {exc}") from exc

    async def forget(self, webhook_id: str) -> None:
        try:
            await self._redis.delete(self._keys.seen_webhook(webhook_id))
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis write failed: {exc}") from exc
