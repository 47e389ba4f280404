"""Interaction state in Redis: every change is one Lua script, atomic per interaction.

The store knows keys, scripts and serialisation; the decisions come from ``hitl.core.machine``.
Outbox entries ride in the same script as the state change they belong to, so a message is
never committed without its state nor the other way round.
"""

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from importlib import resources
from typing import Any
from uuid import UUID

from redis.exceptions import NoScriptError, RedisError

from hitl.adapters.redis.codec import dump_mutable, dump_outcome, dump_request
from hitl.adapters.redis.connection import RedisClient
from hitl.adapters.redis.filing import Filing
from hitl.adapters.redis.integrity import SequenceWatch
from hitl.adapters.redis.keys import Keys
from hitl.adapters.redis.lines import REDIRECTS, Executes, Lines
from hitl.adapters.redis.reads import RedisReads
from hitl.core.machine import EARLY, Transition, deadline_member
from hitl.errors import StoreFenced, TransportError
from hitl.ports import Backlog, CommitResult, Created, OutboxWrite

ScriptCall = tuple[str, list[str], list[Any]]
_TRIM_BATCH = 500
_MOST_HISTORY = 256 * 1024  # bytes (about 1,000 notes); refused and late answers stop
# being noted beyond it


_WITH_READS = ("create", "commit", "note")  # scripts that use lib_reads.lua


def _script(name: str) -> str:
    lua = resources.files("hitl.adapters.redis").joinpath("lua")
    text = lua.joinpath(f"{name}.lua").read_text()
    return lua.joinpath("lib_reads.lua").read_text() + text if name in _WITH_READS else text


def request_digest(request_json: bytes) -> str:
    return hashlib.blake2b(request_json, digest_size=16).hexdigest()


class RedisStore(RedisReads):
    """``InteractionStore`` (``hitl.ports``) on Redis."""

    def __init__(
        self,
        redis: RedisClient,
        keys: Keys,
        *,
        retention_seconds: int,
        outbox_lease_seconds: float,
        analytics_retention_seconds: int = 35 * 24 * 3600,
        script_timeout: float = 10.0,
        watch: SequenceWatch | None = None,
        wait_replicas: int = 0,
        wait_timeout: float = 1.0,
    ) -> None:
        """``watch``: the broker's store integrity check (``adapters/redis/integrity.py``): it
        greets each connection of a script line and sees each transition's number.
        ``wait_replicas``: each batch of scripts ends with ``WAIT wait_replicas wait_timeout``,
        and fails (its callers retry, their deliveries unacked) unless that many replicas
        acknowledged its writes in time."""
        super().__init__(redis, keys)
        self._retention = retention_seconds
        self._outbox_lease = outbox_lease_seconds
        self._filing = Filing(keys, analytics_retention_seconds)
        self._scripts = {
            name: redis.register_script(_script(name))
            for name in (
                "create", "commit", "claim", "hold", "peek_early", "take_early", "note", "trim",
                "mark",
            )
        }  # fmt: skip
        # One batch in flight: scripts started meanwhile share the next one (group commit).
        # A line per primary (one, but for a Redis Cluster's several: lines.py).
        self.watch = watch
        self._sequences = {keys.sequence(shard): shard for shard in range(keys.shards)}
        self._wait: tuple[str, int, int] | None = None
        if wait_replicas:
            self._wait = ("WAIT", wait_replicas, max(1, round(wait_timeout * 1000)))
        greet = watch.greet if watch is not None else None
        self._lines: Lines[ScriptCall, Any] = Lines(
            redis, self._run_batch, timeout=script_timeout, greet=greet
        )

    def shard(self, interaction_id: UUID) -> int:
        return self.keys.shard(interaction_id)

    async def create(
        self,
        transition: Transition,
        outbox: Sequence[OutboxWrite],
        request_json: bytes | None = None,
    ) -> Created:
        """``request_json``: the request as ``dump_request`` writes it, if the caller has it."""
        state = transition.state
        iid = state.request.id
        request_json = request_json or dump_request(state)
        finished = "" if state.is_pending else repr(state.requested_at)
        shard = self.keys.shard(iid)
        args: list[Any] = [
            str(iid),
            request_json,
            request_digest(request_json),
            repr(state.requested_at),
            dump_mutable(state),
            state.status,
            b"" if state.is_pending else dump_outcome(state),
            finished,
            self._retention,
            repr(state.requested_at + self._outbox_lease),
            len(transition.schedule),
        ]
        args += _schedule_and_outbox(transition, outbox)
        keys = [
            *self._transition_keys(shard, iid),
            self.keys.early(shard, iid),
            self.keys.done_keys(shard),
            self.keys.sequence(shard),
        ]
        reads_keys, reads_args = self._filing.on_create(transition, shard)
        result = await self._run("create", keys + reads_keys, args + reads_args)
        if result[0] == b"created":  # then the shard's sequence number, then held answers
            return Created("created", tuple(result[2:]))
        return Created(result[0].decode())

    async def commit(
        self,
        transition: Transition,
        expected_version: int,
        outbox: Sequence[OutboxWrite],
        now: float,
        outcome_json: bytes | None = None,
        *,
        despite_fence: bool = False,
    ) -> CommitResult:
        """``outcome_json``: the outcome as ``dump_outcome`` writes it, if the caller has it.
        Raises ``StoreFenced`` while the shard waits for a reconciliation after a possible
        loss of data, unless ``despite_fence`` (the reconciliation's own commits)."""
        state = transition.state
        iid = state.request.id
        fields: list[Any] = ["st", state.status, "ms", dump_mutable(state)]
        if state.outcome is not None:
            fields += ["out", outcome_json or dump_outcome(state)]
        args: list[Any] = [
            f"{expected_version}!" if despite_fence else expected_version,
            str(iid),
            "" if state.is_pending else repr(now),
            self._retention,
            repr(now + self._outbox_lease),
            repr(state.requested_at),
            len(fields) // 2,
            *fields,
            len(transition.unschedule),
            *transition.unschedule,
            len(transition.schedule),
        ]
        args += _schedule_and_outbox(transition, outbox)
        shard = self.keys.shard(iid)
        keys = [
            *self._transition_keys(shard, iid),
            self.keys.history(shard, iid),
            self.keys.done_keys(shard),
            self.keys.sequence(shard),
        ]
        reads_keys, reads_args = self._filing.on_commit(transition, now, shard)
        result = await self._run("commit", keys + reads_keys, args + reads_args)
        if type(result) is int:  # the shard's sequence number: committed
            return "ok"
        if result == b"fenced":
            raise StoreFenced(f"shard {shard} is fenced until the store is reconciled")
        return result.decode()  # type: ignore[no-any-return]

    async def hold_early(
        self, interaction_id: UUID, answer: bytes, hold_seconds: float, now: float
    ) -> bool:
        """Keep an answer until its request arrives; False if the interaction exists by now."""
        keys = self._early_keys(interaction_id)
        args = [
            answer,
            repr(now + hold_seconds),
            int(hold_seconds) + 60,
            deadline_member(interaction_id, EARLY),
        ]
        return bool(await self._run("hold", keys, args))

    async def peek_early(self, interaction_id: UUID) -> tuple[bool, list[bytes]]:
        """Held answers, left in place, and whether their interaction exists."""
        result = await self._run("peek_early", self._early_keys(interaction_id)[:2], [])
        return bool(result[0]), list(result[1:])

    async def take_early(self, interaction_id: UUID) -> tuple[bool, list[bytes]]:
        """Held answers whose hold ran out, and whether their interaction exists after all."""
        keys = self._early_keys(interaction_id)
        result = await self._run("take_early", keys, [deadline_member(interaction_id, EARLY)])
        return bool(result[0]), list(result[1:])

    def _transition_keys(self, shard: int, interaction_id: UUID) -> list[str]:
        """The keys create.lua and commit.lua share, in their KEYS order."""
        k = self.keys
        return [
            k.interaction(shard, interaction_id),
            k.pending(shard),
            k.due(shard),
            k.outbox(shard),
            k.outbox_data(shard),
            k.done(shard),
        ]

    def _early_keys(self, interaction_id: UUID) -> list[str]:
        """The keys of hold.lua and take_early.lua, in their KEYS order."""
        shard = self.keys.shard(interaction_id)
        return [
            self.keys.interaction(shard, interaction_id),
            self.keys.early(shard, interaction_id),
            self.keys.due(shard),
        ]

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

    async def outbox_done_many(self, published: dict[int, list[str]]) -> None:
        """Delete published outbox entries of several shards in one round trip."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for shard, entry_ids in published.items():
                    if entry_ids:
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

    async def note(self, interaction_id: UUID, entry: bytes) -> bool:
        """Append ``entry`` to the interaction's history, if it still exists."""
        shard = self.keys.shard(interaction_id)
        keys = [
            self.keys.interaction(shard, interaction_id),
            self.keys.history(shard, interaction_id),
        ]
        return bool(await self._run("note", keys, [entry, _MOST_HISTORY]))

    async def mark_alive(self, now: float) -> int:
        """Note in every shard that it was alive and unfenced ``now`` (``mark.lua``); how many
        shards are fenced (they keep their mark)."""
        results = await asyncio.gather(
            *(
                self._run("mark", [self.keys.sequence(s)], [repr(now)])
                for s in self._sequences.values()
            )
        )
        return sum(results)

    async def trim_done(self, before: float) -> int:
        """Drop finished interactions past ``before`` from the done set and the read indexes;
        how many."""
        trimmed = 0
        for shard in range(self.keys.shards):
            while True:
                n = await self._trim_some(shard, before)
                trimmed += n
                if n < _TRIM_BATCH:
                    break
        return trimmed

    async def _trim_some(self, shard: int, before: float) -> int:
        done, done_keys = self.keys.done(shard), self.keys.done_keys(shard)
        try:
            ids: list[Any] = await self.redis.zrangebyscore(
                done, "-inf", repr(before), 0, _TRIM_BATCH
            )
            if not ids:
                return 0
            held: list[Any] = await self.redis.hmget(done_keys, ids)
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis housekeeping failed: {exc}") from exc
        keys = [done, done_keys]
        at: dict[str, int] = {}
        args: list[Any] = []
        for iid, record in zip(ids, held, strict=True):
            index_keys = self._filing.filed_keys(shard, record)
            args += [iid, len(index_keys)]
            for key in index_keys:
                if key not in at:
                    at[key] = len(keys) + 1
                    keys.append(key)
                args.append(at[key])
        await self._run("trim", keys, args)
        return len(ids)

    async def backlog(self) -> Backlog:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for shard in range(self.keys.shards):
                    pipe.zcard(self.keys.pending(shard))
                    pipe.zrange(self.keys.pending(shard), 0, 0, withscores=True)
                    pipe.zcard(self.keys.outbox(shard))
                replies = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis housekeeping failed: {exc}") from exc
        oldest = [float(score) for head in replies[1::3] for _, score in head]
        return Backlog(
            pending=sum(replies[0::3]),
            oldest_requested_at=min(oldest, default=None),
            outbox=sum(replies[2::3]),
        )

    async def _claim_all(
        self, keys_of: Callable[[int], list[str]], now: float, lease_until: float, limit: int
    ) -> list[list[bytes]]:
        args = [repr(now), repr(lease_until), limit]
        return list(
            await asyncio.gather(
                *(self._run("claim", keys_of(shard), args) for shard in range(self.keys.shards))
            )
        )

    def _run(self, script: str, keys: list[str], args: list[Any]) -> Awaitable[Any]:
        return self._lines.submit(keys[0], (script, keys, args))

    async def _run_batch(self, line: Executes, calls: list[ScriptCall]) -> list[Any]:
        """EVALSHA each call in one write on ``line``; load a script Redis does not know, and
        retry the calls it refused (a refused call did not run). Failures stay with their own
        call; a redirection (Cluster) goes back to ``Lines`` as it is."""
        try:
            results, replicas = await self._evalsha_all(line, calls)
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis scripts failed: {exc}") from exc
        refused = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if refused:
            try:
                for name in {calls[i][0] for i in refused}:
                    await self.redis.script_load(self._scripts[name].script)
                retried, again = await self._evalsha_all(line, [calls[i] for i in refused])
                replicas = min(replicas, again)
            except (RedisError, OSError) as exc:  # only the refused calls failed
                retried = [exc] * len(refused)
            for i, result in zip(refused, retried, strict=True):
                results[i] = result
        if self._wait is not None and replicas < self._wait[1]:
            # Committed on the primary, not (yet) on enough replicas: not to be acked, nor
            # counted in the watermark (a replica promoted without them lost nothing acked).
            error = TransportError(
                f"Redis WAIT: {replicas} of {self._wait[1]} replicas acknowledged the writes "
                f"within {self._wait[2]} ms"
            )
            return [error] * len(calls)
        if self.watch is not None:
            self._observe(calls, results)
        keep = REDIRECTS if self._lines.routed else ()
        return [_translated(call[0], r, keep) for call, r in zip(calls, results, strict=True)]

    def _observe(self, calls: list[ScriptCall], results: list[Any]) -> None:
        """Each committed transition's sequence number, in the order Redis ran them."""
        assert self.watch is not None
        for (name, keys, _), result in zip(calls, results, strict=True):
            if name == "commit" and type(result) is int:
                self.watch.observe(self._sequences[keys[8]], result)
            elif name == "create" and type(result) is list and result[0] == b"created":
                self.watch.observe(self._sequences[keys[8]], result[1])

    async def _evalsha_all(self, line: Executes, calls: list[ScriptCall]) -> tuple[list[Any], int]:
        """The replies, and how many replicas acknowledged the writes (``WAIT``; without it,
        a number no setting reaches)."""
        commands: list[Sequence[Any]] = [
            ("EVALSHA", self._scripts[name].sha, len(keys), *keys, *args)
            for name, keys, args in calls
        ]
        if self._wait is None:
            return await line.execute(commands), 1 << 30
        replies = await line.execute([*commands, self._wait])
        acked = replies.pop()
        if type(acked) is not int:
            raise TransportError(f"Redis WAIT failed: {acked}")
        return replies, acked


def _translated(script: str, result: Any, keep: tuple[type[Exception], ...]) -> Any:
    if not isinstance(result, Exception) or isinstance(result, keep):
        return result
    error = TransportError(f"Redis script {script} failed: {result}")
    error.__cause__ = result
    return error


def _schedule_and_outbox(transition: Transition, outbox: Sequence[OutboxWrite]) -> list[Any]:
    """The part both scripts share: (score, member) per new deadline, then the outbox count
    and pairs."""
    tail: list[Any] = []
    for deadline in transition.schedule:
        tail += [repr(deadline.at), deadline.member]
    tail.append(len(outbox))
    for entry_id, payload in outbox:
        tail += [entry_id, payload]
    return tail
