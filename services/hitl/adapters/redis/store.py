"""Interaction state in Redis: every change is one Lua script, atomic per interaction.

The store knows keys, scripts and serialisation; the decisions come from ``hitl.core.machine``.
Outbox entries ride in the same script as the state change they belong to, so a message is
never committed without its state nor the other way round.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal
from uuid import UUID

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from hitl.adapters.redis.keys import Keys
from hitl.core.decoding import REQUEST_ADAPTER
from hitl.core.machine import InteractionState, Transition
from hitl.errors import TransportError
from hitl_contract import InteractionOutcome

OutboxEntry = tuple[str, bytes]
CreateResult = Literal["created", "duplicate", "conflict"]
CommitResult = Literal["ok", "stale", "missing"]
_STATE_FIELDS = ("req", "st", "v", "ra", "dl", "out")


def _script(name: str) -> str:
    return resources.files("hitl.adapters.redis").joinpath(f"lua/{name}.lua").read_text()


def request_digest(request_json: bytes) -> str:
    return hashlib.blake2b(request_json, digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class PendingRow:
    interaction_id: str
    requested_at: float


class RedisStore:
    def __init__(
        self, redis: "Redis", keys: Keys, *, retention_seconds: int, outbox_lease_seconds: float
    ) -> None:
        self.redis = redis
        self.keys = keys
        self._retention = retention_seconds
        self._outbox_lease = outbox_lease_seconds
        self._create = redis.register_script(_script("create"))
        self._commit = redis.register_script(_script("commit"))
        self._claim = redis.register_script(_script("claim"))

    async def ping(self) -> None:
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis did not answer: {exc}") from exc

    async def create(self, transition: Transition, outbox: Sequence[OutboxEntry]) -> CreateResult:
        state = transition.state
        request_json = orjson.dumps(state.request.model_dump(mode="json"))
        shard = self.keys.shard(state.request.id)
        k = self.keys
        args: list[Any] = [
            str(state.request.id),
            request_json,
            request_digest(request_json),
            repr(state.requested_at),
            repr(state.deadline) if state.deadline else "",
            repr(state.requested_at + self._outbox_lease),
            self._retention,
            len(transition.schedule),
        ]
        for deadline in transition.schedule:
            args += [repr(deadline.at), deadline.member]
        for entry_id, payload in outbox:
            args += [entry_id, payload]
        keys = [
            k.interaction(shard, state.request.id),
            k.pending(shard),
            k.due(shard),
            k.outbox(shard),
            k.outbox_data(shard),
            k.thread(shard, state.request.thread_id),
        ]
        result = await self._call(self._create, keys, args)
        return result.decode()  # type: ignore[no-any-return]

    async def commit(
        self,
        transition: Transition,
        expected_version: int,
        outbox: Sequence[OutboxEntry],
        now: float,
    ) -> CommitResult:
        state = transition.state
        iid = state.request.id
        shard = self.keys.shard(iid)
        k = self.keys
        fields: list[Any] = ["st", state.status]
        if state.outcome is not None:
            fields += ["out", orjson.dumps(state.outcome.model_dump(mode="json"))]
        finished = repr(now) if not state.is_pending else ""
        args: list[Any] = [
            expected_version,
            str(iid),
            finished,
            self._retention,
            repr(now + self._outbox_lease),
            len(fields) // 2,
            *fields,
            len(transition.unschedule),
            *transition.unschedule,
            len(transition.schedule),
        ]
        for deadline in transition.schedule:
            args += [repr(deadline.at), deadline.member]
        for entry_id, payload in outbox:
            args += [entry_id, payload]
        keys = [
            k.interaction(shard, iid),
            k.pending(shard),
            k.due(shard),
            k.outbox(shard),
            k.outbox_data(shard),
            k.done(shard),
        ]
        result = await self._call(self._commit, keys, args)
        return result.decode()  # type: ignore[no-any-return]

    async def load(self, interaction_id: UUID) -> InteractionState | None:
        key = self.keys.interaction(self.keys.shard(interaction_id), interaction_id)
        try:
            values = await self.redis.hmget(key, _STATE_FIELDS)
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis read failed: {exc}") from exc
        return _state_from(values)  # type: ignore[arg-type]  # bytes: no decode_responses

    async def claim_due(self, now: float, lease_until: float, limit: int) -> list[str]:
        """Claim due deadlines of every shard in one round trip."""
        results = await self._claim_all(lambda s: [self.keys.due(s)], now, lease_until, limit)
        return [member.decode() for shard in results for member in shard]

    async def claim_outbox(
        self, now: float, lease_until: float, limit: int
    ) -> list[tuple[int, str, bytes]]:
        """Outbox entries whose writer did not publish them in time (it died, or was slow)."""
        results = await self._claim_all(
            lambda s: [self.keys.outbox(s), self.keys.outbox_data(s)], now, lease_until, limit
        )
        return [
            (shard, flat[i].decode(), flat[i + 1])
            for shard, flat in enumerate(results)
            for i in range(0, len(flat), 2)
        ]

    async def outbox_done(self, shard: int, entry_ids: Sequence[str]) -> None:
        if not entry_ids:
            return
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zrem(self.keys.outbox(shard), *entry_ids)
                pipe.hdel(self.keys.outbox_data(shard), *entry_ids)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis outbox cleanup failed: {exc}") from exc

    async def reschedule(self, interaction_id: UUID, member: str, at: float | None) -> None:
        """Move a deadline to ``at``, or drop it (None) when its interaction is gone or done."""
        key = self.keys.due(self.keys.shard(interaction_id))
        try:
            if at is None:
                await self.redis.zrem(key, member)
            else:
                await self.redis.zadd(key, {member: at}, xx=True)
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis reschedule failed: {exc}") from exc

    async def pending(self, limit: int = 1000) -> list[InteractionState]:
        """The oldest pending interactions across shards, oldest first."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for shard in range(self.keys.shards):
                    pipe.zrange(self.keys.pending(shard), 0, limit - 1, withscores=True)
                per_shard = await pipe.execute()
            rows = sorted(
                (
                    (score, shard, member.decode())
                    for shard, members in enumerate(per_shard)
                    for member, score in members
                )
            )[:limit]
            async with self.redis.pipeline(transaction=False) as pipe:
                for _, shard, iid in rows:
                    pipe.hmget(self.keys.interaction(shard, iid), _STATE_FIELDS)
                values = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis read failed: {exc}") from exc
        return [s for s in map(_state_from, values) if s is not None]

    async def count_pending(self) -> int:
        async with self.redis.pipeline(transaction=False) as pipe:
            for shard in range(self.keys.shards):
                pipe.zcard(self.keys.pending(shard))
            return sum(await pipe.execute())

    async def trim_done(self, before: float) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for shard in range(self.keys.shards):
                pipe.zremrangebyscore(self.keys.done(shard), "-inf", repr(before))
            await pipe.execute()

    async def _claim_all(
        self, keys_of: Any, now: float, lease_until: float, limit: int
    ) -> list[list[bytes]]:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for shard in range(self.keys.shards):
                    await self._claim(
                        keys=keys_of(shard), args=[repr(now), repr(lease_until), limit], client=pipe
                    )
                return await pipe.execute()
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis claim failed: {exc}") from exc

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return await script(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis script failed: {exc}") from exc


def _state_from(values: list[bytes | None]) -> InteractionState | None:
    req, status, version, requested_at, deadline, outcome = values
    if req is None or status is None or version is None or requested_at is None:
        return None
    return InteractionState(
        request=REQUEST_ADAPTER.validate_json(req),
        status=status.decode(),
        version=int(version),
        requested_at=float(requested_at),
        deadline=float(deadline) if deadline else None,
        outcome=InteractionOutcome.model_validate_json(outcome) if outcome else None,
    )
