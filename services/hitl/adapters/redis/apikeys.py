"""API key records in Redis: one hash per namespace, shared by every gateway replica.

Only records are kept (``hitl.core.apikeys.ApiKey``: the secret's digest, never the secret).
Revoking deletes the record, so a revoked key is simply unknown.
"""

from redis.exceptions import RedisError

from hitl.adapters.redis.connection import RedisClient
from hitl.adapters.redis.keys import Keys
from hitl.core.apikeys import ApiKey
from hitl.errors import TransportError


class RedisApiKeys:
    """``hitl.gateway.keys.KeyRecords`` on Redis."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._key = keys.api_keys()

    async def get(self, key_id: str) -> ApiKey | None:
        try:
            raw = await self._redis.hget(self._key, key_id)
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis read failed: {exc}") from exc
        return None if raw is None else ApiKey.model_validate_json(raw)

    async def add(self, record: ApiKey) -> None:
        try:
            created = await self._redis.hsetnx(self._key, record.key_id, record.model_dump_json())
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis write failed: {exc}") from exc
        if not created:  # 48 random bits: a collision means a bug, not bad luck
            raise ValueError(f"API key id {record.key_id} exists already")

    async def all(self) -> list[ApiKey]:
        try:
            raw = await self._redis.hgetall(self._key)
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis read failed: {exc}") from exc
        records = [ApiKey.model_validate_json(value) for value in raw.values()]
        return sorted(records, key=lambda r: (r.created_at, r.key_id))

    async def revoke(self, key_id: str) -> bool:
        try:
            return bool(await self._redis.hdel(self._key, key_id))
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis write failed: {exc}") from exc
