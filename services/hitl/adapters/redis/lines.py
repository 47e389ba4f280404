"""Where a batch goes: the script line (``line.py``) of the Redis primary that owns the key.

One node, or a primary found through Sentinel: one line and one group commit, as ever (the
line connects again, through the Sentinels, after a failover).

Redis Cluster: a line and a group commit (``Coalescer``) per primary, so every primary gets
its own batches, one write each, in parallel. A call goes to the primary that owns its key's
slot (every key of a call shares one hash tag, so one slot) in redis-py's map of slots
(``RedisCluster``, which keeps it). Then:

- ``MOVED``: the call did not run; the map is read again and the call goes where it says;
- ``ASK`` (a slot being migrated): the call goes once to the node named, after ``ASKING``;
- ``TRYAGAIN``, ``CLUSTERDOWN``: tried again after a pause and a fresh map, a few times;
- a node lost (a batch failed as a whole): the error goes to the callers (they retry, as for
  any Redis failure), and the map is read again (at most every ``_REFRESH_EVERY``), so the
  retries find the replica the cluster promotes in its place.
"""

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from redis.asyncio.cluster import ClusterNode
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    RedisClusterException,
    RedisError,
    TryAgainError,
)

from hitl.adapters.redis.connection import LineCluster, RedisClient
from hitl.adapters.redis.line import ScriptLine
from hitl.adapters.redis.resp import Arg
from hitl.errors import TransportError
from hitl.runtime.coalescer import Coalescer

log = logging.getLogger(__name__)
Item = TypeVar("Item")
Result = TypeVar("Result")
Owns = Callable[[str], bool]


class Greet(Protocol):
    """Run on each connection a line opens, with which keys its node owns (None: all)."""

    def __call__(self, connection: AbstractConnection, owns: Owns | None) -> Awaitable[None]: ...


# A script line (or anything that sends commands like one) and a batch for it.
Flush = Callable[["Executes", list[Item]], Awaitable[Sequence[Result | BaseException]]]
# Replies a call gets when its slot is not (or not only) where it was sent.
REDIRECTS = (AskError, TryAgainError, ClusterDownError)  # MovedError is an AskError
_TRIES = 5
_PAUSE = 0.05  # seconds, doubled after each TRYAGAIN or CLUSTERDOWN
_REFRESH_EVERY = 0.25  # seconds between two reads of the map after lost nodes


class Executes:
    """What a flush sends its commands through (``ScriptLine.execute``'s shape)."""

    def __init__(self, line: ScriptLine) -> None:
        self.line = line

    async def execute(self, commands: Sequence[Sequence[Arg]]) -> list[Any]:
        return await self.line.execute(commands)


class _Asking(Executes):
    """Each command after ``ASKING``: for a node that is importing its slot."""

    async def execute(self, commands: Sequence[Sequence[Arg]]) -> list[Any]:
        sent: list[Sequence[Arg]] = []
        for command in commands:
            sent += [("ASKING",), command]
        return (await self.line.execute(sent))[1::2]


@dataclass
class _Route(Generic[Item, Result]):
    through: Executes
    calls: Coalescer[Item, Result]


class Lines(Generic[Item, Result]):
    """``submit(key, item)``: ``item`` flushed, with the others of its batch, on the line of
    the primary that owns ``key``; its result, or its error raised."""

    def __init__(
        self,
        redis: RedisClient,
        flush: Flush[Item, Result],
        *,
        timeout: float,
        greet: Greet | None = None,
    ) -> None:
        self._flush = flush
        self._timeout = timeout
        self._greet = greet
        self._cluster: LineCluster | None = None
        self._single: Coalescer[Item, Result] | None = None
        self._routes: dict[str, _Route[Item, Result]] = {}
        self._refreshing: asyncio.Task[None] | None = None
        self._refreshed = 0.0
        if isinstance(redis, LineCluster):
            self._cluster = redis
        else:
            handshake = functools.partial(greet, owns=None) if greet is not None else None
            line = ScriptLine(redis, timeout=timeout, handshake=handshake)
            self._single = self._coalescer(Executes(line))

    @property
    def routed(self) -> bool:
        """Several primaries (a Cluster): redirections come back to ``submit``."""
        return self._cluster is not None

    def submit(self, key: str, item: Item) -> Awaitable[Result]:
        if self._single is not None:  # no coroutine of our own on the single node's path
            return self._single.submit(item)
        return self._routed(key, item)

    def _coalescer(self, through: Executes) -> Coalescer[Item, Result]:
        return Coalescer(functools.partial(self._flush, through), one_at_a_time=True)

    async def _routed(self, key: str, item: Item) -> Result:
        cluster = self._cluster
        assert cluster is not None
        pause = _PAUSE
        for _ in range(_TRIES):
            try:
                await cluster.initialize()  # a no-op once the map is read
                return await self._route(_owner(cluster, key)).calls.submit(item)
            except MovedError:
                await self._refresh(now=True)
            except AskError as ask:
                return await self._asked(cluster, ask, item)
            except (TryAgainError, ClusterDownError):
                await asyncio.sleep(pause)
                pause *= 2
                await self._refresh(now=True)
            except TransportError:
                self._refresh_soon()
                raise
            except (RedisError, RedisClusterException, OSError) as exc:  # the map unreadable
                self._refresh_soon()
                raise TransportError(f"Redis Cluster: {exc}") from exc
        raise TransportError(f"Redis Cluster: the slot of {key} kept moving ({_TRIES} tries)")

    async def _asked(self, cluster: LineCluster, ask: AskError, item: Item) -> Result:
        node = cluster.get_node(ask.host, ask.port)
        if node is None:  # a node the map does not know yet
            await self._refresh(now=True)
            node = cluster.get_node(ask.host, ask.port)
        if node is None:
            raise TransportError(f"Redis Cluster: asked to go to {ask.node_addr}, not in the map")
        route = self._route(node)
        [result] = await self._flush(_Asking(route.through.line), [item])
        if isinstance(result, BaseException):
            raise TransportError(f"Redis Cluster (asked {node.name}): {result}") from result
        return result

    def _route(self, node: ClusterNode) -> _Route[Item, Result]:
        route = self._routes.get(node.name)
        if route is None:
            assert self._cluster is not None
            handshake = None
            if self._greet is not None:
                handshake = functools.partial(self._greet, owns=self._owned_by(node.name))
            line = ScriptLine(
                None,
                timeout=self._timeout,
                handshake=handshake,
                connection=self._cluster.line_connection(node),
            )
            through = Executes(line)
            route = self._routes[node.name] = _Route(through, self._coalescer(through))
        return route

    def _owned_by(self, name: str) -> Owns:
        cluster = self._cluster
        assert cluster is not None
        return lambda key: _owner(cluster, key).name == name

    async def _refresh(self, *, now: bool = False) -> None:
        """Read the map of slots again (redis-py's ``NodesManager``)."""
        assert self._cluster is not None
        if not now and time.monotonic() - self._refreshed < _REFRESH_EVERY:
            return
        self._refreshed = time.monotonic()
        before = _primaries(self._cluster)
        try:
            await self._cluster.nodes_manager.initialize()
        except (RedisError, RedisClusterException, OSError) as exc:
            log.warning("Redis Cluster: could not read the map of slots: %r", exc)
            return
        after = _primaries(self._cluster)
        if after != before:
            log.warning(
                "Redis Cluster: the primaries are now %s (were %s); scripts go to the new "
                "owners of the slots, each line greeting its node first",
                ", ".join(after),
                ", ".join(before),
            )

    def _refresh_soon(self) -> None:
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.ensure_future(self._refresh())


def _primaries(cluster: LineCluster) -> list[str]:
    return sorted(node.name for node in cluster.get_primaries())


def _owner(cluster: LineCluster, key: str) -> ClusterNode:
    node = cluster.get_node_from_key(key)
    if node is None:
        raise TransportError(f"Redis Cluster: no node serves the slot of {key}")
    return node
