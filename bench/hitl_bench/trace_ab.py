"""Trace propagation on against off: two brokers driven in turn, several rounds, in one process,
so a busy machine's drift falls on both alike (``hitl_bench.routing_ab``'s rounds).

    python -m hitl_bench.trace_ab [--rounds 4] [--count 2000] [--concurrency 64]
        [--profile DIR --profile-seconds 15]

The rigs: ``untraced`` (the plain bench: requests without trace context) and ``traced``
(every request carries a ``traceparent`` and ``tracestate`` of a trace of its own, which the
broker keeps with the interaction and puts on its notification, lifecycle events and outcome
as AMQP headers, as a producer that traces makes it do). Neither broker makes spans (no
OpenTelemetry tracer provider): this is what propagation costs everyone who sends context,
the issue's target being traced/untraced throughput at least 0.97. Printed: interactions/s and
broker CPU ms per interaction per rig and round, then traced/untraced per round and the
median. With ``--profile DIR``, each rig's broker is then recorded by py-spy as
``hitl_bench.routing_ab`` does; callgrind instruction counts (``hitl_bench.profile``) are the
steadier evidence on a shared machine. ``hitl bench`` measures the same in its end-to-end runs
(a ``traced`` broker beside the plain ``hitl`` one; ``--trace-concurrency``, ``--no-trace``).
"""

import argparse
import contextlib
import os
import tempfile
from pathlib import Path

from hitl_bench.hitl_side import TRACED, HitlRig, new_namespace
from hitl_bench.profile import record, summarise
from hitl_bench.routing_ab import alternate, table

UNTRACED = "untraced"
RIGS = (UNTRACED, TRACED)
COMPARED = ((TRACED, UNTRACED),)


def rigs(amqp_url: str, redis_url: str, log_dir: Path) -> list[HitlRig]:
    env = {"HITL_POLL_INTERVAL_SECONDS": "0.25"}
    return [
        HitlRig(
            amqp_url, redis_url, new_namespace(name), log_dir, env, name=name, trace=name == TRACED
        )
        for name in RIGS
    ]


async def main(args: argparse.Namespace) -> None:
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="hitl-trace-ab-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    amqp_url = os.environ.get("HITL_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    redis_url = os.environ.get("HITL_REDIS_URL", "redis://127.0.0.1:6379/0")
    chosen = rigs(amqp_url, redis_url, log_dir)
    try:
        measured = await alternate(chosen, args.rounds, args.concurrency, args.count, args.warmup)
        print(table(measured, COMPARED), flush=True)
        if args.profile is not None:
            args.profile.mkdir(parents=True, exist_ok=True)
            for rig in chosen:
                raw = await record(
                    rig,
                    rig.brokers[0].pid,
                    args.profile / f"{rig.name}.raw",
                    seconds=args.profile_seconds,
                    rate=200,
                    concurrency=args.concurrency,
                    native=True,
                )
                print(f"\n== {rig.name} ({args.profile / (rig.name + '.raw')})")
                print(summarise(raw, args.top))
    finally:
        for rig in chosen:
            with contextlib.suppress(Exception):
                await rig.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m hitl_bench.trace_ab")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--profile", type=Path, help="then record each broker with py-spy")
    parser.add_argument("--profile-seconds", type=int, default=15)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--log-dir", type=Path)
    import uvloop

    uvloop.run(main(parser.parse_args()))
