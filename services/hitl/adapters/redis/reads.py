"""Reading interactions from Redis: one by id, pages of a read index, history and counters.

What the gateway, ``hitl pending`` and ``hitl show`` use (``InteractionReads``); never writes
(the broker is the one writer). A page reads, per shard and status, the index that
``hitl.core.listing.index_for`` picks, merges those sorted sets in (requested_at, id) order,
loads the interactions and keeps those that still match, so the cost of a page depends on its
size, not on how many interactions are stored.
"""

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson
from redis.exceptions import RedisError

from hitl.adapters.redis.codec import STATE_FIELDS, load_state
from hitl.adapters.redis.connection import RedisClient
from hitl.adapters.redis.keys import Keys
from hitl.adapters.redis.lines import Executes, Lines
from hitl.adapters.redis.resp import Arg
from hitl.core import audit
from hitl.core.decisions import Answerers
from hitl.core.listing import Page, Position, Query, index_for, matches, statuses
from hitl.core.machine import InteractionState
from hitl.errors import TransportError
from hitl_contract import HistoryEntry


@dataclass
class _Stream:
    """One sorted set being read in the listing's order."""

    key: str
    start: Position | None
    ties: int = 0  # members at exactly ``start.at`` read already (skipped by offset)
    buffer: deque[Position] = field(default_factory=deque)
    done: bool = False


class RedisReads:
    """``InteractionReads`` (``hitl.ports``) on Redis."""

    def __init__(self, redis: RedisClient, keys: Keys, *, read_timeout: float = 10.0) -> None:
        self.redis = redis
        self.keys = keys
        # The reads on the gateway's answer path go on a connection of their own, packed by
        # hand, concurrent ones sharing a write (group commit), as the store's scripts do:
        # a fraction of redis-py's cost per command.
        self._reads: Lines[Sequence[Arg], Any] = Lines(redis, _execute, timeout=read_timeout)

    async def load(self, interaction_id: UUID) -> InteractionState | None:
        key = self.keys.interaction(self.keys.shard(interaction_id), interaction_id)
        try:
            values = await self.redis.hmget(key, STATE_FIELDS)
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis read failed: {exc}") from exc
        return load_state(values)

    async def answerers(self, interaction_id: UUID) -> Answerers | None:
        """From the status and the stored request's JSON, read with orjson: no model of the
        request is built."""
        key = self.keys.interaction(self.keys.shard(interaction_id), interaction_id)
        try:
            reply = await self._reads.submit(key, ("HMGET", key, "st", "req"))
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis read failed: {exc}") from exc
        if isinstance(reply, Exception):
            raise TransportError(f"Redis read failed: {reply}") from reply
        status, request = reply
        if status is None or request is None:
            return None
        fields = orjson.loads(request)
        return Answerers(
            pending=status == b"pending",
            responders=fields.get("responders"),
            requester=fields["requester"]["id"],
        )

    async def pending(self, limit: int = 1000) -> list[InteractionState]:
        """The oldest pending interactions across shards, oldest first."""
        page = await self.query(
            Query(status="pending", newest_first=False, limit=limit, scan_limit=limit)
        )
        return page.items

    async def query(self, query: Query) -> Page:
        try:
            return await self._query(query)
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis read failed: {exc}") from exc

    async def _query(self, query: Query) -> Page:
        streams = self._streams(query)
        batch = query.limit + 1 if len(streams) <= self.keys.shards else query.limit // 4 + 9
        desc = query.newest_first
        seen: set[str] = set()
        items: list[InteractionState] = []
        scanned = 0
        last: Position | None = None
        while len(items) < query.limit and scanned < query.scan_limit:
            await self._fill(streams, batch, desc)
            want = min(query.limit - len(items), query.scan_limit - scanned)
            candidates: list[Position] = []
            while len(candidates) < want:
                head = _next(streams, desc)
                if head is None:
                    break
                if head.id not in seen:
                    seen.add(head.id)
                    candidates.append(head)
                if any(not s.buffer and not s.done for s in streams):
                    await self._fill(streams, batch, desc)
            if not candidates:
                return Page(items, None)
            scanned += len(candidates)
            last = candidates[-1]
            states = await self._load_many([UUID(c.id) for c in candidates])
            items += [s for s in states if s is not None and matches(s, query)]
        more = any(s.buffer or not s.done for s in streams)
        return Page(items, last if more else None)

    def _streams(self, query: Query) -> list[_Stream]:
        k = self.keys
        dimension, values = index_for(query)
        keys = [
            k.by_status(shard, status)
            if dimension is None
            else k.by_term(shard, status, dimension, value)
            for shard in range(k.shards)
            for status in statuses(query)
            for value in (values if dimension is not None else [""])
        ]
        return [_Stream(key, query.after) for key in keys]

    async def _fill(self, streams: list[_Stream], batch: int, desc: bool) -> None:
        """Read the next ``batch`` members of every stream whose buffer ran dry."""
        dry = [s for s in streams if not s.buffer and not s.done]
        while dry:
            async with self.redis.pipeline(transaction=False) as pipe:
                for s in dry:
                    high = repr(s.start.at) if s.start else "+inf"
                    low = repr(s.start.at) if s.start else "-inf"
                    if desc:
                        pipe.zrevrangebyscore(s.key, high, "-inf", s.ties, batch, withscores=True)
                    else:
                        pipe.zrangebyscore(s.key, low, "+inf", s.ties, batch, withscores=True)
                replies = await pipe.execute()
            again = []
            for s, rows in zip(dry, replies, strict=True):
                if _take(s, rows, batch, desc):
                    again.append(s)
            dry = again

    async def _load_many(self, ids: Sequence[UUID]) -> list[InteractionState | None]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for iid in ids:
                pipe.hmget(self.keys.interaction(self.keys.shard(iid), iid), STATE_FIELDS)
            values = await pipe.execute()
        return [load_state(v) for v in values]

    async def history(self, interaction_id: UUID) -> list[HistoryEntry]:
        """The hash's ``hist`` field: JSON items joined by commas; or, for an interaction
        no version since the history moved there has written, the list it was kept in."""
        shard = self.keys.shard(interaction_id)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hget(self.keys.interaction(shard, interaction_id), "hist")
                pipe.lrange(self.keys.history(shard, interaction_id), 0, -1)
                joined, listed = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis read failed: {exc}") from exc
        if joined:
            return audit.read(orjson.loads(b"[" + joined + b"]"))
        return audit.read([orjson.loads(item) for item in listed])

    async def counters(self, hours: Sequence[int]) -> list[dict[str, int]]:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for shard in range(self.keys.shards):
                    for hour in hours:
                        pipe.hgetall(self.keys.counters(shard, hour))
                replies = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis read failed: {exc}") from exc
        return [_ints(reply) for reply in replies if reply]

    async def pending_counts(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for reply in await shard_hashes(self.redis, self.keys.shards, self.keys.pending_counts):
            for name, count in _ints(reply).items():
                total[name] = total.get(name, 0) + count
        return total


async def _execute(line: Executes, commands: list[Sequence[Arg]]) -> list[Any]:
    return await line.execute(commands)


async def shard_hashes(
    redis: RedisClient, shards: int, key_of: Callable[[int], str]
) -> list[dict[bytes, bytes]]:
    """The hash ``key_of(shard)`` of every shard, in one round trip."""
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for shard in range(shards):
                pipe.hgetall(key_of(shard))
            return list(await pipe.execute())
    except (RedisError, OSError) as exc:
        raise TransportError(f"Redis read failed: {exc}") from exc


def _take(stream: _Stream, rows: list[tuple[bytes, float]], batch: int, desc: bool) -> bool:
    """Buffer the rows that come after the stream's start; True to read again at once (a
    whole batch fell before the start: members sharing one score)."""
    start = stream.start
    fresh = [Position(score, member.decode()) for member, score in rows]
    if start is not None:
        fresh = [p for p in fresh if (p < start if desc else p > start)]
    stream.buffer.extend(fresh)
    if len(rows) < batch:
        stream.done = True
    if fresh:
        # Next time, skip by offset every member at tail's score up to tail: the ones this
        # read returned, and, when the score did not move, the ones skipped before.
        tail = fresh[-1]
        same = sum(1 for _, score in rows if score == tail.at)
        stream.ties = same + (stream.ties if start is not None and start.at == tail.at else 0)
        stream.start = tail
        return False
    if not stream.done:
        stream.ties += len(rows)
        return True
    return False


def _next(streams: list[_Stream], desc: bool) -> Position | None:
    heads = [s for s in streams if s.buffer]
    if not heads:
        return None
    pick = max if desc else min
    best = pick(heads, key=lambda s: s.buffer[0])
    return best.buffer.popleft()


def _ints(reply: dict[Any, Any]) -> dict[str, int]:
    return {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in reply.items()}
