"""Opening a Redis client for what ``HITL_REDIS_URL`` names (``hitl.core.redis_url``):

- one node: a blocking pool, so a burst of commands waits for a connection instead of failing
  with "Too many connections";
- Sentinel: the same pool, whose connections ask the Sentinels where the primary is each time
  they connect (redis-py's ``SentinelConnectionPool``): a connection lost in a failover, or
  one that finds its node demoted (READONLY), connects again to the new primary;
- Cluster: redis-py's ``RedisCluster`` (the map of slots, MOVED and ASK, a pool per node),
  plus ``line_connection`` for the store's script lines, one per primary
  (``adapters/redis/lines.py``).

Over TLS for a rediss URL (``tls`` gives the CA and client certificate files). No I/O until
the first command.
"""

from typing import Any, TypeAlias

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import RedisClusterException, RedisError

from hitl.adapters.tls import TlsFiles
from hitl.core.redis_url import redis_deployment

# A command that finds every pooled connection busy waits this long for one: the broker may run
# 2 x prefetch handlers plus a poller batch.
REDIS_POOL_WAIT_SECONDS = 10.0
# What a first command raises when Redis is not there (yet).
REDIS_CONNECT_ERRORS: tuple[type[BaseException], ...] = (
    RedisError,
    RedisClusterException,
    OSError,
)


class LineCluster(RedisCluster):
    """``RedisCluster`` that also opens connections of the store's own to a node (its script
    line's), closed with the client."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._line_connections: list[AbstractConnection] = []

    def line_connection(self, node: ClusterNode) -> AbstractConnection:
        """A connection to ``node`` that no command of the client's uses (not yet connected):
        made with the node's own class and arguments (credentials, TLS)."""
        connection: AbstractConnection = node.connection_class(**node.connection_kwargs)
        self._line_connections.append(connection)
        return connection

    async def aclose(self) -> None:
        connections, self._line_connections = self._line_connections, []
        for connection in connections:
            await connection.disconnect(nowait=True)
        await super().aclose()


RedisClient: TypeAlias = Redis | LineCluster


class _SentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's pool, waiting for a free connection as the single node's pool does."""


class _SentinelRedis(Redis):
    """The primary's client; closing it closes the clients of the Sentinels too."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        pool = self.connection_pool
        await super().aclose(close_connection_pool)
        if isinstance(pool, SentinelConnectionPool):
            await pool.sentinel_manager.aclose()


def open_redis(
    url: str,
    *,
    max_connections: int = 64,
    tls: TlsFiles | None = None,
    sentinel_password: str | None = None,
) -> RedisClient:
    """``max_connections``: per node on a Cluster. ``sentinel_password``: the Sentinels' own."""
    deployment = redis_deployment(url)
    extra: dict[str, Any] = tls.redis_arguments() if tls is not None and deployment.tls else {}
    if deployment.kind == "single":
        return Redis.from_pool(
            BlockingConnectionPool.from_url(
                url, max_connections=max_connections, timeout=REDIS_POOL_WAIT_SECONDS, **extra
            )
        )
    if deployment.tls:
        extra["ssl"] = True
    login = {"username": deployment.username, "password": deployment.password}
    if deployment.kind == "cluster":
        return LineCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in deployment.nodes],
            max_connections=max_connections,
            **login,
            **extra,
        )
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(deployment.nodes),
        sentinel_kwargs={"password": sentinel_password, **extra},
    )
    client = sentinel.master_for(
        deployment.master,
        redis_class=_SentinelRedis,
        connection_pool_class=_SentinelPool,
        max_connections=max_connections,
        timeout=REDIS_POOL_WAIT_SECONDS,
        db=deployment.db,
        **login,
        **extra,
    )
    assert isinstance(client, _SentinelRedis)
    return client


async def ping(client: RedisClient) -> None:
    """A PING of the node that takes writes: the primary (Sentinel), every primary (Cluster;
    a replica down does not stop hitl)."""
    if isinstance(client, RedisCluster):
        await client.ping(target_nodes=RedisCluster.PRIMARIES)
    else:
        await client.ping()
