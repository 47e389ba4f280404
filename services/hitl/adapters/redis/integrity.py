"""Store integrity on Redis: what a Redis process that came back with less than it had cannot
carry forward.

Each shard keeps a sequence (``Keys.sequence``): create.lua and commit.lua add 1 to it in the
step that commits a transition and return the new number, so every broker knows the highest
number it saw committed on each shard (its *watermark*, kept in the broker's memory, outside
Redis). A Redis restored from an older snapshot, or restarted empty, comes back with a lower
number; so does one flushed, or a replica promoted before it had everything.

Two checks, neither an extra round trip per message:

- every transition's number is compared with the watermark as its batch's replies are read
  (in the order Redis ran them): a number not above it means the shard went back;
- every connection the store's script line opens greets the Redis process first (``epoch.lua``,
  run before any batch): the first connection of any broker to meet a new process (another
  ``run_id``) records the number the shard came back with and *fences* the shard, so commit.lua
  refuses every decision there until a broker has reconciled the store with what was published
  (``hitl.broker.integrity``). A broker whose watermark is above the number recorded lost
  committed transitions, and says so.

What to do about it is the listener's (``SequenceListener``); this module only measures.
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisError, ResponseError

from hitl.adapters.redis.connection import RedisClient
from hitl.adapters.redis.keys import Keys
from hitl.adapters.redis.reads import shard_hashes
from hitl.adapters.redis.resp import pack_all
from hitl.errors import TransportError

log = logging.getLogger(__name__)


def _lua(name: str) -> str:
    return resources.files("hitl.adapters.redis").joinpath("lua", f"{name}.lua").read_text()


_EPOCH = _lua("epoch")
_FENCE = """
-- KEYS: 1 the shard's sequence hash; ARGV: 1 the run_id the caller knows ('' for any),
-- 2 the reason to fence, or '' to lift the fence. A fence is always set (and the run noted
-- when the hash was lost); it is lifted only while Redis is still the process the caller
-- knows. Returns 1 when done, 0 when the run changed.
if ARGV[2] ~= '' then
  if ARGV[1] ~= '' then redis.call('HSETNX', KEYS[1], 'run', ARGV[1]) end
  redis.call('HSET', KEYS[1], 'fence', ARGV[2])
  return 1
end
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'run') ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], 'fence')
return 1
"""
RESTART = "the Redis process changed (restart, failover or restore): reconciling"


@dataclass(frozen=True, slots=True)
class ShardEpoch:
    """What ``epoch.lua`` said of one shard."""

    shard: int
    n: int  # transitions committed, as Redis has it now
    loaded: int  # n when this Redis process was first seen
    first: bool  # this greeting was the first to see the process (it fenced the shard)
    since: float | None  # the last time a broker marked the shard alive before, as restored
    fenced: bool


@dataclass(frozen=True, slots=True)
class Loss:
    """A shard came back with fewer committed transitions than this broker saw committed."""

    shard: int
    seen: int  # the broker's watermark
    found: int  # what Redis had
    run_id: str
    how: str  # "restart" (a new Redis process) or "regression" (the same process, going back)

    @property
    def transitions(self) -> int:
        """At least this many committed transitions are gone."""
        return self.seen - self.found


@dataclass(frozen=True, slots=True)
class Greeting:
    run_id: str
    previous_run_id: str | None
    shards: tuple[ShardEpoch, ...]
    losses: tuple[Loss, ...]

    @property
    def new_process(self) -> bool:
        """Some shard saw this Redis process first through this greeting."""
        return any(s.first for s in self.shards)

    @property
    def fenced(self) -> bool:
        return any(s.fenced for s in self.shards)

    @property
    def since(self) -> float | None:
        """From when the log must be read again: the oldest mark the shards came back with
        (None: some shard had none, read it all)."""
        marks = [s.since for s in self.shards]
        return None if any(m is None for m in marks) else min(m for m in marks if m is not None)


class SequenceListener(Protocol):
    def greeted(self, greeting: Greeting) -> None:
        """A connection met a Redis process; called before its first batch is sent."""
        ...

    def went_back(self, loss: Loss) -> None:
        """A transition's number was not above the watermark."""
        ...


class SequenceWatch:
    """The broker's watermark of each shard's sequence, and the greeting of each connection."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self.watermark: dict[int, int] = {}
        # The Redis process each shard was last met on (a Cluster's shards are on several),
        # and ``run_id``, naming them all: the one process of a single node, else their ids
        # joined by '+', with which ``fence`` checks each shard's.
        self._runs: dict[int, str] = {}
        self._named: dict[str, dict[int, str]] = {}
        self.run_id: str | None = None
        self.listener: SequenceListener | None = None

    async def greet(
        self, connection: AbstractConnection, owns: Callable[[str], bool] | None = None
    ) -> None:
        """``ScriptLine``'s handshake: who is this Redis process, and what did it keep of the
        shards whose sequence key it ``owns`` (all of them but on a Cluster)."""
        shards = [
            s for s in range(self._keys.shards) if owns is None or owns(self._keys.sequence(s))
        ]
        commands: list[Sequence[Any]] = [("INFO", "server")]
        commands += [("EVAL", _EPOCH, 1, self._keys.sequence(s), "", RESTART) for s in shards]
        await connection.send_packed_command(pack_all(commands[:1]), check_health=False)
        run_id = _run_id(await connection.read_response())
        commands = [(*c[:4], run_id, c[5]) for c in commands[1:]]
        await connection.send_packed_command(pack_all(commands), check_health=False)
        replies = [await connection.read_response() for _ in commands]
        epochs = tuple(_epoch(s, reply) for s, reply in zip(shards, replies, strict=True))
        greeting = self._compare(run_id, epochs)
        if self.listener is not None:
            self.listener.greeted(greeting)

    def _compare(self, run_id: str, epochs: tuple[ShardEpoch, ...]) -> Greeting:
        known = next((self._runs[e.shard] for e in epochs if e.shard in self._runs), None)
        losses = []
        for e in epochs:
            previous = self._runs.get(e.shard)
            self._runs[e.shard] = run_id
            seen = self.watermark.get(e.shard)
            # Against what the process came back with when it is another one; against what
            # it has now when it is the same (a flush, or nothing happened).
            found = e.loaded if previous not in (None, run_id) else e.n
            if seen is not None and seen > found:
                losses.append(Loss(e.shard, seen, found, run_id, "restart"))
            self.watermark[e.shard] = e.n if seen is None or seen > found else max(seen, e.n)
        self.run_id = "+".join(dict.fromkeys(self._runs[s] for s in sorted(self._runs)))
        self._named = {self.run_id: dict(self._runs)} | dict(list(self._named.items())[-7:])
        return Greeting(run_id, known, epochs, tuple(losses))

    def observe(self, shard: int, n: int) -> None:
        """A transition committed as number ``n`` of its shard (replies in Redis's order)."""
        seen = self.watermark.get(shard)
        if seen is not None and n <= seen:
            loss = Loss(shard, seen, n - 1, self.run_id or "", "regression")
            self.watermark[shard] = n
            if self.listener is not None:
                self.listener.went_back(loss)
            return
        self.watermark[shard] = n

    async def fence(self, reason: str, run_id: str = "") -> bool:
        """Fence every shard (``reason``), or lift the fence (``reason=''``), with ``run_id``
        only while Redis is still that process: False when it is not (on a Cluster: while
        each shard is on the process it was on when ``run_id`` named them)."""
        runs = self._named.get(run_id, {})
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for shard in range(self._keys.shards):
                    run = runs.get(shard, run_id) if run_id else ""
                    pipe.eval(_FENCE, 1, self._keys.sequence(shard), run, reason)
                done = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise TransportError(f"Redis fence failed: {exc}") from exc
        return all(done)

    async def shards(self) -> list[dict[str, str]]:
        """Each shard's sequence hash, as text (for ``hitl store status``)."""
        rows = await shard_hashes(self._redis, self._keys.shards, self._keys.sequence)
        return [{k.decode(): v.decode() for k, v in row.items()} for row in rows]


def _run_id(info: Any) -> str:
    if isinstance(info, ResponseError):
        raise info
    text = info.decode() if isinstance(info, bytes) else str(info)
    for line in text.splitlines():
        if line.startswith("run_id:"):
            return line.partition(":")[2].strip()
    raise TransportError("Redis INFO server names no run_id")


def _epoch(shard: int, reply: Any) -> ShardEpoch:
    if isinstance(reply, Exception):
        raise reply
    n, loaded, first, since, fenced = reply
    return ShardEpoch(
        shard, int(n), int(loaded), bool(first), float(since) if since else None, bool(fenced)
    )
