"""What the store's create and commit cost per interaction, outside the end-to-end bench:
the Python work of building their script calls, and what Redis does and keeps for them.

    python -m hitl_bench.readside build --count N     # the transitions alone
    python -m hitl_bench.readside args --count N      # + RedisStore.create and .commit,
                                                      #   their scripts not sent
    python -m hitl_bench.readside redis --redis-url URL --count N [--pending N]

Each interaction is the bench's (an approval with a timeout, an ``on_timeout`` and a
``resume_state``, a thread of its own, answered by ``bench-bot``), opened and answered by the
pure core ahead of the timed part. ``build`` and ``args`` are for instruction counts: run
both under ``valgrind --tool=callgrind`` with the same ``--count`` (and ``PYTHONHASHSEED``),
and (args - build) / count is the store's Python work per interaction; ids and times are
seeded, so a tree's count repeats. ``redis`` sends the calls to a Redis of its own (start
one for this: its CPU and keys are then this run's alone): ``--pending`` interactions
created and left pending (10 per thread), then ``--count`` created and answered one at a
time. It prints one JSON line: the process's and Redis's CPU per interaction over the
created-and-answered part, and ``MEMORY USAGE`` per pending and per finished interaction,
by kind of key (``hitl_bench.footprint.key_class``).

The tree measured is the one imported: put another tree's ``services`` and ``schemas``
first on PYTHONPATH to measure it.
"""

import argparse
import asyncio
import random
import resource
import sys
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

import orjson
from redis.asyncio import Redis

from hitl.adapters.redis.keys import Keys
from hitl.adapters.redis.lines import Executes
from hitl.adapters.redis.resp import Arg, pack_all
from hitl.adapters.redis.store import RedisStore
from hitl.core.decoding import decode_request
from hitl.core.machine import answer, open_interaction
from hitl_bench.footprint import keyspace
from hitl_contract import HumanResponse, Identity

T0 = 1_800_000_000.0
SHARDS = 8
PER_THREAD = 10  # pending interactions per thread
WARM = 1600  # finished before an instruction count: 200 per shard


def _request(rng: random.Random, seq: int, thread: str) -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "thread_id": thread,
            "kind": "approval",
            "prompt": "Pay 500 EUR to ACME Corp for invoice INV-2041?",
            "context": {"amount": 500, "currency": "EUR", "invoice": "INV-2041"},
            "timeout_seconds": 3600,
            "on_timeout": {"action": "reject", "data": {"reason": "no answer within the hour"}},
            "resume_state": {"step": "pay", "seq": seq},
            "reply_to": "bench",
            "requester": {"id": "bench-producer"},
        }
    )


def transitions(count: int, seed: int = 12, pending: bool = False) -> list[tuple[Any, ...]]:
    """(open transition, answer transition or None, answered at), each deterministic."""
    rng = random.Random(seed)
    out: list[tuple[Any, ...]] = []
    for seq in range(count):
        thread = f"seed-{seq // PER_THREAD}" if pending else f"bench-{rng.getrandbits(48):012x}"
        request = decode_request(_request(rng, seq, thread), 1 << 20)
        at = T0 + seq * 0.001
        opened = open_interaction(request, at, "default")
        if pending:
            out.append((opened, None, at))
            continue
        response = HumanResponse(
            interaction_id=request.id,
            response_id=uuid.UUID(int=rng.getrandbits(128), version=4),
            action="approve",
            data={"reason": "within budget"},
            responder=Identity(id="bench-bot", display_name="hitl bench"),
            channel="bench",
        )
        out.append((opened, answer(opened.state, response, at + 0.5), at + 0.5))
    return out


def _store(redis: Any, namespace: str) -> RedisStore:
    return RedisStore(
        redis, Keys(namespace, SHARDS), retention_seconds=7 * 86400, outbox_lease_seconds=5.0
    )


async def _apply(store: RedisStore, items: list[tuple[Any, ...]]) -> None:
    for opened, answered, at in items:
        await store.create(opened, [])
        if answered is not None:
            await store.commit(answered, 1, [], at)


async def args_only(items: list[tuple[Any, ...]]) -> None:
    """RedisStore.create and .commit with their scripts not sent: the Python work alone
    (arguments, packing, the store's batching)."""
    store = _store(Redis.from_url("redis://127.0.0.1:1/0"), "readside")
    creates = store._scripts["create"].sha

    class Unsent(Executes):  # in place of the store's script line: packs, sends nothing
        def __init__(self) -> None:  # no line under it
            pass

        async def execute(self, commands: Sequence[Sequence[Arg]]) -> list[Any]:
            pack_all(commands)
            return [[b"created"] if c[1] == creates else b"ok" for c in commands]

    lines = store._lines
    assert not lines.routed  # one Redis node: one line, which this replaces
    lines._single = lines._coalescer(Unsent())
    await _apply(store, items)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _redis_cpu(redis: Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def on_redis(url: str, count: int, pending: int, *, sizes: bool = True) -> dict[str, Any]:
    """``sizes=False``: no key scans nor clean-up, so Redis does nothing but the scripts
    (for instruction counts of a Redis of its own, which is thrown away after), and the
    warm-up's finished interactions stay, so the shards' done and finished index sets are
    past ``zset-max-listpack-entries`` (as in any deployment) when the count starts."""
    redis = Redis.from_url(url)
    namespace = f"readside-{uuid.uuid4().hex[:8]}"
    store = _store(redis, namespace)
    nothing: Counter[str] = Counter()

    async def measured() -> Counter[str]:
        return await keyspace(redis, namespace) if sizes else nothing

    try:
        # Scripts loaded, connection warm (and, without sizes, large finished sets).
        await _apply(store, transitions(20 if sizes else WARM, seed=1))
        if sizes:
            await redis.delete(*[k async for k in redis.scan_iter(match=f"{namespace}:*")])
        before = await measured()
        await _apply(store, transitions(pending, seed=2, pending=True))
        seeded = await measured()
        items = transitions(count, seed=3)
        cpu0, redis0 = _cpu(), await _redis_cpu(redis)
        await _apply(store, items)
        cpu1, redis1 = _cpu(), await _redis_cpu(redis)
        done = await measured()
        if sizes:
            await redis.delete(*[k async for k in redis.scan_iter(match=f"{namespace}:*")])
    finally:
        await redis.aclose()
    per_pending = {k: (seeded[k] - before[k]) / pending for k in seeded if pending}
    per_finished = {k: (done[k] - seeded[k]) / count for k in done | seeded if count}
    return {
        "count": count,
        "pending": pending,
        "python_ms_per_interaction": 1000 * (cpu1 - cpu0) / max(count, 1),
        "redis_ms_per_interaction": 1000 * (redis1 - redis0) / max(count, 1),
        "pending_bytes": sum(per_pending.values()),
        "finished_bytes": sum(per_finished.values()),
        "pending_by_key": _rounded(per_pending),
        "finished_by_key": _rounded(per_finished),
    }


def _rounded(by: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 1) for k, v in Counter(by).most_common() if round(v, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hitl_bench.readside")
    parser.add_argument("mode", choices=("build", "args", "redis"))
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--pending", type=int, default=0)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--no-sizes", action="store_true", help="no MEMORY USAGE scans")
    ns = parser.parse_args(argv)
    if ns.mode == "redis":
        result = asyncio.run(on_redis(ns.redis_url, ns.count, ns.pending, sizes=not ns.no_sizes))
        sys.stdout.write(orjson.dumps(result).decode() + "\n")
        return
    items = transitions(ns.count)
    if ns.mode == "args":
        asyncio.run(args_only(items))
    else:
        asyncio.run(asyncio.sleep(0))  # the same event loop start-up as ``args``


if __name__ == "__main__":
    main()
