"""``hitl bench``: measure hitl end to end against a hand-written peer pipeline on the RabbitMQ
and Redis of ``HITL_AMQP_URL`` / ``HITL_REDIS_URL``; ``--quick`` (under a minute) ends with
``ratio_vs_handwritten=<x.xx>``. The harness is a package of its own, ``hitl-bench``
(``bench/`` of the repository, installed by ``uv sync`` with the dev group), loaded only when
this command runs; see docs/benchmarks.md."""

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hitl.cli.common import examples, run
from hitl.cli.config import load_settings
from hitl.cli.errors import Usage

NOT_INSTALLED = (
    "bench: the benchmark harness (package hitl-bench) is not installed; from a checkout "
    "of hitl run `uv sync` (it is in the dev group) or `pip install ./bench`"
)
F = TypeVar("F", bound=Callable[..., Any])
LISTS = (
    "concurrency",
    "baseline_concurrency",
    "gateway_concurrency",
    "routing_concurrency",
    "webhook_concurrency",
    "channel_concurrency",
    "trace_concurrency",
)


def register(app: click.Group) -> None:
    app.add_command(bench)


def _n(name: str, text: str, metavar: str = "N", kind: type = int) -> Callable[[F], F]:
    return click.option(name, type=kind, metavar=metavar, help=text)


def _path(name: str, text: str, metavar: str) -> Callable[[F], F]:
    return click.option(name, type=click.Path(path_type=Path), metavar=metavar, help=text)


@click.command(
    help="Benchmark hitl against a hand-written pipeline: end to end at each concurrency (hitl "
    "and the peer, interleaved), one versus two brokers, Redis bytes per interaction, and "
    "growth with many interactions pending. Through a `hitl gateway` process: answers over "
    "HTTP beside AMQP, event streams fanned out, listings with N pending. With "
    "--baseline-tree, a broker built from that tree is measured interleaved with the current "
    "one. Issue 14's figures: the routing decision on a generated 1,000-route tree, brokers "
    "with that tree against the plain one, webhook delivery through hitl's channel against "
    "httpx, and a fast webhook receiver's latency beside one that hangs (a real notifier). "
    "Issue 15's: email and Slack delivery through hitl's channels against aiosmtplib and "
    "slack_sdk, to aiosmtpd and a Slack Web API stand-in, and the time from a decision "
    "elsewhere to each channel's update (a real notifier). "
    "Issue 17's: a broker sent requests with trace context against the plain one, and "
    "LangGraph's own interrupt and resume on its checkpointer against the LangGraph adapter "
    "over hitl. "
    "Issue 16's, with --scale only: one against two brokers on a three-node RabbitMQ cluster "
    "and a Redis Cluster started for the run on this machine, with CPU per interaction. "
    "Tables go to stdout, progress to stderr; the last line is "
    "ratio_vs_handwritten=<x.xx>. See docs/benchmarks.md.",
    epilog=examples(
        "hitl bench --quick",
        "mkdir /tmp/base && git archive 98602c6 services schemas | tar -x -C /tmp/base",
        "hitl bench --concurrency 1,64 --baseline-tree /tmp/base --no-growth --no-brokers",
        "hitl bench --quick --scale --scale-count 1000",
    ),
)
@click.option("--quick", is_flag=True, help="Small sizes, one run: under 60 s.")
@_n("--concurrency", "In flight (default 1,16,64,256).", "N,N", str)
@_n("--count", "Interactions per sample with >1 in flight.")
@_n("--serial-count", "Interactions per sample with 1 in flight.")
@_n("--runs", "End-to-end runs (default 3; quick 1).")
@_n("--pending", "Growth levels (default 1000,100000,1000000).", "N,N", str)
@click.option("--no-growth", is_flag=True, help="Skip the growth measurements.")
@_n("--growth-runs", "Runs per growth level (default 3).")
@click.option("--no-brokers", is_flag=True, help="Skip one versus two brokers.")
@click.option("--peer-uvloop", is_flag=True, help="Run the peer on uvloop too.")
@_path(
    "--baseline-tree",
    "Also run a broker built from this source tree (services/ and schemas/ of another commit, "
    "e.g. from git archive) interleaved with the current one, with the same producers and "
    "responder; prints after/before throughput and latency, and Redis bytes per interaction "
    "for both.",
    "DIR",
)
@_n(
    "--baseline-concurrency",
    "The concurrencies (of --concurrency) the baseline runs at (default 1,64).",
    "N,N",
    str,
)
@click.option("--no-footprint", is_flag=True, help="Skip Redis bytes per interaction.")
@_n(
    "--footprint-pending",
    "Pending interactions seeded per tree for bytes per pending (default 20000).",
)
@_n(
    "--footprint-count",
    "Interactions driven to their outcome per tree for bytes per finished one (default 3000).",
)
@_n("--footprint-runs", "(default 2; quick 1)")
@click.option(
    "--no-gateway",
    is_flag=True,
    help="Skip the gateway: answers over HTTP, event streams, listings with N pending.",
)
@_n(
    "--gateway-concurrency",
    "The concurrencies (of --concurrency) answers go through the gateway at (default 1,64).",
    "N,N",
    str,
)
@_n("--sse-streams", "Event streams open at once (default 100).")
@_n("--sse-count", "Interactions per load while the event streams are open, per run (default 300).")
@_n("--sse-rate", "Interactions/s of the paced load on the event streams (default 25).", "N", float)
@_n("--sse-concurrency", "Producers of both loads; the second is as fast as they go (default 16).")
@_n("--read-calls", "Calls per listing and growth level, over HTTP and in the store (default 200).")
@click.option(
    "--no-routing",
    is_flag=True,
    help="Skip routing through a generated tree (in process, and brokers with it).",
)
@_n("--routing-routes", "Routes in the generated tree (default 1000).")
@_n("--routing-requests", "Requests the routing decision is timed on in process (default 2000).")
@_n(
    "--routing-concurrency",
    "The concurrencies (of --concurrency) the routed brokers run at (default 1,64).",
    "N,N",
    str,
)
@click.option("--no-webhooks", is_flag=True, help="Skip webhook delivery (channel vs httpx).")
@_n("--webhook-concurrency", "Webhooks in flight (default 1,8,64).", "N,N", str)
@_n("--webhook-count", "Webhooks per sample (default 2000).")
@_n("--webhook-runs", "(default 3; quick 1)")
@click.option(
    "--no-isolation",
    is_flag=True,
    help="Skip the slow-receiver isolation (a real notifier, a receiver that hangs).",
)
@_n("--isolation-count", "Requests to the fast receiver per phase (default 600).")
@_n("--isolation-rate", "Requests/s to each receiver (default 20).", "N", float)
@_n("--isolation-runs", "Runs of both phases (default 2; quick 1).")
@click.option("--no-email", is_flag=True, help="Skip the email channel (delivery, updates).")
@click.option("--no-slack", is_flag=True, help="Skip the Slack channel (delivery, updates).")
@_n("--channel-concurrency", "Email/Slack messages in flight (default 1,8,64).", "N,N", str)
@_n("--channel-count", "Email/Slack messages per sample (default 1000; quick 100).")
@_n("--channel-runs", "(default 3; quick 1)")
@_n("--update-count", "Interactions decided elsewhere per channel and run (default 200).")
@_n("--update-rate", "Decisions/s while the updates are timed (default 20).", "N", float)
@_n("--update-runs", "(default 2; quick 1)")
@click.option(
    "--no-trace", is_flag=True, help="Skip the broker sent traced requests (trace context on/off)."
)
@_n(
    "--trace-concurrency",
    "The concurrencies (of --concurrency) the traced broker runs at (default 1,64).",
    "N,N",
    str,
)
@click.option(
    "--no-langgraph",
    is_flag=True,
    help="Skip LangGraph's own interrupt and resume against the LangGraph adapter over hitl.",
)
@_n("--langgraph-count", "Interactions per LangGraph side and run (default 300; quick 20).")
@_n("--langgraph-concurrency", "LangGraph threads in flight (default 20; quick 4).")
@_n("--langgraph-runs", "(default 3; quick 1)")
@click.option(
    "--scale",
    is_flag=True,
    help="Also measure one against two brokers on a three-node RabbitMQ cluster (5711-5713) "
    "and a Redis Cluster (7201-7206) started for the run: interactions/s, latency, CPU ms per "
    "interaction of the brokers, RabbitMQ and Redis. Off by default, --quick included.",
)
@_n("--scale-count", "Interactions per scale sample (default 2000; quick 200).")
@_n("--scale-concurrency", "In flight in the scale samples (default 64).")
@_n("--scale-runs", "Runs of one and two brokers (default 2; quick 1).")
@click.option(
    "--scale-single-redis",
    is_flag=True,
    help="The scale line on one Redis node (7210, started for the run) instead of a Redis "
    "Cluster: what the Cluster costs.",
)
@click.option(
    "--scale-rabbit-nodes",
    type=click.IntRange(1, 7),
    metavar="N",
    help="RabbitMQ nodes of the scale line's cluster (default 3); 1: one node, started for "
    "the run: what replicating each message to three costs.",
)
@_path("--json", "Write every figure as JSON.", "PATH")
@_path("--markdown", "Write the tables as Markdown.", "PATH")
@_path("--log-dir", "Where process logs go.", "DIR")
def bench(**given: Any) -> None:
    try:
        from hitl_bench.runner import Options, run_bench  # the harness loads only when asked
        from hitl_bench.trees import baseline_tree
    except ModuleNotFoundError as exc:
        if exc.name != "hitl_bench":
            raise
        raise Usage(NOT_INSTALLED) from exc
    baseline = None
    if given["baseline_tree"] is not None:
        try:
            baseline = baseline_tree(given["baseline_tree"])
        except ValueError as exc:
            raise Usage(f"bench: {exc}") from exc
    settings = load_settings()
    overrides: dict[str, object] = {
        "amqp_url": settings.amqp_url,
        "redis_url": settings.redis_url,
        "shards": settings.shards,
        "retention_seconds": settings.retention_seconds,
        "poll_interval": settings.poll_interval_seconds,
        "brokers": not given.pop("no_brokers"),
        "peer_uvloop": given.pop("peer_uvloop"),
        "json_path": given.pop("json"),
        "markdown_path": given.pop("markdown"),
        "log_dir": given.pop("log_dir"),
        "baseline": baseline,
        "footprint": not given.pop("no_footprint"),
        "gateway": not given.pop("no_gateway"),
        "routing": not given.pop("no_routing"),
        "webhooks": not given.pop("no_webhooks"),
        "isolation": not given.pop("no_isolation"),
        "email": not given.pop("no_email"),
        "slack": not given.pop("no_slack"),
        "trace": not given.pop("no_trace"),
        "langgraph": not given.pop("no_langgraph"),
        "scale": given.pop("scale"),
        "scale_redis_cluster": not given.pop("scale_single_redis"),
    }
    quick, no_growth, pending = given.pop("quick"), given.pop("no_growth"), given.pop("pending")
    given.pop("baseline_tree")
    for name in LISTS:
        given[name] = _ints(f"--{name.replace('_', '-')}", given[name])
    overrides.update({k: v for k, v in given.items() if v is not None})
    if no_growth:
        overrides["pending"] = ()
    elif pending is not None:
        overrides["pending"] = _ints("--pending", pending)
    options = Options.quick(**overrides) if quick else Options(**overrides)  # type: ignore[arg-type]

    async def measure() -> int:
        await run_bench(options)
        return 0

    run(measure())


def _ints(option: str, text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise Usage(f"{option}: expected comma-separated integers, got {text!r}") from exc
    if any(v < 1 for v in values):
        raise Usage(f"{option}: every value must be at least 1, got {text!r}")
    return values
