"""hitl on a real three-node RabbitMQ cluster (``hitl_bench/clusters/rabbit_cluster.py``): one node is
killed with -9 under load and restarted.

``hitl broker`` processes get the cluster as ``HITL_AMQP_URL`` (three URLs, node a first), as do
the producer (``HitlClient``) and a person approving each notification (``Responder``); all of
them are on node a, which also leads every quorum queue (declared there). Killing node a loses
every connection and every queue leader at once: the connections move to node b, the queues
elect a leader among b and c, the consumers attach again. Outcomes are recorded raw, on quorum
queues of our own (an exclusive tap would die with its node and miss what passes meanwhile),
and as the SDK hands them over.

Asserted: every confirmed request gets exactly one outcome handed over and none gets two
different ones raw; every interaction is resolved in the store, nothing pending or unpublished;
the brokers and the clients logged the node lost and the node taken over, and the brokers
count the reconnect (``hitl_amqp_reconnects_total``) with their consumers attached; the queues
are quorum queues with a replica on each node, again once the killed node is back.

Building the cluster takes ~30 s (once per module) and the short run ~2 minutes in all, too long
for the default run: plain ``pytest`` skips this module; ``pytest
tests/faults/test_rabbitmq_cluster.py`` runs 300 interactions with one broker, ``pytest -m
faults`` 3,000 with 256 in flight and two brokers. The figures of a run are in
docs/reliability.md.
"""

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from redis.asyncio import Redis

from hitl.adapters.amqp.topology import declare_queue
from hitl.cli.errors import Exit
from hitl.errors import TransportError
from hitl.runtime.startup import connect_amqp
from hitl.sdk import HitlClient, Responder
from hitl_bench.clusters.rabbit_cluster import RabbitCluster, available
from hitl_contract import InteractionOutcome, InteractionRequest, Notification
from hitl_contract.wire import Names
from tests.faults.test_broker_processes import (
    LINGER_SECONDS,
    BrokerProcess,
    Brokers,
    Handed,
    approvals,
    assert_handed_once,
    counter_total,
    eventually,
    free_ports,
    leftovers,
    stored,
)
from tests.helpers import answer

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Scale:
    interactions: int
    in_flight: int
    spread: float  # seconds the submissions are spread over, so the kill lands mid-load
    brokers: int
    grace: float  # seconds after the restart for everything to be answered


SHORT = Scale(interactions=300, in_flight=64, spread=12.0, brokers=1, grace=60.0)
LONG = Scale(interactions=3000, in_flight=256, spread=60.0, brokers=2, grace=180.0)


def long_run(config: pytest.Config) -> bool:
    return "faults" in str(config.getoption("markexpr") or "")


def scale_for(config: pytest.Config) -> Scale:
    return LONG if long_run(config) else SHORT


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest) -> Iterator[RabbitCluster]:
    named = any(Path(__file__).name in str(arg) for arg in request.config.args)
    if not (named or long_run(request.config)):
        pytest.skip(
            "builds a three-node RabbitMQ cluster (~2 minutes with the short load): "
            "pytest tests/faults/test_rabbitmq_cluster.py for the short run, "
            "pytest -m faults for the long one"
        )
    why = available()
    if why:
        pytest.skip(why)
    built = RabbitCluster.create()
    try:
        built.start()
        yield built
    finally:
        built.stop()


@pytest.fixture
async def brokers(namespace: str) -> AsyncIterator[Brokers]:
    processes = Brokers(namespace)
    try:
        yield processes
    finally:
        await processes.close()


@dataclass
class Taken:
    arrivals: list[tuple[float, bytes]] = field(default_factory=list)

    def outcomes(self) -> dict[UUID, list[tuple[float, InteractionOutcome]]]:
        by_id: dict[UUID, list[tuple[float, InteractionOutcome]]] = {}
        for at, body in self.arrivals:
            outcome = InteractionOutcome.model_validate_json(body)
            by_id.setdefault(outcome.interaction_id, []).append((at, outcome))
        return by_id


@contextlib.asynccontextmanager
async def durable_tap(
    amqp: AbstractRobustConnection,
    name: str,
    exchange: str,
    binding: str,
    then: Callable[[bytes], Awaitable[None]] | None = None,
) -> AsyncIterator[Taken]:
    """What is published to ``exchange`` under ``binding``, on a quorum queue of our own
    (replicated, acked after ``then``): it keeps what arrives while its node is down."""
    channel = await amqp.channel()
    queue = await declare_queue(channel, name, {"x-queue-type": "quorum"})
    await queue.bind(exchange, binding)
    taken = Taken()

    async def on_message(message: AbstractIncomingMessage) -> None:
        async with message.process(requeue=True):
            taken.arrivals.append((time.monotonic(), message.body))
            if then is not None:
                await then(message.body)

    await queue.consume(on_message)
    try:
        yield taken
    finally:
        with contextlib.suppress(Exception):
            await queue.delete(if_unused=False, if_empty=False)
        await channel.close()


@dataclass
class Producer:
    """Asks approvals with at most ``in_flight`` of them unanswered, each submit tried again
    (same request) until RabbitMQ confirms it."""

    client: HitlClient
    handed: Handed
    in_flight: int
    spread: float
    confirmed: set[UUID] = field(default_factory=set)
    unconfirmed: int = 0  # submits that failed after the SDK's own republishing
    _slots: asyncio.Semaphore | None = None
    _holding: set[UUID] = field(default_factory=set)

    async def on_outcome(self, outcome: InteractionOutcome) -> None:
        await self.handed(outcome)
        if outcome.interaction_id in self._holding and self._slots is not None:
            self._holding.discard(outcome.interaction_id)
            self._slots.release()

    async def ask_all(self, requests: list[InteractionRequest]) -> None:
        self._slots = asyncio.Semaphore(self.in_flight)
        tasks: set[asyncio.Task[None]] = set()
        start, interval = time.monotonic(), self.spread / len(requests)
        for i, request in enumerate(requests):
            await asyncio.sleep(max(0.0, start + i * interval - time.monotonic()))
            await self._slots.acquire()
            self._holding.add(request.id)
            task = asyncio.create_task(self._submit(request))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)

    async def _submit(self, request: InteractionRequest) -> None:
        for _ in range(20):
            try:
                await self.client.submit(request)
            except TransportError:
                self.unconfirmed += 1
                await asyncio.sleep(0.5)
            else:
                self.confirmed.add(request.id)
                return
        pytest.fail(f"{request.id} never confirmed")


def reconnect_seconds(log: str) -> list[float]:
    """The ``reconnected to RabbitMQ node ... N.Ns after losing ...`` figures of a log."""
    return [float(s) for s in re.findall(r"reconnected to RabbitMQ node \S+ ([\d.]+)s", log)]


@pytest.mark.timeout(600)
async def test_node_killed_under_load_loses_nothing_and_consumers_move(
    cluster: RabbitCluster,
    brokers: Brokers,
    namespace: str,
    redis: Redis,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scale = scale_for(request.config)
    names = Names(namespace)
    victim, survivor = cluster.nodes[0], cluster.nodes[1]
    ports = free_ports(scale.brokers)
    replicas = [
        await brokers.start(HITL_AMQP_URL=cluster.urls, HITL_METRICS_PORT=str(port))
        for port in ports
    ]
    handed = Handed()
    answered: dict[UUID, UUID] = {}
    notified: set[UUID] = set()
    amqp = await connect_amqp(cluster.urls, 5, name="test taps")
    try:
        async with (
            Responder.connect(cluster.urls, namespace=namespace) as responder,
            HitlClient.connect(
                cluster.urls,
                service="producer",
                namespace=namespace,
                on_outcome=lambda o: producer.on_outcome(o),
            ) as client,
        ):
            producer = Producer(client, handed, scale.in_flight, scale.spread)

            async def approve(body: bytes) -> None:  # a person who approves at once
                note = Notification.model_validate_json(body)
                notified.add(note.interaction_id)
                if note.interaction_id in answered:
                    return
                response = answer(note.interaction_id, "approve", who="auto@example.com")
                answered[note.interaction_id] = response.response_id
                try:
                    for _ in range(100):  # RabbitMQ may be moving: the person clicks again
                        try:
                            await responder.respond(response, timeout=None)
                            return
                        except TransportError:
                            await asyncio.sleep(0.2)
                except BaseException:
                    del answered[note.interaction_id]  # not answered: the redelivery will
                    raise
                del answered[note.interaction_id]
                pytest.fail(f"could not answer {note.interaction_id}")

            def missing() -> str:
                gone = [iid for iid in ids if iid not in handed.by_id][:5]
                raw_ids = raw.outcomes()
                return "; ".join(
                    f"{iid}: notified {iid in notified}, answered {iid in answered}, "
                    f"raw outcome {iid in raw_ids}"
                    for iid in gone
                )

            async with (
                durable_tap(amqp, f"{namespace}.test.outcomes", names.outcomes, "producer") as raw,
                durable_tap(
                    amqp, f"{namespace}.test.notes", names.notifications, "#", then=approve
                ),
            ):
                queues = await cluster.queues(via=survivor)
                for queue in (names.requests_queue, names.responses_queue):
                    assert queues[queue]["type"] == "quorum"
                    assert sorted(queues[queue]["members"]) == [n.name for n in cluster.nodes]
                    assert queues[queue]["leader"] == victim.name

                requests = approvals(client, scale.interactions)
                ids = [r.id for r in requests]
                asking = asyncio.create_task(producer.ask_all(requests))
                await eventually(
                    lambda: len(handed.by_id) >= scale.interactions // 4,
                    120,
                    lambda: f"{len(handed.by_id)} outcomes before the kill",
                )
                pid = await cluster.beam_pid(victim)
                at_kill = len(handed.by_id)
                killed_at = await cluster.kill(victim, pid)
                await eventually(
                    lambda: len(handed.by_id) >= at_kill + 20,
                    60,
                    lambda: (
                        f"{len(handed.by_id) - at_kill} outcomes since the kill; the "
                        f"brokers' logs:\n" + "\n".join(b.log[-4000:] for b in replicas)
                    ),
                )
                flowing_after = time.monotonic() - killed_at
                await cluster.restart(victim)
                restarted_after = time.monotonic() - killed_at
                await asyncio.wait_for(asking, scale.grace)
                await eventually(
                    lambda: len(handed.by_id) == len(ids),
                    scale.grace,
                    lambda: (
                        f"{len(handed.by_id)} of {len(ids)} handed after the restart; "
                        f"missing: {missing()}"
                    ),
                )
                settled_after = time.monotonic() - killed_at
                await asyncio.sleep(LINGER_SECONDS)  # a duplicate would come from the relay
                metrics = [await brokers.metrics(broker) for broker in replicas]
                queues = await cluster.queues(via=victim)
    finally:
        await amqp.close()

    assert producer.confirmed == set(ids)
    duplicates = await assert_nothing_lost(
        producer, handed, answered, raw, killed_at, redis, namespace
    )
    assert_everyone_moved(cluster, replicas, metrics, caplog, queues, names)

    reconnects = [s for broker in replicas for s in reconnect_seconds(broker.log)]
    print(
        f"\nRabbitMQ node kill -9 under {len(ids)} interactions ({scale.in_flight} in flight, "
        f"{scale.brokers} broker(s)), killed after {at_kill} outcomes: 0 lost, 0 with two "
        f"outcomes; {duplicates} duplicate raw outcome deliveries, 0 after the SDK's dedup; "
        f"{producer.unconfirmed} submits reported unconfirmed and sent again; brokers "
        f"reconnected in {', '.join(f'{s:.1f}s' for s in reconnects)}; outcomes flowing again "
        f"{flowing_after:.1f}s after the kill; node back {restarted_after:.1f}s after; all "
        f"settled {settled_after:.1f}s after"
    )


async def assert_nothing_lost(
    producer: Producer,
    handed: Handed,
    answered: dict[UUID, UUID],
    raw: Taken,
    killed_at: float,
    redis: Redis,
    namespace: str,
) -> int:
    """Nothing confirmed was lost, nothing decided twice; the raw duplicates counted."""
    ids = list(producer.confirmed)
    assert_handed_once(handed, ids)
    for iid, (outcome,) in handed.by_id.items():
        assert (outcome.status, outcome.action, outcome.response_id) == (
            "resolved",
            "approve",
            answered[iid],
        )
    deliveries = raw.outcomes()
    assert set(deliveries) == set(ids), f"{len(set(ids) - set(deliveries))} ids got no outcome"
    duplicates = early = 0
    for iid, arrivals in deliveries.items():
        first = arrivals[0][1]
        for at, again in arrivals[1:]:
            duplicates += 1
            early += at < killed_at  # the relay's republish of a slow confirm (1 s lease)
            assert again == first, f"{iid}: a second, different outcome {again} after {first}"
    print(f"\n{duplicates} identical raw duplicates, {early} of them before the kill")
    states = await stored(redis, namespace, ids)
    assert {status for status, _ in states.values()} == {"resolved"}
    assert await leftovers(redis, namespace) == {"pending": 0, "outbox": 0}
    return duplicates


def assert_everyone_moved(
    cluster: RabbitCluster,
    replicas: list[BrokerProcess],
    metrics: list[str],
    caplog: pytest.LogCaptureFixture,
    queues: dict[str, dict[str, Any]],
    names: Names,
) -> None:
    """The fault hit, and everyone moved: each broker lost node a, took over another node,
    counted it and has its consumers attached; so did the producer, the person and the taps.
    The killed node is back in every replica set."""
    victim = cluster.nodes[0]
    lost = victim.url().replace(":guest@", ":***@")
    for broker in replicas:
        assert f"lost RabbitMQ node {lost}" in broker.log, broker.log[-3000:]
        assert reconnect_seconds(broker.log), broker.log[-3000:]
    for text in metrics:
        assert counter_total(text, "hitl_amqp_reconnects_total") >= 1
        assert f'hitl_consumer_attached{{queue="{names.requests_queue}",role="broker"}} 1.0' in text
    ours = [r.getMessage() for r in caplog.records if r.name == "hitl.adapters.amqp.connection"]
    assert sum("reconnected to RabbitMQ node" in m for m in ours) >= 3, ours
    # The killed node is back in every replica set.
    for queue in (names.requests_queue, names.responses_queue):
        assert sorted(queues[queue]["members"]) == [n.name for n in cluster.nodes]


@pytest.mark.timeout(60)
async def test_a_node_that_refuses_the_login_fails_the_start_naming_the_setting(
    cluster: RabbitCluster, brokers: Brokers
) -> None:
    good, bad = cluster.nodes[0], cluster.nodes[1]
    broker = await brokers.start(
        wait_ready=False,
        HITL_AMQP_URL=f"{good.url()},{bad.url(password='s3cret')}",
        HITL_STARTUP_ATTEMPTS="2",
    )
    code = await brokers.exit_code(broker, timeout=30)

    assert code == Exit.FAILED, broker.log  # a refused login, as with one URL
    assert "HITL_AMQP_URL" in broker.log
    assert f"has a node ({bad.url(password='***')}) that refused the login" in broker.log
    assert "s3cret" not in broker.log
