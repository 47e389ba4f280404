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
from pathlib import Path

from hitl_bench.hitl_side import TRACED, HitlRig, new_namespace
from hitl_bench.routing_ab import rounds_parser, run_rigs, servers

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
    amqp_url, redis_url, log_dir = servers(args, "hitl-trace-ab-")
    await run_rigs(rigs(amqp_url, redis_url, log_dir), args, COMPARED)


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(rounds_parser("python -m hitl_bench.trace_ab").parse_args()))
