"""Routing on against off, and what the labels alone cost: brokers driven in turn, several
rounds, in one process, so a busy machine's drift falls on every rig alike.

    python -m hitl_bench.routing_ab [--rounds 4] [--count 2000] [--concurrency 64]
        [--routes 1000] [--profile DIR --profile-seconds 15]

The rigs: ``plain`` (no routing file; the plain bench's requests, no labels), ``routed``
(the generated tree; requests with 5-6 labels and a node name reaching 1.3-1.5 receivers)
and ``unrouted`` (no routing file, the same requests), ``routed-1`` (the tree; requests that
reach exactly one receiver) and ``unrouted-1`` (no file, the same requests). Each round
drives every rig once, who goes first rotating; printed: interactions/s and broker CPU ms per
interaction per rig and round, then routed/unrouted, routed-1/unrouted-1 (routing's cost:
the same requests, with and without the file) and unrouted/plain (the labels' and node
names' cost, without routing) per round and their median. With ``--before DIR`` (a tree of
another commit, e.g. ``git archive <commit> services schemas | tar -x -C DIR``), brokers of
that tree with the file join the rounds too (``routed@before``, ``routed-1@before``).

With ``--profile DIR``, each rig's broker is then recorded by py-spy (``record --native
--format raw``) for ``--profile-seconds`` under the same load, one rig after another, and
summarised as ``hitl_bench.profile`` does.
"""

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hitl_bench import route_tree
from hitl_bench.hitl_side import HitlRig, new_namespace
from hitl_bench.profile import record, summarise
from hitl_bench.route_tree import ROUTED, ROUTED_ONE, ROUTING_PAIRS, UNROUTED, UNROUTED_ONE
from hitl_bench.runner import labelled
from hitl_bench.scenario import Sample, drive

PLAIN = "plain"
RIGS = (PLAIN, UNROUTED, ROUTED, UNROUTED_ONE, ROUTED_ONE)
BEFORE = "@before"
# (on, off): each figure compares two rigs that differ in one thing
COMPARED = (
    (ROUTED, UNROUTED),
    (ROUTED_ONE, UNROUTED_ONE),
    (UNROUTED, PLAIN),
    (ROUTED + BEFORE, UNROUTED),
    (ROUTED_ONE + BEFORE, UNROUTED_ONE),
    (ROUTED, ROUTED + BEFORE),
    (ROUTED_ONE, ROUTED_ONE + BEFORE),
)


@dataclass(frozen=True, slots=True)
class Measured:
    rig: str
    round: int
    throughput: float
    broker_ms: float  # broker CPU per interaction
    notifications: float  # per interaction


def _measured(sample: Sample, rnd: int) -> Measured:
    cpu_ms = sample.cpu["service"] / 100.0 * sample.elapsed * 1000.0
    return Measured(
        sample.system,
        rnd,
        sample.throughput,
        cpu_ms / sample.count,
        sample.notifications / sample.count,
    )


def rigs(
    amqp_url: str, redis_url: str, routes: int, log_dir: Path, before: Sequence[str] = ()
) -> list[HitlRig]:
    tree = route_tree.generate(routes)
    path = tree.write(log_dir / f"routing-{routes}.yaml")
    env = {"HITL_POLL_INTERVAL_SECONDS": "0.25"}
    out = [HitlRig(amqp_url, redis_url, new_namespace(PLAIN), log_dir, env, name=PLAIN)]
    routing = {**env, "HITL_ROUTING_FILE": str(path)}
    for on, off in ROUTING_PAIRS.items():
        fields = labelled(routes, single=on == ROUTED_ONE)
        made: list[tuple[str, dict[str, str], Sequence[str]]] = [(off, env, ()), (on, routing, ())]
        if before:  # the same, from another tree (--before)
            made.append((f"{on}{BEFORE}", routing, before))
        for name, broker_env, pythonpath in made:
            out.append(
                HitlRig(
                    amqp_url,
                    redis_url,
                    new_namespace(name.replace("@", "-")),
                    log_dir,
                    broker_env,
                    name=name,
                    pythonpath=pythonpath,
                    request_fields=fields,
                )
            )
    return out


def table(measured: list[Measured], compared: Sequence[tuple[str, str]] = COMPARED) -> str:
    """Per rig: interactions/s and broker CPU per interaction, median [each round]; then
    each (on, off) pair of ``compared``: on/off per round and its median."""
    names = list(dict.fromkeys(m.rig for m in measured))
    rounds = sorted({m.round for m in measured})
    by = {(m.rig, m.round): m for m in measured}
    out = ["rig          interactions/s (per round)           broker CPU ms/interaction"]
    for name in names:
        tp = [by[name, r].throughput for r in rounds if (name, r) in by]
        ms = [by[name, r].broker_ms for r in rounds if (name, r) in by]
        out.append(
            f"{name:<12} {statistics.median(tp):6.0f} [{' '.join(f'{x:.0f}' for x in tp)}]"
            f"   {statistics.median(ms):.3f} [{' '.join(f'{x:.3f}' for x in ms)}]"
        )
    for on, off in compared:
        if (on, rounds[0]) not in by or (off, rounds[0]) not in by:
            continue
        tp = [by[on, r].throughput / by[off, r].throughput for r in rounds]
        ms = [by[on, r].broker_ms / by[off, r].broker_ms for r in rounds]
        out.append(
            f"{on}/{off}: throughput x{statistics.median(tp):.2f} "
            f"[{' '.join(f'{x:.2f}' for x in tp)}]; broker CPU x{statistics.median(ms):.2f} "
            f"[{' '.join(f'{x:.2f}' for x in ms)}]"
        )
    return "\n".join(out)


async def alternate(
    chosen: Sequence[HitlRig], rounds: int, concurrency: int, count: int, warmup: int
) -> list[Measured]:
    """Start each rig and warm it up, then drive every rig once per round, who goes first
    rotating, so a busy machine's drift falls on every rig alike (the caller closes them)."""
    measured: list[Measured] = []
    for rig in chosen:
        await rig.start()
        await drive(rig, 16, warmup)
    for rnd in range(rounds):
        turn = rnd % len(chosen)
        for rig in [*chosen[turn:], *chosen[:turn]]:
            m = _measured(await drive(rig, concurrency, count), rnd)
            measured.append(m)
            print(
                f"round {rnd + 1} {m.rig:<11} {m.throughput:6.0f}/s  broker "
                f"{m.broker_ms:.3f} ms/interaction  {m.notifications:.2f} notifications",
                file=sys.stderr,
                flush=True,
            )
    return measured


def servers(args: argparse.Namespace, prefix: str) -> tuple[str, str, Path]:
    """The RabbitMQ and Redis URLs (``HITL_AMQP_URL``, ``HITL_REDIS_URL``) and the log folder."""
    log_dir: Path = args.log_dir or Path(tempfile.mkdtemp(prefix=prefix))
    log_dir.mkdir(parents=True, exist_ok=True)
    amqp_url = os.environ.get("HITL_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    redis_url = os.environ.get("HITL_REDIS_URL", "redis://127.0.0.1:6379/0")
    return amqp_url, redis_url, log_dir


async def run_rigs(
    chosen: Sequence[HitlRig],
    args: argparse.Namespace,
    compared: Sequence[tuple[str, str]] = COMPARED,
) -> None:
    """``alternate`` the rigs, print the table, then (``--profile``) record each broker."""
    try:
        measured = await alternate(chosen, args.rounds, args.concurrency, args.count, args.warmup)
        if measured:
            print(table(measured, compared), flush=True)
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


def rounds_parser(prog: str) -> argparse.ArgumentParser:
    """The options of an A/B of brokers driven in turn (this module's, ``trace_ab``'s)."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--profile", type=Path, help="then record each broker with py-spy")
    parser.add_argument("--profile-seconds", type=int, default=15)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--log-dir", type=Path)
    return parser


async def main(args: argparse.Namespace) -> None:
    amqp_url, redis_url, log_dir = servers(args, "hitl-routing-ab-")
    before = [f"{args.before}/{d}" for d in ("services", "schemas")] if args.before else []
    made = rigs(amqp_url, redis_url, args.routes, log_dir, before)
    await run_rigs([r for r in made if r.name.removesuffix(BEFORE) in args.rigs], args)


if __name__ == "__main__":
    parser = rounds_parser("python -m hitl_bench.routing_ab")
    parser.add_argument("--routes", type=int, default=1000)
    parser.add_argument(
        "--rigs",
        type=lambda s: s.split(","),
        default=list(RIGS),
        help="comma-separated, of: " + ", ".join(RIGS),
    )
    parser.add_argument(
        "--before",
        help="a source tree (with services/ and schemas/): its brokers with the routing file "
        "too, as routed@before and routed-1@before, beside the rest",
    )
    import uvloop

    uvloop.run(main(parser.parse_args()))
