"""Redis bytes per interaction, for each tree measured (the current one, and the baseline of
``--baseline-tree``), each on a fresh namespace:

- *pending*: ``count`` interactions seeded with the exact script call the tree's own
  ``RedisStore.create`` makes (``hitl_bench.growth.seed``), in a process that imports that
  tree: ``python -m hitl_bench.footprint pending ...`` prints one JSON line;
- *finished*: ``count`` interactions driven to their outcome through the tree's real broker
  (64 in flight, the end-to-end producers and responder), measured once the outbox has
  drained and nothing is pending, so what is left is what the tree retains per finished
  interaction (state, outcome, and, in the current tree, history, index entries, counters).

Two measures each: the ``INFO memory`` ``used_memory`` delta (everything Redis allocated,
including its per-key overhead, but also moved by other clients of the same server), and the
sum of ``MEMORY USAGE key SAMPLES 0`` over the namespace's keys (its own keys only, immune to
other clients), also by kind of key (``key_class``: the interaction hash, its history, each
read index, the counters...), which says where the bytes go.
"""

import argparse
import asyncio
import os
import re
import statistics
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from redis.asyncio import Redis

from hitl.adapters.redis.keys import Keys, namespace_prefix
from hitl.adapters.redis.purge import purge_namespace
from hitl_bench.growth import seed, used_memory
from hitl_bench.hitl_side import HitlRig, new_namespace
from hitl_bench.scenario import drive
from hitl_bench.trees import Tree

PENDING, FINISHED = "pending", "finished"
SETTLE_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Footprint:
    tree: str
    kind: str  # PENDING or FINISHED
    count: int
    memory_delta: int  # bytes: INFO used_memory after - before
    keys_delta: int  # bytes: the namespace keys' MEMORY USAGE after - before
    payload_bytes: int = 0  # bytes of request JSON stored (pending only)
    classes: dict[str, int] = field(default_factory=dict)  # keys_delta by key_class

    @property
    def per_interaction(self) -> float:
        return self.memory_delta / self.count

    @property
    def keys_per_interaction(self) -> float:
        return self.keys_delta / self.count

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["per_interaction"] = self.per_interaction
        data["keys_per_interaction"] = self.keys_per_interaction
        return data


_SHARD_TAG = re.compile(r"^\{s\d+\}:")
_PER_ID = ("ix:", "hist:", "early:")


def key_class(key: str, namespace: str) -> str:
    """What a key of ``namespace`` is, without its shard, id, term value or hour:
    ``ix:*``, ``hist:*``, ``pending``, ``by:pending:thread:*``, ``stats:*``..."""
    rest = _SHARD_TAG.sub("", key.removeprefix(namespace_prefix(namespace)))
    for prefix in _PER_ID:
        if rest.startswith(prefix):
            return prefix + "*"
    if rest.startswith("by:") and rest.count(":") >= 3:
        return ":".join(rest.split(":", 3)[:3]) + ":*"
    if rest.startswith("stats:") and rest[6:].isdigit():
        return "stats:<hour>"
    return rest


async def keyspace(redis: "Redis", namespace: str, batch: int = 1000) -> Counter[str]:
    """``MEMORY USAGE key SAMPLES 0`` of every key of ``namespace``, summed by ``key_class``."""
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", namespace_prefix(namespace)) + "*"
    total: Counter[str] = Counter()
    keys: list[bytes] = []

    async def flush() -> None:
        async with redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.memory_usage(key, samples=0)
            sizes = await pipe.execute()
        for key, size in zip(keys, sizes, strict=True):
            total[key_class(key.decode(errors="replace"), namespace)] += size or 0
        keys.clear()

    async for key in redis.scan_iter(match=pattern, count=batch):
        keys.append(key)
        if len(keys) >= batch:
            await flush()
    if keys:
        await flush()
    return total


async def _settled_memory(redis: "Redis", keys: Keys) -> int:
    """``used_memory`` once nothing is pending and the outbox has drained (the broker deletes
    published entries in batches), the median of three readings."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_TIMEOUT
    while True:
        async with redis.pipeline(transaction=False) as pipe:
            for shard in range(keys.shards):
                pipe.zcard(keys.outbox(shard))
                pipe.zcard(keys.pending(shard))
            if not any(await pipe.execute()):
                break
        if loop.time() > deadline:
            raise RuntimeError(f"{keys.namespace}: outbox or pending not empty after 60 s")
        await asyncio.sleep(0.05)
    readings = []
    for _ in range(3):
        await asyncio.sleep(0.2)
        readings.append(await used_memory(redis))
    return int(statistics.median(readings))


async def finished(
    tree: Tree,
    amqp_url: str,
    redis_url: str,
    shards: int,
    log_dir: Path,
    broker_env: Mapping[str, str],
    *,
    count: int,
    warmup: int,
) -> Footprint:
    """Bytes Redis keeps per interaction driven to its outcome through ``tree``'s broker."""
    namespace = new_namespace("footprint")
    keys = Keys(namespace, shards)
    rig = HitlRig(
        amqp_url,
        redis_url,
        namespace,
        log_dir,
        broker_env=broker_env,
        name=tree.label,
        pythonpath=tree.pythonpath,
    )
    redis: Redis = Redis.from_url(redis_url)
    try:
        await rig.start()
        await drive(rig, 16, warmup)  # scripts loaded, connections and caches warm
        memory0 = await _settled_memory(redis, keys)
        keys0 = await keyspace(redis, namespace)
        sample = await drive(rig, 64, count)
        memory1 = await _settled_memory(redis, keys)
        keys1 = await keyspace(redis, namespace)
    finally:
        try:
            await rig.close()
        finally:
            await redis.aclose()
    classes = {name: keys1[name] - keys0[name] for name in keys1 | keys0}
    return Footprint(
        tree.label,
        FINISHED,
        sample.count,
        memory1 - memory0,
        sum(classes.values()),
        classes=classes,
    )


async def pending(
    tree: Tree, redis_url: str, shards: int, retention_seconds: int, *, count: int
) -> Footprint:
    """Bytes per pending interaction seeded with ``tree``'s own create script call: run in
    a process that imports ``tree``."""
    env = dict(os.environ)
    if tree.pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(
            [*tree.pythonpath, *filter(None, [env.get("PYTHONPATH")])]
        )
    args = ["--redis-url", redis_url, "--shards", str(shards)]
    args += ["--retention-seconds", str(retention_seconds), "--count", str(count)]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hitl_bench.footprint",
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(
            f"seeding {count} pending with the {tree.describe()} tree failed "
            f"({process.returncode}):\n{err.decode(errors='replace')[-3000:]}"
        )
    measured = orjson.loads(out.splitlines()[-1])
    return Footprint(tree.label, PENDING, **measured)


async def _seed_and_measure(
    redis_url: str, shards: int, retention_seconds: int, count: int
) -> dict[str, Any]:
    namespace = new_namespace("footprint")
    keys = Keys(namespace, shards)
    redis: Redis = Redis.from_url(redis_url)
    try:
        seeding = await seed(redis, keys, count, start=0, retention_seconds=retention_seconds)
        classes = await keyspace(redis, namespace)
    finally:
        try:
            await purge_namespace(redis, namespace)
        finally:
            await redis.aclose()
    return {
        "count": seeding.added,
        "memory_delta": seeding.memory_delta,
        "keys_delta": sum(classes.values()),
        "payload_bytes": seeding.payload_bytes,
        "classes": dict(classes),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m hitl_bench.footprint",
        description="Seed COUNT pending interactions with the create script call of the hitl "
        "this process imports, on a fresh namespace; print the Redis bytes as one JSON line; "
        "remove them. `hitl bench` runs it once per tree measured.",
    )
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--retention-seconds", type=int, default=7 * 24 * 3600)
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args(argv)
    measured = asyncio.run(
        _seed_and_measure(args.redis_url, args.shards, args.retention_seconds, args.count)
    )
    print(orjson.dumps(measured).decode(), flush=True)


if __name__ == "__main__":
    main()
