"""Opening a Redis client: a blocking pool, so a burst of commands waits for a connection
instead of failing with "Too many connections"; over TLS for a rediss:// URL (``tls`` gives
the CA and client certificate files). No I/O until the first command."""

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from hitl.adapters.tls import TlsFiles

# A command that finds every pooled connection busy waits this long for one: the broker may run
# 2 x prefetch handlers plus a poller batch.
REDIS_POOL_WAIT_SECONDS = 10.0
# What a first command raises when Redis is not there (yet).
REDIS_CONNECT_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)


def open_redis(url: str, *, max_connections: int = 64, tls: TlsFiles | None = None) -> Redis:
    extra = tls.redis_arguments() if tls is not None and url.startswith("rediss://") else {}
    return Redis.from_pool(
        BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=REDIS_POOL_WAIT_SECONDS, **extra
        )
    )
