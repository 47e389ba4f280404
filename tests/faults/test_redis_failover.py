"""A Redis primary killed with -9 under load, on a Redis Cluster and behind Sentinel: the broker
(a real ``hitl broker`` process; behind Sentinel with ``HITL_REDIS_WAIT_REPLICAS=2``, every
replica) follows the replica that
takes over, nothing the producer had confirmed is lost, no interaction gets two different
outcomes, nothing stays pending, and the new primary is greeted (its shards fenced and
reconciled). What the integrity check reported lost is printed with the figures.

Deployments of the test's own (``hitl_bench/clusters/redis_deployments.py``), on ports apart from the
integration tests' ones. Plain ``pytest`` runs a short version; ``pytest -m faults`` a longer
one. Each run prints its figures (how long after the kill the broker decided again).
"""

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

import pytest
from aio_pika.abc import AbstractRobustConnection

from hitl.adapters.redis.keys import Keys
from hitl.runtime.startup import connect_redis
from hitl.sdk import HitlClient, Responder
from hitl_bench.clusters.redis_deployments import LocalCluster, LocalSentinels, available
from hitl_contract import Notification
from hitl_contract.wire import Names
from tests.faults.test_broker_processes import (
    SHARDS,
    Brokers,
    Handed,
    approvals,
    assert_handed_once,
    counter_total,
    eventually,
    free_ports,
    leftovers,
    stored,
    submit_all,
    tap,
)
from tests.helpers import answer
from tests.helpers import eventually as eventually_async
from tests.servers import AMQP_URL

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Scale:
    asked: int
    kill_after: int  # outcomes handed over before the kill
    wait: float


SHORT = Scale(asked=300, kill_after=100, wait=60)
LONG = Scale(asked=3000, kill_after=1000, wait=180)


@pytest.fixture
def scale(request: pytest.FixtureRequest) -> Scale:
    return LONG if "faults" in str(request.config.getoption("markexpr") or "") else SHORT


@pytest.fixture(params=["cluster", "sentinel"])
def deployment(request: pytest.FixtureRequest) -> Iterator[LocalCluster | LocalSentinels]:
    why = available(cluster=request.param == "cluster")
    if why:
        pytest.skip(why)
    made = LocalCluster(7130) if request.param == "cluster" else LocalSentinels(7150)
    try:
        yield made.start()
    finally:
        made.stop()


@pytest.mark.timeout(300)
async def test_a_primary_killed_under_load_loses_nothing_and_decides_once(
    deployment: LocalCluster | LocalSentinels,
    brokers: Brokers,
    namespace: str,
    amqp: AbstractRobustConnection,
    scale: Scale,
) -> None:
    names = Names(namespace)
    keys = Keys(namespace, SHARDS)
    [metrics_port] = free_ports(1)
    # Sentinel: WAIT for every replica; Cluster: none (with WAIT 1, one primary's WAIT stayed
    # at 0 replicas for a minute after the killed node had rejoined as its replica, in 2 runs
    # of 4: not understood yet). The loss the integrity check reports is printed, not
    # asserted: behind Sentinel it reported 2 or 3 committed transitions lost in some runs
    # even with WAIT (cause not found yet); what must hold is that it is repaired and never
    # decides anything twice.
    cluster = isinstance(deployment, LocalCluster)
    waited = "0" if cluster else "2"
    broker = await brokers.start(
        HITL_REDIS_URL=deployment.url,
        HITL_REDIS_WAIT_REPLICAS=waited,
        HITL_METRICS_PORT=str(metrics_port),
    )
    handed = Handed()
    answered: dict[UUID, UUID] = {}
    notified: dict[UUID, int] = defaultdict(int)
    async with (
        Responder.connect(AMQP_URL, namespace=namespace) as responder,
        HitlClient.connect(
            AMQP_URL, service="producer", namespace=namespace, on_outcome=handed
        ) as client,
    ):

        async def approve(body: bytes) -> None:
            note = Notification.model_validate_json(body)
            notified[note.interaction_id] += 1
            if note.interaction_id not in answered:
                response = answer(note.interaction_id, "approve", who="auto@example.com")
                answered[note.interaction_id] = response.response_id
                await responder.respond(response, timeout=None)

        async with (
            tap(amqp, namespace, names.outcomes, "producer") as raw,
            tap(amqp, namespace, names.notifications, "#", then=approve),
        ):
            requests = approvals(client, scale.asked)
            ids = [r.id for r in requests]
            load = asyncio.create_task(submit_all(client, requests))
            await eventually(
                lambda: len(handed.by_id) >= scale.kill_after,
                scale.wait,
                lambda: f"{len(handed.by_id)} outcomes before the kill",
            )
            if isinstance(deployment, LocalCluster):
                victim = deployment.primary_of(keys.sequence(0))
                replicas = deployment.kill_primary(victim)
            else:
                victim = deployment.primary()
                replicas = deployment.replicas()
                victim.kill()
            killed_at, at_kill = time.monotonic(), len(handed.by_id)
            # The replica that takes over has no replica of its own on a three-by-two
            # Cluster, so WAIT 1 holds its shards' writes until the killed node is back
            # (restarted, as an operator would): it rejoins as the new primary's replica.
            promoted = await asyncio.to_thread(deployment.promoted_after, victim, replicas)
            promoted_in = time.monotonic() - killed_at
            await asyncio.to_thread(victim.start)
            await eventually(
                lambda: len(handed.by_id) > at_kill + 20,
                scale.wait,
                lambda: f"{len(handed.by_id) - at_kill} outcomes since the kill",
            )
            resumed = time.monotonic() - killed_at
            await load
            await eventually(
                lambda: len(handed.by_id) == scale.asked,
                scale.wait,
                lambda: (
                    f"{len(handed.by_id)} of {scale.asked} handed, {len(answered)} answered; "
                    f"roles {_roles(deployment)}; the broker's warnings:\n"
                    + "\n".join(broker.problems()[-10:])
                ),
            )
            done = time.monotonic() - killed_at
            metrics = await brokers.metrics(broker)

    assert_handed_once(handed, ids)
    for iid, (outcome,) in handed.by_id.items():
        assert (outcome.status, outcome.response_id) == ("resolved", answered[iid])
    for iid, arrivals in raw.outcomes().items():
        first = arrivals[0][1]
        assert all(again == first for _, again in arrivals[1:]), f"{iid}: two outcomes"
    client_redis = await connect_redis(deployment.url, 3)
    try:
        states = await stored(client_redis, namespace, ids)
        assert {status for status, _ in states.values()} == {"resolved"}
        # Entries whose deletion died with the primary are published again by the relay
        # after their lease, then deleted; behind Sentinel with WAIT 2, only once the killed
        # node is back as a replica (a minute on a busy CI machine).
        left: dict[str, int] = {}

        async def nothing_left() -> bool:
            left.update(await leftovers(client_redis, namespace))
            return left == {"pending": 0, "outbox": 0}

        with contextlib.suppress(AssertionError):
            await eventually_async(nothing_left, timeout=90)
        assert left == {"pending": 0, "outbox": 0}
    finally:
        await client_redis.aclose()
    lost = counter_total(metrics, "hitl_store_data_loss_total")
    assert "Redis is a new process" in broker.log, "the new primary was never greeted"
    print(
        f"\n{type(deployment).__name__}: primary {victim.port} killed after {at_kill} of "
        f"{scale.asked} outcomes; {promoted.port} took over {promoted_in:.1f}s after the kill; "
        f"outcomes again {resumed:.1f}s after the kill, all {scale.asked} {done:.1f}s after; "
        f"{sum(len(a) for a in raw.outcomes().values()) - scale.asked} duplicate raw outcomes, "
        f"{sum(notified.values()) - scale.asked} duplicate notifications; WAIT {waited}, "
        f"{lost:g} committed transitions reported lost"
    )


def _roles(deployment: LocalCluster | LocalSentinels) -> object:
    try:
        if isinstance(deployment, LocalCluster):
            return deployment.roles()
        return {n.port: n.info("replication")["role"] for n in deployment.data}
    except Exception as exc:  # a diagnostic only
        return repr(exc)
