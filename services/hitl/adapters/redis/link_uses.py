"""Which emails' answer links were used, in Redis: shared by every gateway replica, so a link
answers once whichever replica serves it (``hitl.gateway.email_links.LinkUses``)."""

from redis.exceptions import RedisError

from hitl.adapters.redis.connection import RedisClient
from hitl.adapters.redis.keys import Keys
from hitl.errors import TransportError


class RedisLinkUses:
    """One key per mail, written with SET NX EX: of two racing clicks the first wins."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def claim(self, use: str, record: bytes, ttl_seconds: int) -> bool:
        try:
            key = self._keys.email_link_use(use)
            return bool(await self._redis.set(key, record, nx=True, ex=max(ttl_seconds, 1)))
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis write failed: {exc}") from exc

    async def read(self, use: str) -> bytes | None:
        try:
            found = await self._redis.get(self._keys.email_link_use(use))
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis read failed: {exc}") from exc
        if found is None:
            return None
        return found.encode() if isinstance(found, str) else bytes(found)

    async def forget(self, use: str) -> None:
        try:
            await self._redis.delete(self._keys.email_link_use(use))
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis write failed: {exc}") from exc
