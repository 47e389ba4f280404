"""``hitl bench``: measure hitl end to end against a hand-written peer pipeline on the RabbitMQ
and Redis of ``HITL_AMQP_URL`` / ``HITL_REDIS_URL``; ``--quick`` (under a minute) ends with
``ratio_vs_handwritten=<x.xx>``. The harness is a package of its own, ``hitl-bench``
(``bench/`` of the repository, installed by ``uv sync`` with the dev group), loaded only when
this command runs; see docs/benchmarks.md."""

import argparse
import sys
from pathlib import Path

from hitl.settings import Settings


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from exc
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"every value must be at least 1, got {text!r}")
    return values


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "bench",
        help="benchmark hitl against a hand-written pipeline (see docs/benchmarks.md)",
        description="End to end at each concurrency (hitl and the peer, interleaved), one\n"
        "versus two brokers, Redis bytes per interaction, and growth with many interactions\n"
        "pending. Through a `hitl gateway` process: answers over HTTP beside AMQP, event\n"
        "streams fanned out, listings with N pending. With --baseline-tree, a broker built\n"
        "from that tree is measured interleaved with the current one. Tables go to stdout,\n"
        "progress to stderr; the last line is ratio_vs_handwritten=<x.xx>. See\n"
        "docs/benchmarks.md.",
        epilog="examples:\n"
        "  hitl bench --quick\n"
        "  mkdir /tmp/base && git archive 98602c6 services schemas | tar -x -C /tmp/base\n"
        "  hitl bench --concurrency 1,64 --baseline-tree /tmp/base --no-growth --no-brokers",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="small sizes, one run: under 60 s")
    p.add_argument(
        "--concurrency", type=_ints, metavar="N,N", help="in flight (default 1,16,64,256)"
    )
    p.add_argument("--count", type=int, help="interactions per sample with >1 in flight")
    p.add_argument("--serial-count", type=int, help="interactions per sample with 1 in flight")
    p.add_argument("--runs", type=int, help="end-to-end runs (default 3; quick 1)")
    p.add_argument(
        "--pending", type=str, metavar="N,N", help="growth levels (default 1000,100000,1000000)"
    )
    p.add_argument("--no-growth", action="store_true", help="skip the growth measurements")
    p.add_argument("--growth-runs", type=int, help="runs per growth level (default 3)")
    p.add_argument("--no-brokers", action="store_true", help="skip one versus two brokers")
    p.add_argument("--peer-uvloop", action="store_true", help="run the peer on uvloop too")
    p.add_argument(
        "--baseline-tree",
        type=Path,
        metavar="DIR",
        help="also run a broker built from this source tree (services/ and schemas/ of "
        "another commit, e.g. from git archive) interleaved with the current one, with the "
        "same producers and responder; prints after/before throughput and latency, and "
        "Redis bytes per interaction for both",
    )
    p.add_argument(
        "--baseline-concurrency",
        type=_ints,
        metavar="N,N",
        help="the concurrencies (of --concurrency) the baseline runs at (default 1,64)",
    )
    p.add_argument("--no-footprint", action="store_true", help="skip Redis bytes per interaction")
    p.add_argument(
        "--footprint-pending",
        type=int,
        metavar="N",
        help="pending interactions seeded per tree for bytes per pending (default 20000)",
    )
    p.add_argument(
        "--footprint-count",
        type=int,
        metavar="N",
        help="interactions driven to their outcome per tree for bytes per finished one "
        "(default 3000)",
    )
    p.add_argument("--footprint-runs", type=int, metavar="N", help="(default 2; quick 1)")
    p.add_argument(
        "--no-gateway",
        action="store_true",
        help="skip the gateway: answers over HTTP, event streams, listings with N pending",
    )
    p.add_argument(
        "--gateway-concurrency",
        type=_ints,
        metavar="N,N",
        help="the concurrencies (of --concurrency) answers go through the gateway at "
        "(default 1,64)",
    )
    p.add_argument(
        "--sse-streams", type=int, metavar="N", help="event streams open at once (default 100)"
    )
    p.add_argument(
        "--sse-count",
        type=int,
        metavar="N",
        help="interactions per load while the event streams are open, per run (default 300)",
    )
    p.add_argument(
        "--sse-rate",
        type=float,
        metavar="N",
        help="interactions/s of the paced load on the event streams (default 25)",
    )
    p.add_argument(
        "--sse-concurrency",
        type=int,
        metavar="N",
        help="producers of both loads; the second is as fast as they go (default 16)",
    )
    p.add_argument(
        "--read-calls",
        type=int,
        metavar="N",
        help="calls per listing and growth level, over HTTP and in the store (default 200)",
    )
    p.add_argument("--json", type=Path, metavar="PATH", help="write every figure as JSON")
    p.add_argument("--markdown", type=Path, metavar="PATH", help="write the tables as Markdown")
    p.add_argument("--log-dir", type=Path, metavar="DIR", help="where process logs go")
    p.set_defaults(handler=run)


NOT_INSTALLED = (
    "hitl bench: the benchmark harness (package hitl-bench) is not installed; from a checkout "
    "of hitl run `uv sync` (it is in the dev group) or `pip install ./bench`"
)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        from hitl_bench.runner import Options, run_bench  # the harness loads only when asked
        from hitl_bench.trees import baseline_tree
    except ModuleNotFoundError as exc:
        if exc.name != "hitl_bench":
            raise
        print(NOT_INSTALLED, file=sys.stderr)
        return 2

    baseline = None
    if args.baseline_tree is not None:
        try:
            baseline = baseline_tree(args.baseline_tree)
        except ValueError as exc:
            print(f"hitl bench: {exc}", file=sys.stderr)
            return 2
    overrides: dict[str, object] = {
        "amqp_url": settings.amqp_url,
        "redis_url": settings.redis_url,
        "shards": settings.shards,
        "retention_seconds": settings.retention_seconds,
        "poll_interval": settings.poll_interval_seconds,
        "brokers": not args.no_brokers,
        "peer_uvloop": args.peer_uvloop,
        "json_path": args.json,
        "markdown_path": args.markdown,
        "log_dir": args.log_dir,
        "baseline": baseline,
        "footprint": not args.no_footprint,
        "gateway": not args.no_gateway,
    }
    for name in (
        "concurrency",
        "count",
        "serial_count",
        "runs",
        "growth_runs",
        "baseline_concurrency",
        "footprint_pending",
        "footprint_count",
        "footprint_runs",
        "gateway_concurrency",
        "sse_streams",
        "sse_count",
        "sse_rate",
        "sse_concurrency",
        "read_calls",
    ):
        value = getattr(args, name)
        if value is not None:
            overrides[name] = value
    if args.no_growth:
        overrides["pending"] = ()
    elif args.pending is not None:
        overrides["pending"] = _ints(args.pending)
    options = Options.quick(**overrides) if args.quick else Options(**overrides)  # type: ignore[arg-type]
    await run_bench(options)
    return 0
