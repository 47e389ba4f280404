"""What the broker's own code costs per interaction, with and without a routing file, outside
the end-to-end bench: the broker assembled in this process (``Broker.assemble``) on a Redis
namespace of its own, with the in-memory message sink instead of RabbitMQ, fed each request
and then its answer as deliveries, ``--concurrency`` at a time.

    python -m hitl_bench.broker_path --rig plain|unrouted|routed|unrouted-1|routed-1
        [--count N] [--warm N] [--routes 1000] [--trace] [--profile]

The rigs are those of ``hitl_bench.routing_ab``: ``plain`` the plain bench's requests without
a routing file, ``routed`` / ``routed-1`` requests with labels and a node name and the
generated tree, ``unrouted`` / ``unrouted-1`` the same requests without it. Decoding, the routing
decision, the state machine, the outbox, the store's Python and its Redis client, the
handlers and their metrics are the tree's own; aio-pika and RabbitMQ are not measured (the
same for every rig: one more notification per extra receiver). With ``--trace``, each request
and answer comes with a W3C ``traceparent`` of its own (``hitl_bench.trace_ab``'s ``traced``
rig), which the broker keeps and passes on. Prints the process CPU per
interaction and the time spent collecting garbage, or with ``--profile`` the functions
with the most time.

Instruction counts of the measured interactions alone: build a library of callgrind's client
requests (``void cg_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }``
and ``void cg_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS_AT("m"); }``
with ``#include <valgrind/callgrind.h>``, ``gcc -O2 -shared -fPIC``), pass it as
``--callgrind-marks LIB`` and run under ``valgrind --tool=callgrind --instr-atstart=no``: the
start-up runs uninstrumented and the dump holds the measured loop only.
"""

import argparse
import asyncio
import cProfile
import ctypes
import gc
import pstats
import random
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson
from redis.asyncio import Redis

from hitl.adapters.memory import MemoryDelivery, MemorySink
from hitl.adapters.redis.purge import purge_namespace
from hitl.broker.assembly import Broker
from hitl.observability.metrics import Metrics
from hitl.runtime.stores import redis_store
from hitl.settings import Settings
from hitl_bench import route_tree
from hitl_bench.hitl_side import new_namespace
from hitl_bench.route_tree import ROUTED, ROUTED_ONE, UNROUTED_ONE
from hitl_bench.routing_ab import PLAIN, RIGS
from hitl_bench.runner import labelled
from hitl_contract.wire import REQUEST_TYPE, RESPONSE_TYPE


def request_body(seq: int, fields: Mapping[str, Any], rng: random.Random) -> bytes:
    """What the bench's producers send (``HitlRig.ask_one``), with ``fields`` added."""
    return orjson.dumps(
        {
            "schema_version": 1,
            "kind": "approval",
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "thread_id": f"bench-{rng.getrandbits(48):012x}",
            "prompt": "Pay 500 EUR to ACME Corp for invoice INV-2041?",
            "context": {"amount": 500, "currency": "EUR", "invoice": "INV-2041"},
            "timeout_seconds": 3600,
            "on_timeout": {"action": "reject", "data": {"reason": "no answer within the hour"}},
            "resume_state": {"step": "pay", "seq": seq},
            "reply_to": "bench",
            "requester": {"id": "bench", "service": "bench"},
            **fields,
        }
    )


def answer_body(interaction_id: str, rng: random.Random) -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "interaction_id": interaction_id,
            "response_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "action": "approve",
            "data": {"reason": "within budget"},
            "responder": {"id": "bench-bot", "display_name": "hitl bench"},
            "channel": "bench",
        }
    )


def fields_of(rig: str, routes: int) -> Callable[[int], Mapping[str, Any]]:
    if rig == PLAIN:
        return lambda _: {}
    return labelled(routes, single=rig in (ROUTED_ONE, UNROUTED_ONE))


async def run(
    rig: str,
    redis_url: str,
    routes: int,
    count: int,
    warm: int,
    concurrency: int,
    profile: bool,
    profile_out: Path | None = None,
    marks: Path | None = None,
    trace: bool = False,
) -> dict[str, Any]:
    namespace = new_namespace(f"path-{rig}")
    routing_file = None
    if rig in (ROUTED, ROUTED_ONE):
        folder = Path(tempfile.mkdtemp(prefix="hitl-broker-path-"))
        routing_file = str(route_tree.generate(routes).write(folder / "routing.yaml"))
    settings = Settings(namespace=namespace, routing_file=routing_file, redis_url=redis_url)
    redis: Redis = Redis.from_url(redis_url)
    sink = MemorySink()
    broker = Broker.assemble(
        settings, store=redis_store(redis, settings), sink=sink, clock=time.time, metrics=Metrics()
    )
    names = broker.names
    fields = fields_of(rig, routes)
    rng = random.Random(14)

    # made before anything is measured: what the producer and responder send is not the
    # broker's cost (two a loop, the request's and the answer's)
    made = (
        [
            {"traceparent": f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-01"}
            for _ in range(2 * (warm + count))
        ]
        if trace
        else []
    )
    traceparents = iter(made)

    def headers() -> dict[str, str]:
        return next(traceparents) if trace else {}

    async def one(seq: int) -> None:
        body = request_body(seq, fields(seq), rng)
        iid = orjson.loads(body)["id"]
        await broker.handlers.on_request(
            MemoryDelivery(
                body, names.requests, "approval", REQUEST_TYPE, iid, iid, None, headers()
            )
        )
        answer = answer_body(iid, rng)
        await broker.handlers.on_response(
            MemoryDelivery(
                answer, names.responses, iid, RESPONSE_TYPE, f"answer:{iid}", iid, None, headers()
            )
        )

    async def load(total: int) -> None:
        left = iter(range(total))

        async def worker() -> None:
            for seq in left:
                await one(seq)
                if len(sink.sent) > 10_000:
                    sink.sent.clear()

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    broker.start()
    meters = _Meters(profile, marks)
    try:
        await load(warm)
        await broker.send_lingering_events()
        with meters:
            await load(count)
            await broker.send_lingering_events()
        await broker.flush_outbox_deletes()
    finally:
        await purge_namespace(redis, namespace)
        await redis.aclose()
    meters.report(profile_out)
    return {
        "rig": rig + ("+trace" if trace else ""),
        "count": count,
        "cpu_us_per_interaction": 1e6 * meters.cpu / max(count, 1),
        "gc_us_per_interaction": {
            str(g): 1e6 * t / max(count, 1) for g, t in sorted(meters.gc.seconds.items())
        },
        "gc_collections": {str(g): n for g, n in sorted(meters.gc.collections.items())},
        "gc_tracked_objects": len(gc.get_objects()),
    }


class _Meters:
    """Around the measured loop: process CPU, time in the garbage collector, and on request
    cProfile and callgrind's instrumentation."""

    def __init__(self, profile: bool, marks: Path | None) -> None:
        self.profiler = cProfile.Profile() if profile else None
        self.callgrind = ctypes.CDLL(str(marks)) if marks is not None else None
        self.gc = _CollectorTime()
        self.cpu = 0.0

    def __enter__(self) -> None:
        gc.callbacks.append(self.gc)
        self.cpu = -_cpu()
        if self.callgrind is not None:
            self.callgrind.cg_start()
        if self.profiler:
            self.profiler.enable()

    def __exit__(self, *_: object) -> None:
        if self.profiler:
            self.profiler.disable()
        if self.callgrind is not None:
            self.callgrind.cg_stop()
        self.cpu += _cpu()
        gc.callbacks.remove(self.gc)

    def report(self, out: Path | None) -> None:
        if self.profiler is None:
            return
        if out is not None:
            self.profiler.dump_stats(out)
        stats = pstats.Stats(self.profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(35)
        stats.sort_stats("cumtime").print_stats(60)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _CollectorTime:
    """Time spent in the garbage collector, by generation (a ``gc.callbacks`` entry)."""

    def __init__(self) -> None:
        self.seconds: dict[int, float] = {}
        self.collections: dict[int, int] = {}
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        g = info["generation"]
        self.seconds[g] = self.seconds.get(g, 0.0) + time.perf_counter() - self._began
        self.collections[g] = self.collections.get(g, 0) + 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hitl_bench.broker_path")
    parser.add_argument("--rig", choices=RIGS, default=PLAIN)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--routes", type=int, default=1000)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--warm", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--trace", action="store_true", help="requests and answers traced")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-out", type=Path, help="with --profile: the pstats file")
    parser.add_argument("--callgrind-marks", type=Path, help="callgrind's client requests")
    ns = parser.parse_args(argv)
    result = asyncio.run(
        run(
            ns.rig,
            ns.redis_url,
            ns.routes,
            ns.count,
            ns.warm,
            ns.concurrency,
            ns.profile or ns.profile_out is not None,
            ns.profile_out,
            ns.callgrind_marks,
            ns.trace,
        )
    )
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
