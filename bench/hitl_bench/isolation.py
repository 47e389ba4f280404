"""Issue 14's slow-receiver isolation: a receiver that hangs must not delay another one.

Real processes: a ``hitl broker`` and a ``hitl notifier webhook`` on a namespace of their own,
with a routing file of two webhook receivers on loopback (``allow_private: true``): ``fast``
(a ``hitl_bench.webhook_receiver`` answering 204 at once) and ``slow`` (one that never answers,
so each delivery to it hangs for the receiver's ``timeout``, 30 s, then is retried). Requests
labelled ``target=slow`` land on ``slow``; the others on ``fast``, the root's receiver.

A phase publishes ``count`` requests to ``fast`` at ``rate`` a second (the SDK's ``submit``)
and, at the same time, as many requests labelled ``target=slow`` at the same rate: the route
``slow`` sends those to a receiver that answers at once (phase ``ALONE``: the baseline) or to
the one that hangs (``WITH_SLOW``). Both phases carry the same load, so the difference is the
hang alone (a baseline without the second stream would also halve the broker's and notifier's
work, and charge the doubled load to the hang). The figure is the fast receiver's delivery
latency: from just before the request is published to
the moment the receiver has the whole POST (``time.perf_counter()`` in both processes: on
Linux one clock). Each phase gets a fresh namespace, broker and notifier (so no hung delivery
of one phase is left in the next), the receivers stay; the order of the two phases alternates
per run; before each, 10 requests to the fast receiver warm the processes up. Nobody answers
the requests: they stay pending until the namespace is purged.
"""

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
from redis.asyncio import Redis

from hitl.adapters.amqp.teardown import delete_topology
from hitl.adapters.redis.purge import purge_namespace
from hitl.sdk import HitlClient
from hitl_bench.hitl_side import new_namespace
from hitl_bench.procs import Child, cpu_seconds, start_child
from hitl_bench.stats import Quantiles
from hitl_bench.webhook_delivery import SECRET
from hitl_bench.webhook_receiver import ReceiverProcess
from hitl_contract.wire import Names

SERVICE = "bench"
ALONE = "beside a responsive receiver"
WITH_SLOW = "with a hanging receiver"
SECRET_ENV = "HITL_BENCH_WEBHOOK_SECRET"
WARMUP = 10  # requests to the fast receiver before each phase is measured


@dataclass(frozen=True, slots=True)
class IsolationSample:
    phase: str  # ALONE or WITH_SLOW
    count: int  # requests to the fast receiver
    rate: float
    delivered: int  # of them, delivered to the fast receiver
    latency: Quantiles  # publish -> the fast receiver has the POST, ms
    slow_requests: int  # requests to the route ``slow``
    slow_received: int  # POSTs its receiver got (each hangs in WITH_SLOW)
    notifier_cpu: float  # % of one core over the phase
    broker_cpu: float
    run: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def routing_file(path: Path, fast_url: str, slow_url: str, timeout: str) -> Path:
    config = {
        "receivers": [
            {"name": "fast", "type": "webhook", "url": fast_url, "allow_private": True,
             "secret": {"env": SECRET_ENV}},
            {"name": "slow", "type": "webhook", "url": slow_url, "allow_private": True,
             "secret": {"env": SECRET_ENV}, "timeout": timeout},
        ],
        "route": {"receivers": ["fast"], "routes": [
            {"name": "slow", "matchers": ["target=slow"], "receivers": ["slow"]},
        ]},
    }  # fmt: skip
    path.write_text(json.dumps(config, indent=1))
    return path


@dataclass
class Phase:
    """A broker and a notifier per channel of ``channels`` (serving ``receivers``) on a fresh
    namespace."""

    amqp_url: str
    redis_url: str
    log_dir: Path
    routing: Path
    broker_env: Mapping[str, str]
    namespace: str = field(default_factory=lambda: new_namespace("isolation"))
    children: list[Child] = field(default_factory=list)
    channels: tuple[str, ...] = ("webhook",)
    receivers: tuple[str, ...] = ("fast", "slow")
    extra_env: Mapping[str, str] = field(default_factory=dict)  # the channels' settings

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "HITL_AMQP_URL": self.amqp_url,
                "HITL_REDIS_URL": self.redis_url,
                "HITL_NAMESPACE": self.namespace,
                "HITL_METRICS_PORT": "0",
                "HITL_ROUTING_FILE": str(self.routing),
                "HITL_SHUTDOWN_GRACE_SECONDS": "2",  # hung deliveries are not waited for
                SECRET_ENV: SECRET,
            }
        )
        env.update(self.broker_env)
        env.update(self.extra_env)
        return env

    async def start(self) -> None:
        """Every process at once (each declares the topology it needs): their start-up, an
        interpreter importing hitl, is most of a phase's time on a busy machine."""
        notifiers = [
            start_child(f"{self.namespace}-notifier" + (f"-{c}" if c != "webhook" else ""),
                        ["hitl.cli.main", "notifier", c], self.env(), self.log_dir,
                        ready=f"notifier {c} ready")
            for c in self.channels
        ]  # fmt: skip
        started = await asyncio.gather(
            start_child(f"{self.namespace}-broker", ["hitl.cli.main", "broker"], self.env(),
                        self.log_dir, ready="broker ready"),
            *notifiers,
            return_exceptions=True,
        )  # fmt: skip
        for child in started:
            if isinstance(child, Child):
                self.children.append(child)  # the broker first, then the channels' notifiers
        for child in started:
            if isinstance(child, BaseException):
                raise child

    @property
    def broker_pid(self) -> int:
        return self.children[0].pid

    @property
    def notifier_pid(self) -> int:
        return self.children[1].pid

    def notifier_of(self, channel: str) -> int:
        return self.children[1 + self.channels.index(channel)].pid

    async def close(self) -> None:
        while self.children:
            await self.children.pop().stop(grace=10.0)
        names = Names(self.namespace)
        connection = await aio_pika.connect(self.amqp_url)
        try:
            await delete_topology(
                connection,
                names,
                reply_to=[SERVICE],
                queues=[
                    *(names.notifier_queue(r) for r in self.receivers),
                    *(names.notifier_settled_queue(c) for c in self.channels),
                ],
            )
        finally:
            await connection.close()
        redis: Redis = Redis.from_url(self.redis_url)
        try:
            await purge_namespace(redis, self.namespace)
        finally:
            await redis.aclose()


async def _stream(
    client: HitlClient, target: str, count: int, rate: float, sent: dict[str, float]
) -> None:
    """``count`` requests labelled ``target=<target>``, the k-th published k / rate seconds
    after the start (each in a task of its own, so a slow confirm does not hold the pace);
    ``sent`` gets each one's publish time."""
    tasks: list[asyncio.Task[Any]] = []
    start = time.perf_counter()
    for k in range(count):
        due = start + k / rate - time.perf_counter()
        if due > 0:
            await asyncio.sleep(due)
        request = client.new_request(
            "approval",
            thread_id=f"isolation-{uuid.uuid4().hex[:12]}",
            prompt="Deploy api 1.4 to production?",
            timeout_seconds=3600,
            labels={"target": target, "env": "production"},
        )
        sent[str(request.id)] = time.perf_counter()
        tasks.append(asyncio.create_task(client.submit(request)))
    await asyncio.gather(*tasks)


async def run_phase(
    phase: Phase,
    fast: ReceiverProcess,
    slow: ReceiverProcess,
    *,
    name: str,
    count: int,
    rate: float,
    run: int,
    settle_seconds: float = 30.0,
) -> IsolationSample:
    await phase.start()
    try:
        async with HitlClient.connect(
            phase.amqp_url, service=SERVICE, namespace=phase.namespace
        ) as client:
            await fast.mark()
            await _stream(client, "fast", WARMUP, rate, {})  # connections, first-call costs
            await _arrivals(fast, WARMUP, settle_seconds)
            await fast.mark()
            await slow.mark()
            sent: dict[str, float] = {}
            cpu0 = (cpu_seconds(phase.notifier_pid), cpu_seconds(phase.broker_pid))
            began = time.perf_counter()
            await asyncio.gather(
                _stream(client, "fast", count, rate, sent), _stream(client, "slow", count, rate, {})
            )
        arrivals = await _arrivals(fast, count, settle_seconds)
        wall = time.perf_counter() - began
        cpu = (cpu_seconds(phase.notifier_pid), cpu_seconds(phase.broker_pid))
        slow_got = (await slow.report())["requests"]
    finally:
        await phase.close()
    latencies = []
    for webhook_id, at in arrivals.items():
        iid = webhook_id.split(":")[1]  # notification:<interaction id>:<reason>:<attempt>
        if iid in sent:
            latencies.append(at - sent[iid])
    return IsolationSample(
        name,
        count,
        rate,
        len(latencies),
        Quantiles.of(latencies),
        count,
        slow_got,
        100.0 * (cpu[0] - cpu0[0]) / wall,
        100.0 * (cpu[1] - cpu0[1]) / wall,
        run,
    )


async def _arrivals(fast: ReceiverProcess, count: int, timeout: float) -> dict[str, float]:
    """The fast receiver's arrivals, once it has ``count`` (or ``timeout`` passed)."""
    deadline = time.perf_counter() + timeout
    while True:
        arrivals: dict[str, float] = (await fast.report())["arrivals"]
        if len(arrivals) >= count or time.perf_counter() > deadline:
            return arrivals
        await asyncio.sleep(0.1)


async def measure(
    amqp_url: str,
    redis_url: str,
    log_dir: Path,
    broker_env: Mapping[str, str],
    *,
    count: int,
    rate: float,
    runs: int,
    timeout: str = "30s",
) -> list[IsolationSample]:
    """``runs`` x both phases, their order alternating per run."""
    fast = await ReceiverProcess.start(record=True)
    receivers = {
        ALONE: await ReceiverProcess.start(record=True),
        WITH_SLOW: await ReceiverProcess.start(hang=True, record=True),
    }
    samples: list[IsolationSample] = []
    try:
        routings = {
            name: routing_file(
                log_dir / f"isolation-routing-{i}.yaml", fast.url(), other.url(), timeout
            )
            for i, (name, other) in enumerate(receivers.items())
        }
        for run in range(runs):
            for name in (ALONE, WITH_SLOW) if run % 2 == 0 else (WITH_SLOW, ALONE):
                phase = Phase(amqp_url, redis_url, log_dir, routings[name], broker_env)
                samples.append(
                    await run_phase(
                        phase, fast, receivers[name], name=name, count=count, rate=rate, run=run
                    )
                )
    finally:
        for receiver in (fast, *receivers.values()):
            with contextlib.suppress(Exception):
                await receiver.stop()
    return samples
