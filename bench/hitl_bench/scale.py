"""The scale line (issue 16): hitl end to end with one and then two broker processes on a
three-node RabbitMQ cluster and a Redis Cluster (three primaries with a replica each), all
started on this machine for the run and stopped after it; interactions/s, the round trip, and
CPU milliseconds per interaction of the brokers, the RabbitMQ nodes (summed) and the Redis nodes
(summed), so a figure bound by this machine's cores still says what an interaction costs.

The workload is the end-to-end one (``HitlRig``, ``drive``): producers through the SDK, an
auto-responder answering each notification. The producer and the responder connect to node a;
broker n gets the node list starting at node n (``RabbitCluster.urls_from``), so one broker is
on node b and two on b and c; quorum queues are declared with ``queue_leader_locator =
balanced``, so their leaders spread over the three nodes, as they would in a cluster run for
throughput. Runs alternate the order (1 then 2 brokers, then 2 then 1); after the broker count
changes, an unmeasured warm-up.

Its own servers, never the shared ones: RabbitMQ nodes ``hitl-bench-{a,b,c}@localhost`` on
5711-5713 (Erlang distribution 25711-25713), Redis on 7201-7206 (cluster bus 17201-17206). With
``redis_cluster=False`` the store is one plain Redis node on 7210 instead (the table's title
says so): what the Cluster costs, with the same RabbitMQ cluster and workload; likewise
``rabbit_nodes=1``, one RabbitMQ node of the run's own: what replication to three costs. The
CPU of each RabbitMQ and Redis node is also read on its own: the busiest node's share of its
server's sum shows how evenly queue leaders and shards spread.
"""

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hitl_bench.clusters.rabbit_cluster import RabbitCluster
from hitl_bench.clusters.redis_deployments import LocalCluster, LocalNode
from hitl_bench.hitl_side import HitlRig, new_namespace
from hitl_bench.report import Table
from hitl_bench.scenario import Sample, drive
from hitl_bench.stats import Spread

SYSTEM = "scale"
RABBIT_PREFIX = "hitl-bench"
RABBIT_FIRST_PORT = 5711
REDIS_BASE = 7200
# CPU groups of a sample: the broker processes, this process (producers and responder), the
# RabbitMQ nodes' Erlang VMs, the Redis nodes
GROUPS = (("service", "brokers"), ("rabbitmq", "RabbitMQ"), ("redis", "Redis"), ("bench", "bench"))
SERVERS = ("rabbitmq", "redis")  # whose nodes are also measured one by one


@dataclass(frozen=True)
class ScaleOptions:
    count: int = 2000  # interactions per sample
    concurrency: int = 64
    runs: int = 2
    warmup: int = 200  # unmeasured, at start and after the broker count changes
    redis_cluster: bool = True  # False: one Redis node (started for the run too)
    rabbit_nodes: int = 3  # 1: one RabbitMQ node (started for the run too)


@dataclass
class ScaleResult:
    setup: str = ""  # what ran, for the table's title
    samples: list[Sample] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"setup": self.setup, "samples": [s.as_dict() for s in self.samples]}


async def measure_scale(
    opts: ScaleOptions,
    log_dir: Path,
    broker_env: Mapping[str, str],
    say: Callable[[str], None],
) -> ScaleResult:
    """Start the clusters, drive the workload with one and two brokers ``opts.runs`` times,
    stop the clusters."""
    began = time.perf_counter()
    rabbit = RabbitCluster.create(
        "abcdefg"[: opts.rabbit_nodes],
        RABBIT_FIRST_PORT,
        prefix=RABBIT_PREFIX,
        leader_locator="balanced",
    )
    redis = LocalCluster(REDIS_BASE) if opts.redis_cluster else LocalNode(REDIS_BASE + 10)
    try:
        await _start(rabbit, redis)
        say(f"scale: clusters up in {time.perf_counter() - began:.0f}s")
        beams = {node.letter: await rabbit.beam_pid(node) for node in rabbit.nodes}
        redis_pids = {str(n.port): n.process.pid for n in redis.nodes if n.process}
        store = (
            f"a Redis Cluster ({len(redis.nodes) // 2} primaries, a replica each)"
            if isinstance(redis, LocalCluster)
            else "one Redis node (not a Redis Cluster)"
        )
        queues = (
            f"a {len(rabbit.nodes)}-node RabbitMQ cluster (quorum queues, leaders balanced)"
            if len(rabbit.nodes) > 1
            else "one RabbitMQ node (quorum queues, not a cluster)"
        )
        result = ScaleResult(f"{queues} and {store}")
        rig = HitlRig(
            rabbit.urls,
            redis.url,
            new_namespace(SYSTEM),
            log_dir,
            broker_env,
            name=SYSTEM,
            broker_amqp_url=rabbit.urls_from,
        )
        servers = _groups({"rabbitmq": beams, "redis": redis_pids})
        try:
            await rig.start()
            await drive(rig, opts.concurrency, opts.warmup)
            for run in range(opts.runs):
                for brokers in (1, 2) if run % 2 == 0 else (2, 1):
                    sample = await _sample(rig, brokers, opts, servers)
                    result.samples.append(replace(sample, run=run))
                    say(_line(sample, run))
        finally:
            with contextlib.suppress(Exception):
                await rig.close()
    finally:
        await asyncio.to_thread(_stop, rabbit, redis)
    say(f"scale took {time.perf_counter() - began:.0f}s")
    return result


async def _start(rabbit: RabbitCluster, redis: LocalCluster | LocalNode) -> None:
    """Both at once (RabbitMQ's three VMs take the longest); the first failure."""
    starting = (asyncio.to_thread(rabbit.start), asyncio.to_thread(redis.start))
    for outcome in await asyncio.gather(*starting, return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome


def _groups(servers: Mapping[str, Mapping[str, int]]) -> dict[str, list[int]]:
    """CPU groups: each server's nodes summed (``rabbitmq``), and each node (``rabbitmq/a``)."""
    groups = {name: list(nodes.values()) for name, nodes in servers.items()}
    for name, nodes in servers.items():
        groups.update({f"{name}/{node}": [pid] for node, pid in nodes.items()})
    return groups


def busiest(sample: Sample, server: str) -> tuple[str, float]:
    """The node of ``server`` that used the most CPU in the sample, and its share of the
    server's sum (a queue leader's or a shard primary's node saturates first)."""
    nodes = {k.split("/", 1)[1]: v for k, v in sample.cpu.items() if k.startswith(server + "/")}
    total = sample.cpu.get(server, 0.0)
    if not nodes or total <= 0:
        return "-", float("nan")
    node = max(nodes, key=lambda n: nodes[n])
    return node, nodes[node] / total


def _stop(rabbit: RabbitCluster, redis: LocalCluster | LocalNode) -> None:
    try:
        rabbit.stop()
    finally:
        redis.stop()


async def _sample(
    rig: HitlRig, brokers: int, opts: ScaleOptions, servers: Mapping[str, Sequence[int]]
) -> Sample:
    if len(rig.brokers) != brokers:
        while len(rig.brokers) < brokers:
            await rig.add_broker()
        while len(rig.brokers) > brokers:
            await rig.remove_broker()
        await drive(rig, opts.concurrency, min(opts.warmup, opts.count))
    return await drive(rig, opts.concurrency, opts.count, extra_cpu=servers, brokers=brokers)


def cpu_ms(sample: Sample, group: str) -> float:
    """CPU milliseconds per interaction of a group (``cpu`` is % of one core over the sample)."""
    return sample.cpu.get(group, float("nan")) * 10 / sample.throughput


def _line(sample: Sample, run: int) -> str:
    return (
        f"run {run + 1} scale brokers={sample.brokers} x{sample.concurrency} "
        f"{sample.throughput:7.1f}/s  round trip p50 {sample.round_trip.p50:.1f} ms "
        f"p99 {sample.round_trip.p99:.1f} ms  CPU ms/interaction "
        + " ".join(f"{label}={cpu_ms(sample, group):.2f}" for group, label in GROUPS)
        + "  busiest "
        + " ".join(
            f"{server}={node} {share:.0%}"
            for server in SERVERS
            for node, share in [busiest(sample, server)]
        )
    )


def scale_tables(result: ScaleResult | None) -> list[Table]:
    """The scale table, when the line was measured."""
    return [scale_table(result)] if result is not None and result.samples else []


def scale_table(result: ScaleResult) -> Table:
    samples = result.samples
    concurrency = samples[0].concurrency if samples else 0
    cores = os.cpu_count() or 1
    table = Table(
        f"Scale: one and two broker processes on {result.setup}, {concurrency} in flight, "
        f"everything on this machine's {cores} cores (median over runs [range])",
        (
            "brokers",
            "interactions/s",
            "round trip - responder p50 / p99 ms",
            "CPU ms/interaction brokers/RabbitMQ/Redis/bench",
            "all",
            f"CPU% of {cores * 100}",
            "busiest node's share: RabbitMQ / Redis",
        ),
    )
    by = {n: [s for s in samples if s.brokers == n] for n in (1, 2)}
    table.rows += [_row(n, group) for n, group in by.items() if group]
    pairs = [
        (two.throughput / one.throughput) for one in by[1] for two in by[2] if one.run == two.run
    ]
    if pairs:
        table.rows.append(("2/1", f"x{Spread.of(pairs).show('{:.2f}')}", "", "", "", "", ""))
    return table


def _row(brokers: int, group: Sequence[Sample]) -> tuple[str, ...]:
    p50 = Spread.of([s.round_trip.p50 for s in group])
    p99 = Spread.of([s.round_trip.p99 for s in group])
    per = [Spread.of([cpu_ms(s, g) for s in group]).median for g, _ in GROUPS]
    busy = Spread.of([sum(s.cpu.get(g, 0.0) for g, _ in GROUPS) for s in group])
    return (
        str(brokers),
        Spread.of([s.throughput for s in group]).show("{:.0f}"),
        f"{p50.show()} / {p99.median:.1f}",
        "/".join(f"{v:.2f}" for v in per),
        f"{sum(per):.2f}",
        f"{busy.median:.0f}",
        " / ".join(_busiest(group, server) for server in SERVERS),
    )


def _busiest(group: Sequence[Sample], server: str) -> str:
    """The node busiest in most samples, and its median share."""
    found = [busiest(s, server) for s in group]
    nodes = [node for node, _ in found]
    node = max(set(nodes), key=nodes.count)
    share = Spread.of([share for _, share in found]).median
    return "-" if node == "-" else f"{node} {share:.0%}"
