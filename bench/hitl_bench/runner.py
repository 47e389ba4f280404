"""One bench run: the routing decision on a generated tree, in process; end to end at each
concurrency (hitl and the peer, hitl answered through the gateway, a broker with that routing
tree, and the baseline tree's broker when one is given, interleaved), one versus two brokers,
event streams fanned out by the gateway; webhook delivery through the channel against httpx;
a hanging webhook receiver beside a fast one; email and Slack delivery against hand-written
senders and the time from a decision elsewhere to each channel's update; a broker sent traced
requests beside the plain one (in the end-to-end runs), and LangGraph's own interrupt and resume
against the LangGraph adapter over hitl; Redis bytes per interaction, then growth (with the
gateway's listings); the tables; the ratio line last."""

import contextlib
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

from hitl.adapters.redis.keys import Keys
from hitl.adapters.redis.purge import purge_namespace
from hitl_bench import channels_run, footprint, isolation, report, route_tree, webhook_delivery
from hitl_bench.channel_delivery import ChannelSample
from hitl_bench.channel_updates import UpdateSample
from hitl_bench.channels_run import ChannelOptions
from hitl_bench.footprint import Footprint
from hitl_bench.gateway_side import GATEWAY, Gateway, GatewayRig, ReadSample, measure_reads
from hitl_bench.growth import GrowthSample, Seeding, measure_level, seed
from hitl_bench.hitl_side import TRACED, HitlRig, new_namespace
from hitl_bench.isolation import IsolationSample
from hitl_bench.peer import PeerRig
from hitl_bench.procs import server_pids
from hitl_bench.route_tree import ROUTED_ONE, ROUTING_PAIRS, DecisionCost
from hitl_bench.scale import ScaleOptions, ScaleResult, measure_scale, scale_tables
from hitl_bench.scenario import Rig, Sample, drive
from hitl_bench.sse import FanoutSample, measure_fanout
from hitl_bench.trees import BEFORE, CURRENT, Tree
from hitl_bench.webhook_delivery import DeliverySample

if TYPE_CHECKING:
    from hitl_bench.langgraph_ab import Side  # imports LangGraph: only when measured

RATIO_CONCURRENCY = 64


@dataclass(frozen=True)
class Options:
    amqp_url: str
    redis_url: str
    shards: int = 8
    retention_seconds: int = 7 * 24 * 3600
    poll_interval: float = 0.25
    concurrency: tuple[int, ...] = (1, 16, 64, 256)
    count: int = 2000  # interactions per sample with more than one in flight
    serial_count: int = 300  # with one in flight
    min_rounds: int = 4  # at least this many interactions per producer in a sample
    runs: int = 3
    warmup: int = 200
    brokers: bool = True
    pending: tuple[int, ...] = (1_000, 100_000, 1_000_000)
    growth_runs: int = 3
    growth_count: int = 1000
    growth_serial: int = 200
    idle_seconds: float = 5.0
    ticks: int = 50
    peer_uvloop: bool = False
    # --baseline-tree: a second broker, built from that tree, measured beside the current one
    baseline: Tree | None = None
    baseline_concurrency: tuple[int, ...] = (1, 64)
    footprint: bool = True  # Redis bytes per pending and per finished interaction
    footprint_runs: int = 2
    footprint_pending: int = 20_000
    footprint_count: int = 3000
    # the gateway: answers over HTTP beside AMQP, event streams, listings with N pending
    gateway: bool = True
    gateway_concurrency: tuple[int, ...] = (1, 64)
    sse_streams: int = 100
    sse_count: int = 300  # interactions per load while the streams are open
    sse_rate: float = 25.0  # interactions/s of the paced load (the other: flat out)
    sse_concurrency: int = 16
    read_calls: int = 200  # per listing and level
    # issue 14: routing through a generated tree (in process, and a broker with it end to end)
    routing: bool = True
    routing_routes: int = 1000
    routing_requests: int = 2000  # distinct requests timed in process (3 passes)
    routing_concurrency: tuple[int, ...] = (1, 64)
    # webhook delivery: the channel against a hand-written httpx sender
    webhooks: bool = True
    webhook_concurrency: tuple[int, ...] = (1, 8, 64)
    webhook_count: int = 2000  # notifications per sample
    webhook_runs: int = 3
    # a hanging webhook receiver beside a fast one (real broker and notifier)
    isolation: bool = True
    isolation_count: int = 600  # requests to the fast receiver per phase
    isolation_rate: float = 20.0  # per second, to each receiver
    isolation_runs: int = 2
    isolation_timeout: str = "30s"  # the hanging receiver's timeout
    # issue 15: email and Slack delivery against hand-written senders, to stand-in processes;
    # the time from a decision elsewhere to the channel's update (real broker and notifier)
    email: bool = True
    slack: bool = True
    channel_concurrency: tuple[int, ...] = (1, 8, 64)
    channel_count: int = 1000  # messages per sample
    channel_runs: int = 3
    channel_warmup: int = 50  # messages each sender sends first, unmeasured
    update_count: int = 200  # interactions answered per round
    update_warmup: int = 10  # interactions that go the same way first, unmeasured
    update_rate: float = 20.0  # answers a second
    update_runs: int = 2
    # issue 17: trace propagation on against off (a broker sent traced requests, beside the
    # plain hitl one in the end-to-end runs), and LangGraph's own interrupt and resume against
    # the LangGraph adapter over hitl (a broker of its own)
    trace: bool = True
    trace_concurrency: tuple[int, ...] = (1, 64)
    langgraph: bool = True
    langgraph_count: int = 300  # interactions per side and run
    langgraph_concurrency: int = 20
    langgraph_runs: int = 3
    # issue 16: one against two brokers on a RabbitMQ cluster and a Redis Cluster started on
    # this machine for the run (hitl_bench.scale); opt-in: it boots 3 RabbitMQ + 6 Redis nodes
    scale: bool = False
    scale_count: int = 2000  # interactions per sample
    scale_concurrency: int = 64
    scale_runs: int = 2
    scale_redis_cluster: bool = True  # False: one Redis node (also started for the run)
    scale_rabbit_nodes: int = 3
    json_path: Path | None = None
    markdown_path: Path | None = None
    log_dir: Path | None = None

    @classmethod
    def quick(cls, **overrides: Any) -> "Options":
        values: dict[str, Any] = {
            "count": 150,
            "serial_count": 30,
            "min_rounds": 1,
            "runs": 1,
            "warmup": 30,
            "pending": (1_000, 10_000),
            "growth_runs": 1,
            "growth_count": 100,
            "growth_serial": 20,
            "idle_seconds": 0.5,
            "ticks": 10,
            "footprint_runs": 1,
            "footprint_pending": 2000,
            "footprint_count": 200,
            "sse_count": 60,
            "read_calls": 20,
            "routing_requests": 300,
            "webhook_count": 200,
            "webhook_runs": 1,
            "isolation_count": 30,
            "isolation_rate": 30.0,
            "isolation_runs": 1,
            "channel_count": 40,
            "channel_runs": 1,
            "channel_warmup": 10,
            "update_count": 10,
            "update_warmup": 3,
            "update_runs": 1,
            "langgraph_count": 20,
            "langgraph_concurrency": 4,
            "langgraph_runs": 1,
            "scale_count": 200,
            "scale_runs": 1,
        }
        values.update(overrides)
        return cls(**values)

    def samples_for(self, concurrency: int) -> int:
        return (
            self.serial_count
            if concurrency == 1
            else max(self.count, self.min_rounds * concurrency)
        )


@dataclass
class Results:
    e2e: list[Sample] = field(default_factory=list)
    brokers: list[Sample] = field(default_factory=list)
    growth: list[GrowthSample] = field(default_factory=list)
    seedings: dict[int, Seeding] = field(default_factory=dict)
    footprints: list[Footprint] = field(default_factory=list)
    fanouts: list[FanoutSample] = field(default_factory=list)
    reads: list[ReadSample] = field(default_factory=list)
    routing: list[DecisionCost] = field(default_factory=list)
    deliveries: list[DeliverySample] = field(default_factory=list)
    isolation: list[IsolationSample] = field(default_factory=list)
    channel_deliveries: list[ChannelSample] = field(default_factory=list)
    channel_updates: list[UpdateSample] = field(default_factory=list)
    langgraph: list["Side"] = field(default_factory=list)
    scale: ScaleResult | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "e2e": [s.as_dict() for s in self.e2e],
            "routing": [c.as_dict() for c in self.routing],
            "webhook_deliveries": [d.as_dict() for d in self.deliveries],
            "isolation": [i.as_dict() for i in self.isolation],
            "channel_deliveries": [d.as_dict() for d in self.channel_deliveries],
            "channel_updates": [u.as_dict() for u in self.channel_updates],
            "langgraph": [s.as_dict() for s in self.langgraph],
            "scale": self.scale.as_dict() if self.scale is not None else None,
            "fanouts": [f.as_dict() for f in self.fanouts],
            "reads": [r.as_dict() for r in self.reads],
            "footprints": [f.as_dict() for f in self.footprints],
            "brokers": [s.as_dict() for s in self.brokers],
            "growth": [g.as_dict() for g in self.growth],
            "seedings": {
                str(k): {**vars_of(v), "overhead": v.per_interaction_overhead}
                for k, v in self.seedings.items()
            },
        }


def vars_of(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _line(sample: Sample, run: int) -> str:
    return (
        f"run {run + 1} {sample.system:>4} x{sample.concurrency:<3} brokers={sample.brokers} "
        f"{sample.throughput:7.1f}/s  round trip p50 {sample.round_trip.p50:.1f} ms "
        f"p99 {sample.round_trip.p99:.1f} ms  cpu "
        + " ".join(f"{k}={v:.0f}%" for k, v in sample.cpu.items())
    )


def _broker_env(opts: Options) -> dict[str, str]:
    return {"HITL_POLL_INTERVAL_SECONDS": str(opts.poll_interval)}


async def _end_to_end(
    opts: Options, log_dir: Path, results: Results, run: int, routing: Path | None
) -> None:
    hitl = HitlRig(
        opts.amqp_url, opts.redis_url, new_namespace("bench"), log_dir, _broker_env(opts)
    )
    peer = PeerRig(
        opts.amqp_url, opts.redis_url, new_namespace("peer"), log_dir, uvloop=opts.peer_uvloop
    )
    before = (
        HitlRig(
            opts.amqp_url,
            opts.redis_url,
            new_namespace(BEFORE),
            log_dir,
            _broker_env(opts),
            name=BEFORE,
            pythonpath=opts.baseline.pythonpath,
        )
        if opts.baseline is not None
        else None
    )
    gateway = (
        GatewayRig(
            HitlRig(
                opts.amqp_url, opts.redis_url, new_namespace("http"), log_dir, _broker_env(opts)
            )
        )
        if opts.gateway
        else None
    )
    # Trace context on: the plain rig's requests, each with a traceparent and tracestate
    traced = (
        HitlRig(
            opts.amqp_url,
            opts.redis_url,
            new_namespace(TRACED),
            log_dir,
            _broker_env(opts),
            name=TRACED,
            trace=True,
        )
        if opts.trace
        else None
    )
    # Routing on, and off with the same requests (labels and node names): on/off differ
    # only in the routing file.
    routed = [
        HitlRig(
            opts.amqp_url,
            opts.redis_url,
            new_namespace(name),
            log_dir,
            {**_broker_env(opts), **({"HITL_ROUTING_FILE": str(routing)} if on else {})},
            name=name,
            request_fields=labelled(opts.routing_routes, single=pair[0] == ROUTED_ONE),
        )
        for pair in ROUTING_PAIRS.items()
        for on, name in zip((True, False), pair, strict=True)
        if routing is not None
    ]
    rigs: list[Rig] = [hitl, peer]
    servers = server_pids()
    try:
        await hitl.start()
        await peer.start()
        for extra in (gateway, before, traced, *routed):
            if extra is not None:
                await extra.start()
                rigs.append(extra)
        for rig in rigs:
            await drive(rig, 16, opts.warmup)
        for i, c in enumerate(opts.concurrency):
            here = [r for r in rigs if _measured_at(r, c, opts)]
            turn = (run + i) % len(here)  # who goes first rotates per concurrency and run
            for rig in here[turn:] + here[:turn]:
                sample = await drive(rig, c, opts.samples_for(c), extra_cpu=servers)
                results.e2e.append(replace(sample, run=run))
                _say(_line(sample, run))
        if opts.brokers:
            count = opts.samples_for(RATIO_CONCURRENCY)
            one = await drive(hitl, RATIO_CONCURRENCY, count, extra_cpu=servers)
            await hitl.add_broker()
            two = await drive(hitl, RATIO_CONCURRENCY, count, extra_cpu=servers, brokers=2)
            await hitl.remove_broker()
            results.brokers += [one, two]
            _say(_line(one, run))
            _say(_line(two, run))
        if gateway is not None and opts.sse_streams:
            await _fanout(opts, gateway, results, run)
    finally:
        with contextlib.suppress(Exception):
            await hitl.close()
        with contextlib.suppress(Exception):
            await peer.close()
        for extra in (gateway, before, traced, *routed):
            if extra is not None:
                with contextlib.suppress(Exception):
                    await extra.close()


def labelled(routes: int, *, single: bool, pool: int = 1000) -> Callable[[int], dict[str, Any]]:
    """A routed rig's request fields: labels and node names drawn from the generated tree
    (``route_tree.request_pool``), ``pool`` of them reused by request number."""
    fields = route_tree.request_pool(route_tree.generate(routes), pool, single=single)
    return lambda seq: fields[seq % pool]


def _routing_cost(opts: Options, log_dir: Path, results: Results) -> Path:
    """The tree's routing file, written for the routed broker, and the decision's cost."""
    tree = route_tree.generate(opts.routing_routes)
    path = log_dir / f"routing-{opts.routing_routes}.yaml"
    cost = route_tree.decision_cost(tree, path, opts.routing_requests)
    results.routing.append(cost)
    _say(
        f"routing through {cost.routes} routes, in process: p50 {cost.p50_us:.1f} us, "
        f"p99 {cost.p99_us:.1f} us, mean {cost.mean_us:.1f} us a request "
        f"({cost.receivers_per_request:.2f} receivers each); file loaded in "
        f"{cost.load_ms:.0f} ms"
    )
    return path


async def _webhooks(opts: Options, results: Results) -> None:
    began = time.perf_counter()
    samples = await webhook_delivery.measure(
        opts.webhook_concurrency,
        opts.webhook_count,
        opts.webhook_runs,
        warmup=min(opts.warmup, opts.webhook_count),
    )
    results.deliveries += samples
    for d in samples:
        _say(
            f"run {d.run + 1} webhooks via {d.sender:>7} x{d.concurrency:<3} "
            f"{d.throughput:7.0f}/s  cpu sender={d.sender_cpu:.0f}% "
            f"receiver={d.receiver_cpu:.0f}%  connections {d.connections}"
        )
    _say(f"webhook delivery took {time.perf_counter() - began:.0f}s")


async def _isolation(opts: Options, log_dir: Path, results: Results) -> None:
    began = time.perf_counter()
    samples = await isolation.measure(
        opts.amqp_url,
        opts.redis_url,
        log_dir,
        _broker_env(opts),
        count=opts.isolation_count,
        rate=opts.isolation_rate,
        runs=opts.isolation_runs,
        timeout=opts.isolation_timeout,
    )
    results.isolation += samples
    for i in samples:
        _say(
            f"run {i.run + 1} fast receiver {i.phase}: {i.delivered}/{i.count} delivered, "
            f"p50 {i.latency.p50:.1f} ms p99 {i.latency.p99:.1f} ms; "
            f"hanging receiver got {i.slow_received} POSTs"
        )
    _say(f"slow-receiver isolation took {time.perf_counter() - began:.0f}s")


async def _langgraph(opts: Options, log_dir: Path, results: Results) -> None:
    from hitl_bench import langgraph_ab  # imports LangGraph: only when measured

    began = time.perf_counter()
    results.langgraph += await langgraph_ab.measure(
        opts.amqp_url,
        opts.redis_url,
        opts.langgraph_count,
        opts.langgraph_concurrency,
        opts.langgraph_runs,
        log_dir=log_dir,
        broker_env=_broker_env(opts),
        say=_say,
    )
    _say(f"langgraph took {time.perf_counter() - began:.0f}s")


async def _channels(opts: Options, log_dir: Path, results: Results) -> None:
    channels = ChannelOptions(
        tuple(c for c, on in (("email", opts.email), ("slack", opts.slack)) if on),
        opts.channel_concurrency, opts.channel_count, opts.channel_runs, opts.channel_warmup,
        opts.update_count, opts.update_rate, opts.update_runs, opts.update_warmup,
    )  # fmt: skip
    deliveries, updates = await channels_run.measure(
        channels, opts.amqp_url, opts.redis_url, log_dir, _broker_env(opts), _say
    )
    results.channel_deliveries += deliveries
    results.channel_updates += updates


async def _fanout(opts: Options, gateway: GatewayRig, results: Results, run: int) -> None:
    """Event streams at a paced load, then flat out; answers go over AMQP meanwhile, so the
    gateway only fans events out."""
    gateway.answer_over_http(False)
    try:
        for rate in (opts.sse_rate, None):
            fanout = await measure_fanout(
                gateway,
                gateway.url,
                gateway.key,
                gateway.gateway_pid,
                streams=opts.sse_streams,
                count=opts.sse_count,
                concurrency=opts.sse_concurrency,
                rate=rate,
            )
            results.fanouts.append(fanout)
            _say(
                f"run {run + 1} {fanout.streams} event streams, {fanout.offered}: "
                f"{fanout.interactions.throughput:.0f} interactions/s, "
                f"{fanout.delivered_per_second:.0f} events/s delivered, lag p50 "
                f"{fanout.lag.p50:.1f} ms p99 {fanout.lag.p99:.1f} ms, "
                f"{fanout.least}-{fanout.most} per stream"
            )
    finally:
        gateway.answer_over_http(True)


def _measured_at(rig: Rig, concurrency: int, opts: Options) -> bool:
    if rig.name == BEFORE:
        return concurrency in opts.baseline_concurrency
    if rig.name in ROUTING_PAIRS or rig.name in ROUTING_PAIRS.values():
        return concurrency in opts.routing_concurrency
    if rig.name == TRACED:
        return concurrency in opts.trace_concurrency
    if isinstance(rig, GatewayRig):
        return concurrency in opts.gateway_concurrency
    return True


async def _footprint(opts: Options, log_dir: Path, results: Results) -> None:
    trees = [CURRENT] + ([opts.baseline] if opts.baseline is not None else [])
    for run in range(opts.footprint_runs):
        for tree in trees if run % 2 == 0 else trees[::-1]:
            pending = await footprint.pending(
                tree,
                opts.redis_url,
                opts.shards,
                opts.retention_seconds,
                count=opts.footprint_pending,
            )
            done = await footprint.finished(
                tree,
                opts.amqp_url,
                opts.redis_url,
                opts.shards,
                log_dir,
                _broker_env(opts),
                count=opts.footprint_count,
                warmup=min(opts.warmup, opts.footprint_count),
            )
            results.footprints += [pending, done]
            _say(
                f"footprint {tree.label}: {pending.per_interaction:.0f} B per pending "
                f"({pending.keys_per_interaction:.0f} in its keys), "
                f"{done.per_interaction:.0f} B per finished ({done.keys_per_interaction:.0f})"
            )


async def _growth(opts: Options, log_dir: Path, results: Results) -> None:
    namespace = new_namespace("growth")
    keys = Keys(namespace, opts.shards)
    redis: Redis = Redis.from_url(opts.redis_url)
    rig = HitlRig(opts.amqp_url, opts.redis_url, namespace, log_dir, _broker_env(opts))
    seeded = 0
    try:
        await rig.start()
        for level in sorted(opts.pending):
            seeding = await seed(
                redis, keys, level - seeded, start=seeded, retention_seconds=opts.retention_seconds
            )
            seeded = level
            results.seedings[level] = seeding
            _say(
                f"seeded {seeding.added:,} pending in {seeding.seconds:.1f}s; "
                f"{seeding.per_interaction_overhead:.0f} B each beyond a "
                f"{seeding.payload_avg:.0f} B payload"
            )
            for _ in range(opts.growth_runs):
                sample = await measure_level(
                    rig,
                    redis,
                    keys,
                    level,
                    serial_count=opts.growth_serial,
                    loaded_count=opts.growth_count,
                    idle_seconds=opts.idle_seconds,
                    ticks=opts.ticks,
                    retention_seconds=opts.retention_seconds,
                )
                results.growth.append(sample)
                _say(
                    f"pending {level:,}: 1 in flight p50 {sample.serial.round_trip.p50:.1f} ms, "
                    f"{sample.loaded.throughput:.0f}/s at 64, "
                    f"RSS {sample.rss_kib / 1024:.1f} MiB, "
                    f"idle {sample.idle_cpu_ms_per_s:.1f} ms CPU/s, "
                    f"tick {sample.tick_ms_p50:.2f} ms"
                )
            if opts.gateway:
                await _listings(opts, rig, level, log_dir, results)
    finally:
        with contextlib.suppress(Exception):
            await rig.close(cleanup=False)
        with contextlib.suppress(Exception):
            await rig.delete()
        await purge_namespace(redis, namespace)
        await redis.aclose()


async def _listings(
    opts: Options, rig: HitlRig, level: int, log_dir: Path, results: Results
) -> None:
    """A gateway on the growth namespace, only while its listings are measured (so it does
    not consume the namespace's events during the growth runs)."""
    gateway = await Gateway.start(
        rig.env(), f"{rig.namespace}-gateway-{level}", log_dir, scopes=("read",)
    )
    try:
        for _ in range(opts.growth_runs):
            reads = await measure_reads(
                gateway, opts.redis_url, rig.namespace, opts.shards, level, opts.read_calls
            )
            results.reads += reads
            _say(
                f"pending {level:,}: "
                + ", ".join(
                    f"{r.what} p50 {r.http.p50:.2f} ms over HTTP, {r.store.p50:.2f} ms in the store"
                    for r in reads
                )
            )
    finally:
        await gateway.stop()


def machine() -> str:
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, load average {load}"
    )


def render(results: Results, as_markdown: bool = False) -> str:
    tables = [report.end_to_end(results.e2e), *_issue14_tables(results)]
    if any(s.system == TRACED for s in results.e2e):
        tables.append(report.trace(results.e2e))
    if results.langgraph:
        from hitl_bench import langgraph_ab

        tables.append(langgraph_ab.table(results.langgraph))
    if any(s.system == BEFORE for s in results.e2e):
        tables.append(report.baseline(results.e2e))
    if any(s.system == GATEWAY for s in results.e2e):
        tables.append(report.gateway(results.e2e))
    if results.fanouts:
        tables.append(report.fanout(results.fanouts))
    if results.footprints:
        tables.append(report.footprint(results.footprints))
        tables.append(report.footprint_classes(results.footprints))
    if results.brokers:
        tables.append(report.brokers(results.brokers))
    tables += scale_tables(results.scale)
    if results.growth:
        tables.append(report.growth(results.growth, results.seedings))
    if results.reads:
        tables.append(report.reads(results.reads))
    show: Callable[[report.Table], str] = (
        report.Table.markdown if as_markdown else report.Table.text
    )
    return "\n\n".join(show(t) for t in tables)


def _issue14_tables(results: Results) -> list[report.Table]:
    """Routing through the generated tree, webhook delivery, slow-receiver isolation."""
    tables = []
    if results.routing:
        tables.append(report.routing_decision(results.routing))
    if any(s.system in ROUTING_PAIRS for s in results.e2e):
        tables.append(report.routing(results.e2e))
    if results.deliveries:
        tables.append(report.webhooks(results.deliveries))
    if results.isolation:
        tables.append(report.isolation(results.isolation))
    tables += channels_run.tables(results.channel_deliveries, results.channel_updates)
    return tables


async def _sections(opts: Options, log_dir: Path, results: Results) -> None:
    """Webhooks, isolation, the email and Slack channels and LangGraph, each unless left out;
    the scale line when asked for."""
    if opts.webhooks:
        await _webhooks(opts, results)
    if opts.isolation:
        await _isolation(opts, log_dir, results)
    if opts.email or opts.slack:
        await _channels(opts, log_dir, results)
    if opts.langgraph:
        await _langgraph(opts, log_dir, results)
    if opts.scale:
        await _scale(opts, log_dir, results)


async def _scale(opts: Options, log_dir: Path, results: Results) -> None:
    scale = ScaleOptions(
        opts.scale_count,
        opts.scale_concurrency,
        opts.scale_runs,
        min(opts.warmup, opts.scale_count),
        opts.scale_redis_cluster,
        opts.scale_rabbit_nodes,
    )
    results.scale = await measure_scale(scale, log_dir, _broker_env(opts), _say)


async def run_bench(opts: Options) -> float:
    """Run everything, print the tables and the ratio line; returns the ratio."""
    log_dir = opts.log_dir or Path(tempfile.mkdtemp(prefix="hitl-bench-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    results = Results()
    began = time.perf_counter()
    _say(f"hitl bench on {machine()}; process logs in {log_dir}")
    _say(CURRENT.describe() + (f"; {opts.baseline.describe()}" if opts.baseline else ""))
    routing = _routing_cost(opts, log_dir, results) if opts.routing else None
    for run in range(opts.runs):
        await _end_to_end(opts, log_dir, results, run, routing)
    await _sections(opts, log_dir, results)
    if opts.footprint:
        await _footprint(opts, log_dir, results)
    if opts.pending:
        await _growth(opts, log_dir, results)
    ratio = report.throughput_ratio(results.e2e, RATIO_CONCURRENCY)
    if math.isnan(ratio) and results.e2e:  # 64 not measured: the nearest concurrency
        nearest = min(
            {s.concurrency for s in results.e2e}, key=lambda c: abs(c - RATIO_CONCURRENCY)
        )
        ratio = report.throughput_ratio(results.e2e, nearest)
    print(render(results))
    if opts.json_path is not None:
        payload = {
            "machine": machine(),
            "trees": [t.describe() for t in (CURRENT, opts.baseline) if t is not None],
            "options": repr(opts),
            **results.as_dict(),
        }
        opts.json_path.write_text(json.dumps(payload, indent=1, default=str))
    if opts.markdown_path is not None:
        opts.markdown_path.write_text(render(results, as_markdown=True) + "\n")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    _say(f"bench took {time.perf_counter() - began:.0f}s; load average now {load}")
    print(f"ratio_vs_handwritten={ratio:.2f}", flush=True)
    return ratio
