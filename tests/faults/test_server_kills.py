"""The servers themselves killed with -9 under load: a RabbitMQ node of the test's own
(``RabbitNode``: never the shared one on 5672), and a Redis of the test's own with AOF and
``appendfsync always``. Each is started again at once from its data directory; the history of
the load must be clean: nothing confirmed lost, never two outcomes, none stuck.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import orjson
import pytest
from redis.asyncio import Redis

from tests.faults.history import History, assert_fault_hit
from tests.faults.load import Load, long_run, workload
from tests.faults.rabbit_node import RabbitNode
from tests.faults.test_broker_processes import LINGER_SECONDS, Brokers, counter_total, free_ports
from tests.faults.test_redis_data_loss import AOF_ALWAYS, PrivateRedis, integrity_record
from tests.servers import AMQP_URL

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class ServerKills:
    load: Load
    every: float
    kills: int


# The person's notifications come on a queue of the test's own, exclusive, which dies with the
# node: what was notified meanwhile is never answered, and times out (one outcome all the same).
RABBIT_SHORT = ServerKills(Load(300, in_flight=64, spread=10.0, timeout=20.0), every=4.0, kills=1)
RABBIT_LONG = ServerKills(Load(3000, in_flight=256, spread=60.0, timeout=30.0), every=15.0, kills=3)
REDIS_SHORT = ServerKills(Load(interactions=400, in_flight=128, spread=8.0), every=3.0, kills=1)
REDIS_LONG = ServerKills(Load(interactions=5000, in_flight=256, spread=60.0), every=15.0, kills=3)


class Restartable(Protocol):
    async def kill(self) -> None: ...

    async def start(self) -> None: ...


async def kill_on_schedule(
    server: Restartable, scale: ServerKills, kills: list[float], down: list[float]
) -> None:
    """``scale.kills`` times, ``scale.every`` seconds apart from now whatever a restart takes:
    kill -9 ``server`` and start it again; ``kills`` gets when, ``down`` how long each took."""
    began = time.monotonic()
    for k in range(scale.kills):
        await asyncio.sleep(max(0.0, began + (k + 1) * scale.every - time.monotonic()))
        killed_at = time.monotonic()
        kills.append(killed_at)
        await server.kill()
        await server.start()
        down.append(time.monotonic() - killed_at)


@pytest.fixture
async def rabbit_node(tmp_path: Path) -> AsyncIterator[RabbitNode]:
    node = RabbitNode(tmp_path / "rabbit")
    await node.start()
    try:
        yield node
    finally:
        await node.close()


@pytest.mark.timeout(600)
async def test_a_rabbitmq_node_killed_and_restarted_under_load_loses_nothing(
    rabbit_node: RabbitNode, namespace: str, redis: Redis, request: pytest.FixtureRequest
) -> None:
    """Broker, producer and person all on the node; the node is killed with -9 and started
    again from its data directory (quorum queues, persistent messages). Requests a publish
    confirm never came for are published again by the producer (same id)."""
    scale = RABBIT_LONG if long_run(request.config) else RABBIT_SHORT
    history = History()
    brokers = Brokers(namespace)
    metrics_port = free_ports(1)[0]
    down: list[float] = []
    kills: list[float] = []
    try:
        broker = await brokers.start(
            HITL_AMQP_URL=rabbit_node.url, HITL_METRICS_PORT=str(metrics_port)
        )
        async with workload(history, namespace, rabbit_node.url, scale.load) as work:
            producing = asyncio.create_task(work.run())
            await kill_on_schedule(rabbit_node, scale, kills, down)
            await producing
            await work.settled(timeout=180)
            await asyncio.sleep(LINGER_SECONDS)
            pending = await work.pending_in(redis, namespace)
            metrics = await brokers.metrics(broker)
    finally:
        await brokers.close()

    verdict = history.check(pending)
    recovery = max(history.first_outcome_after(at) or float("nan") for at in kills)
    reattached = broker.log.count("again after a reconnect")
    print(
        f"\nRabbitMQ node killed -9 {scale.kills}x under {scale.load.interactions} interactions "
        f"({scale.load.in_flight} in flight): {verdict.summary()}; node down "
        f"{max(down):.1f}s at most (restart until it took a connection), first outcome "
        f"{recovery:.1f}s after a kill at most; consumers "
        f"attached again {reattached}x; answers clicked again {work.answer_failures}; "
        f"handler failures {counter_total(metrics, 'hitl_handler_failures_total'):.0f}"
    )
    verdict.assert_clean()
    assert_fault_hit(
        unconfirmed=verdict.attempts_unconfirmed,
        reattached=reattached,
        raw_duplicates=verdict.raw_duplicates,
    )


@pytest.mark.timeout(600)
async def test_redis_with_aof_always_killed_under_load_loses_nothing(
    tmp_path: Path, namespace: str, request: pytest.FixtureRequest
) -> None:
    """Redis with ``appendonly yes``, ``appendfsync always`` is killed with -9 and started
    again from its AOF: nothing committed is lost (no DATA LOSS, no transition missing), the
    broker fences while it checks the log, and the load ends clean."""
    scale = REDIS_LONG if long_run(request.config) else REDIS_SHORT
    server = PrivateRedis(tmp_path, AOF_ALWAYS)
    await server.start()
    history = History()
    brokers = Brokers(namespace)
    metrics_port = free_ports(1)[0]
    down: list[float] = []
    kills: list[float] = []
    async with server.client() as redis:
        first_run = (await redis.info("server"))["run_id"]
    try:
        broker = await brokers.start(HITL_REDIS_URL=server.url, HITL_METRICS_PORT=str(metrics_port))
        async with workload(history, namespace, AMQP_URL, scale.load) as work:
            producing = asyncio.create_task(work.run())
            await kill_on_schedule(server, scale, kills, down)
            await producing
            await work.settled(timeout=180)
            await asyncio.sleep(LINGER_SECONDS)
            async with server.client() as redis:
                pending = await work.pending_in(redis, namespace)
                last_run = (await redis.info("server"))["run_id"]
            metrics = await brokers.metrics(broker)
            record = await integrity_record(server, namespace)
    finally:
        await brokers.close()
        async with server.client() as redis:  # the namespace's keys went with this server
            with contextlib.suppress(Exception):
                await redis.flushall()
        await server.close()

    verdict = history.check(pending)
    recovery = max(history.first_outcome_after(at) or float("nan") for at in kills)
    report = orjson.loads(record["report"])
    lost = counter_total(metrics, "hitl_store_data_loss_total", found="transitions")
    print(
        f"\nRedis (AOF, fsync always) killed -9 {scale.kills}x under {scale.load.interactions} "
        f"interactions ({scale.load.in_flight} in flight): {verdict.summary()}; down "
        f"{max(down):.2f}s at most, first outcome {recovery:.2f}s after a kill at most; "
        f"transitions lost {lost:.0f}; reconciliation "
        f"{report['counts']} in {report['seconds']:.2f}s; handler failures "
        f"{counter_total(metrics, 'hitl_handler_failures_total'):.0f}"
    )
    verdict.assert_clean()
    assert "DATA LOSS" not in broker.log and lost == 0
    assert report["complete"] and record["state"] == "ok"
    assert report["counts"]["state_lost"] == report["counts"]["second_outcome"] == 0
    # The broker met the restarted Redis (a new run_id), fenced and checked the log.
    assert last_run != first_run
    assert_fault_hit(reconciled_after_the_kill=report["run_id"] == last_run)
