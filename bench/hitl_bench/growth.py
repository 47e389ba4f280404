"""Growth: how hitl behaves with many interactions already pending.

Pending state is seeded straight into Redis with the script call ``RedisStore.create`` makes for
a new request: captured once from the broker's own code path (``open_interaction``, then the
store, with an empty outbox as if the notification had gone out), then replayed with fresh ids
over a raw pipelining connection. Each seeded interaction has a timeout a day away, so the
deadline set holds every one of them. Then, per level, a fresh broker process answers new
interactions, and we read: their latency, the poller's cost, Redis memory per pending
interaction beyond its payload, and the broker's RSS.
"""

import asyncio
import contextlib
import hashlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from types import SimpleNamespace
from typing import Any

import hiredis
from redis.asyncio import Redis

from hitl.adapters.redis.keys import Keys
from hitl.adapters.redis.resp import pack
from hitl.adapters.redis.store import RedisStore, request_digest
from hitl.core.decoding import REQUEST_ADAPTER
from hitl.core.machine import open_interaction
from hitl_bench.hitl_side import HitlRig
from hitl_bench.procs import cpu_seconds, rss_kib
from hitl_bench.scenario import Sample, drive
from hitl_bench.stats import percentile

SEED_BATCH = 5000
SEED_DEADLINE_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class Seeding:
    added: int
    seconds: float
    memory_delta: int  # bytes, INFO used_memory after - before
    payload_bytes: int  # bytes of request JSON stored

    @property
    def per_interaction_overhead(self) -> float:
        """Bytes per pending interaction beyond its request JSON."""
        return (self.memory_delta - self.payload_bytes) / self.added

    @property
    def payload_avg(self) -> float:
        return self.payload_bytes / self.added


@dataclass(frozen=True, slots=True)
class GrowthSample:
    pending: int
    serial: Sample  # one in flight: the latency of a new interaction
    loaded: Sample  # 64 in flight
    rss_kib: int
    idle_cpu_ms_per_s: float  # broker CPU while nothing but the poller runs
    tick_ms_p50: float  # claim deadlines + claim outbox (an idle poller tick), from here
    tick_ms_p99: float
    claim_due_ms_p50: float
    create_ms_p50: float  # the store's create script for one new interaction, from here

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["serial"] = self.serial.as_dict()
        data["loaded"] = self.loaded.as_dict()
        return data


TEMPLATE_ID = "00000000-0000-4000-8000-00000000c0de"
TEMPLATE_THREAD = "seed-template-thread"


class _Captured(Exception):  # not an error: carries the captured call out
    pass


class _Recorder:
    """Stands in for the Redis client: knows the scripts, sends nothing."""

    connection_pool: Any = None  # never used: _RecordingStore sends nothing

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}

    def register_script(self, text: str) -> Any:
        sha = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
        self._texts[sha] = text
        return SimpleNamespace(sha=sha, script=text)


class _RecordingStore(RedisStore):
    """The store's own code up to its script call, which it raises instead of sending."""

    async def _run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        raise _Captured(self._scripts[script].script, list(keys), list(args))


class CreateCall:
    """What ``RedisStore.create`` sends for one new request (from the broker's own code path:
    the core's ``open_interaction`` and the store), with the template's id, thread and shard
    to substitute for each seeded interaction."""

    def __init__(self, script: str, keys: list[str], args: list[Any], tag: str) -> None:
        self.script = script
        self.keys = keys
        self.args = args
        self.tag = tag
        self.json_at = next(
            i for i, a in enumerate(args) if isinstance(a, bytes) and TEMPLATE_THREAD.encode() in a
        )
        request_json: bytes = args[self.json_at]
        digest = request_digest(request_json)
        self.digest_at = [i for i, a in enumerate(args) if a == digest]
        self.id_at = [
            i
            for i, a in enumerate(args)
            if i != self.json_at
            and (
                (isinstance(a, str) and TEMPLATE_ID in a)
                or (isinstance(a, bytes) and TEMPLATE_ID.encode() in a)
            )
        ]

    def for_interaction(
        self, keys: Keys, uid: uuid.UUID, thread: str
    ) -> tuple[list[str], list[Any], int]:
        """Keys, args, and the payload size of a copy for interaction ``uid`` in ``thread``."""
        iid = str(uid)
        tag = _tag(keys, keys.shard(uid))
        new_keys = [
            k.replace(self.tag, tag).replace(TEMPLATE_ID, iid).replace(TEMPLATE_THREAD, thread)
            for k in self.keys
        ]
        args = list(self.args)
        request_json: bytes = args[self.json_at]
        request_json = request_json.replace(TEMPLATE_ID.encode(), iid.encode()).replace(
            TEMPLATE_THREAD.encode(), thread.encode()
        )
        args[self.json_at] = request_json
        for i in self.digest_at:
            args[i] = request_digest(request_json)
        for i in self.id_at:
            a = args[i]
            args[i] = (
                a.replace(TEMPLATE_ID.encode(), iid.encode())
                if isinstance(a, bytes)
                else a.replace(TEMPLATE_ID, iid)
            )
        return new_keys, args, len(request_json)


def _tag(keys: Keys, shard: int) -> str:
    """The shard's key prefix (``<ns>:{sN}``), read off a key the store builds."""
    return keys.pending(shard).rsplit(":", 1)[0]


async def capture_create(keys: Keys, retention_seconds: int, now: float) -> CreateCall:
    request = REQUEST_ADAPTER.validate_python(
        {
            "kind": "approval",
            "id": TEMPLATE_ID,
            "thread_id": TEMPLATE_THREAD,
            "prompt": "Pay 500 EUR to ACME Corp for invoice INV-2041?",
            "context": {"amount": 500, "currency": "EUR", "invoice": "INV-2041"},
            "timeout_seconds": SEED_DEADLINE_SECONDS,
            "on_timeout": {"action": "reject", "data": {"reason": "no answer in time"}},
            "reply_to": "seeded",
            "requester": {"id": "seeder", "service": "seeder"},
            "resume_state": {"step": "pay"},
        }
    )
    transition = open_interaction(request, now, "default")
    store = _RecordingStore(
        _Recorder(),  # type: ignore[arg-type]
        keys,
        retention_seconds=retention_seconds,
        outbox_lease_seconds=5.0,
    )
    try:
        await store.create(transition, [])  # no outbox: as if the notification went out
    except _Captured as captured:
        script, call_keys, call_args = captured.args
    else:
        raise RuntimeError("RedisStore.create made no script call")
    return CreateCall(script, call_keys, call_args, _tag(keys, keys.shard(uuid.UUID(TEMPLATE_ID))))


async def used_memory(redis: "Redis") -> int:
    info = await redis.info("memory")
    return int(info["used_memory"])


class _RawRedis:
    """A bare pipelining connection (hiredis parses the replies), for bulk seeding only."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._parser = hiredis.Reader()

    @classmethod
    async def open(cls, redis: "Redis") -> "_RawRedis":
        kw = redis.connection_pool.connection_kwargs
        reader, writer = await asyncio.open_connection(kw.get("host"), kw.get("port", 6379))
        raw = cls(reader, writer)
        if kw.get("password"):
            user = [kw["username"]] if kw.get("username") else []
            await raw.run([pack(["AUTH", *user, kw["password"]])])
        if kw.get("db"):
            await raw.run([pack(["SELECT", kw["db"]])])
        return raw

    async def run(self, commands: Sequence[bytes]) -> list[Any]:
        await self.send(commands)
        return await self.receive(len(commands))

    async def send(self, commands: Sequence[bytes]) -> None:
        self._writer.write(b"".join(commands))
        await self._writer.drain()

    async def receive(self, count: int) -> list[Any]:
        replies: list[Any] = []
        while len(replies) < count:
            reply = self._parser.gets()
            if reply is False:
                self._parser.feed(await self._reader.read(1 << 20))
                continue
            if isinstance(reply, hiredis.ReplyError):
                raise RuntimeError(f"seeding failed: {reply}")  # noqa: TRY004
            replies.append(reply)
        return replies

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


def _created(reply: Any) -> bool:
    return reply == b"created" or (isinstance(reply, list) and reply[:1] == [b"created"])


async def seed(
    redis: "Redis", keys: Keys, count: int, *, start: int, retention_seconds: int
) -> Seeding:
    """Create ``count`` pending interactions: the script call the store makes for a new
    request, replayed with fresh ids, ``SEED_BATCH`` per pipeline."""
    call = await capture_create(keys, retention_seconds, time.time())
    sha = await redis.script_load(call.script)
    head: list[bytes | str | int] = ["EVALSHA", sha, len(call.keys)]
    before = await used_memory(redis)
    began = time.perf_counter()
    payload = 0
    last = uuid.UUID(TEMPLATE_ID)
    last_thread = TEMPLATE_THREAD
    raw = await _RawRedis.open(redis)
    in_flight = 0  # one batch is sent ahead: Redis runs it while we pack the next

    async def collect() -> None:
        replies = await raw.receive(in_flight)
        if not all(_created(r) for r in replies):
            raise RuntimeError(f"seeding: the create script answered {replies[:3]}")

    try:
        for base in range(start, start + count, SEED_BATCH):
            batch = []
            for i in range(base, min(base + SEED_BATCH, start + count)):
                last, last_thread = uuid.uuid4(), f"seed-{i // 10}"
                new_keys, new_args, size = call.for_interaction(keys, last, last_thread)
                payload += size
                batch.append(pack([*head, *new_keys, *new_args]))
            await raw.send(batch)
            if in_flight:
                await collect()
            in_flight = len(batch)
        if in_flight:
            await collect()
    finally:
        await raw.close()
    seconds = time.perf_counter() - began
    store = RedisStore(redis, keys, retention_seconds=retention_seconds, outbox_lease_seconds=5.0)
    state = await store.load(last)  # what was seeded reads back as a pending interaction
    if state is None or not state.is_pending:
        raise RuntimeError(f"seeded interaction {last} does not read back as pending: {state}")
    await _check_indexed(store, last, last_thread)
    return Seeding(count, seconds, await used_memory(redis) - before, payload)


async def _check_indexed(store: RedisStore, uid: uuid.UUID, thread: str) -> None:
    """The seeded interaction is listed under its thread, in a tree with read indexes."""
    try:
        from hitl.core.listing import Query
    except ModuleNotFoundError:  # a tree before the read side (--baseline-tree): no indexes
        return
    page = await store.query(Query(status="pending", thread_id=thread, limit=50))
    if uid not in {state.request.id for state in page.items}:
        raise RuntimeError(f"seeded interaction {uid} is not listed under its thread {thread}")


async def _timed(calls: int, fn: Any) -> list[float]:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return times


async def measure_level(
    rig: HitlRig,
    redis: "Redis",
    keys: Keys,
    pending: int,
    *,
    serial_count: int,
    loaded_count: int,
    idle_seconds: float,
    ticks: int,
    retention_seconds: int,
) -> GrowthSample:
    """A fresh broker on the seeded namespace, then the figures of one growth run."""
    await rig.restart_brokers()
    await drive(rig, 16, min(loaded_count, 200))  # warm-up
    serial = await drive(rig, 1, serial_count)
    loaded = await drive(rig, 64, loaded_count)
    pid = rig.brokers[0].pid
    await asyncio.sleep(min(1.0, idle_seconds))
    cpu0, wall0 = cpu_seconds(pid), time.perf_counter()
    await asyncio.sleep(idle_seconds)
    idle = 1000.0 * (cpu_seconds(pid) - cpu0) / (time.perf_counter() - wall0)
    rss = rss_kib(pid)
    store = RedisStore(redis, keys, retention_seconds=retention_seconds, outbox_lease_seconds=5.0)

    async def tick() -> None:  # the Redis work of a poller tick when nothing is due
        now = time.time()
        await store.claim_due(now, now + 15.0, 500)
        await store.claim_outbox(now, now + 15.0, 500)

    async def claim() -> None:
        now = time.time()
        await store.claim_due(now, now + 15.0, 500)

    tick_times = await _timed(ticks, tick)
    claim_times = await _timed(ticks, claim)
    call = await capture_create(keys, retention_seconds, time.time())
    sha = await redis.script_load(call.script)

    async def create() -> None:
        new_keys, new_args, _ = call.for_interaction(keys, uuid.uuid4(), "growth-probe")
        if not _created(await redis.evalsha(sha, len(new_keys), *new_keys, *new_args)):
            raise RuntimeError("the create script did not create the probe interaction")

    create_times = await _timed(ticks, create)
    return GrowthSample(
        pending,
        serial,
        loaded,
        rss,
        idle,
        1000.0 * percentile(tick_times, 50),
        1000.0 * percentile(tick_times, 99),
        1000.0 * percentile(claim_times, 50),
        1000.0 * percentile(create_times, 50),
    )
