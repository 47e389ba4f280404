"""The end-to-end core scenarios and the store's reads on a Redis Cluster (three primaries with
a replica each) and on a primary found through Sentinel (two replicas, three Sentinels), both
started by the tests on loopback ports of their own (``hitl_bench/clusters/redis_deployments.py``);
then a graceful failover of each, under a running broker, with nothing lost and no false alarm.

The scenarios are the ones of ``test_flow.py`` and ``test_store_reads.py``, imported, so they
run once more here with ``settings`` and ``redis`` pointing at each deployment. (Kill -9 of a
primary under load: ``tests/faults/test_redis_failover.py``.)
"""

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from hitl.adapters.redis.connection import LineCluster, RedisClient
from hitl.broker.service import BrokerService
from hitl.runtime.startup import connect_redis
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from hitl_bench.clusters.redis_deployments import (
    SENTINEL_MASTER,
    LocalCluster,
    LocalSentinels,
    available,
    until,
)
from hitl_contract import ReceiptResult
from tests.helpers import answer, eventually
from tests.integration.test_flow import (  # noqa: F401 (collected here again, per deployment)
    test_ask_answer_resume_with_lifecycle_events,
    test_fifty_concurrent_answers_give_exactly_one_outcome,
    test_producer_cancels_what_it_asked,
    test_timeout_delivers_the_on_timeout_outcome,
)
from tests.integration.test_store_reads import (  # noqa: F401
    TestRedisReads,
    test_trimming_forgets_finished_interactions_in_every_index,
)
from tests.servers import test_settings

pytestmark = pytest.mark.slow
CLUSTER_BASE = 7100  # 7101-7106
SENTINEL_BASE = 7110  # 7111-7113, Sentinels 7121-7123


def _skip_unless_available(*, cluster: bool = False) -> None:
    why = available(cluster=cluster)
    if why:
        pytest.skip(why)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalCluster]:
    _skip_unless_available(cluster=True)
    cluster = LocalCluster(CLUSTER_BASE)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_sentinels() -> Iterator[LocalSentinels]:
    _skip_unless_available()
    sentinels = LocalSentinels(SENTINEL_BASE)
    try:
        yield sentinels.start()
    finally:
        sentinels.stop()


@pytest.fixture(params=["cluster", "sentinel"])
def deployment(request: pytest.FixtureRequest) -> LocalCluster | LocalSentinels:
    name = {"cluster": "redis_cluster", "sentinel": "redis_sentinels"}[request.param]
    found: LocalCluster | LocalSentinels = request.getfixturevalue(name)
    return found


@pytest.fixture
def settings(namespace: str, deployment: LocalCluster | LocalSentinels) -> Settings:
    return test_settings(namespace, redis_url=deployment.url)


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[RedisClient]:
    client = await connect_redis(settings.redis_url, 3)
    yield client
    await client.aclose()


async def test_a_graceful_failover_under_a_broker_loses_nothing_and_raises_no_alarm(
    deployment: LocalCluster | LocalSentinels,
    broker: BrokerService,
    client: HitlClient,
    responder: Responder,
    redis: RedisClient,
) -> None:
    """Cluster: CLUSTER FAILOVER on the replica of the primary that serves the first request
    (the old primary then answers MOVED); Sentinel: SENTINEL FAILOVER (the old primary is
    demoted and answers READONLY). Requests asked before are answered after; the new primary
    is greeted and reconciled with nothing lost, and the store is unfenced again."""
    before = [client.new_request("approval", thread_id=f"f-{i}", prompt="ok?") for i in range(8)]
    asked = [asyncio.create_task(client.ask(r, timeout=60)) for r in before]
    store = broker.store
    assert store is not None
    await eventually(lambda: _all_stored(store, before), timeout=20)

    # The waits below run in a thread: the broker (in this process) goes on meanwhile.
    if isinstance(deployment, LocalCluster):
        assert isinstance(redis, LineCluster)
        key = store.keys.interaction(store.shard(before[0].id), before[0].id)
        new = deployment.replicas_of(deployment.primary_of(key))[0]
        with new.client() as direct:
            direct.execute_command("CLUSTER", "FAILOVER")
        await asyncio.to_thread(
            until, lambda: deployment.roles()[new.port][0] == "master", 20, lambda: "no failover"
        )
    else:
        with deployment.sentinels[0].client() as sentinel:
            sentinel.execute_command("SENTINEL", "FAILOVER", SENTINEL_MASTER)
        new = await asyncio.to_thread(deployment.promoted_after, deployment.primary())
    await asyncio.to_thread(until, deployment.healthy, 30, lambda: "it did not settle")

    receipts = [await responder.respond(answer(r.id, "approve"), timeout=30) for r in before]
    assert [r.result if r else None for r in receipts] == [ReceiptResult.ACCEPTED] * len(before)
    outcomes = await asyncio.gather(*asked)
    assert {(o.status, o.action) for o in outcomes} == {("resolved", "approve")}
    after = client.new_request("approval", thread_id="after", prompt="still there?")
    waiting = asyncio.create_task(client.ask(after, timeout=30))
    await eventually(lambda: _all_stored(store, [after]), timeout=20)
    await responder.respond(answer(after.id, "reject"), timeout=30)
    assert (await waiting).action == "reject"

    assert store.watch is not None and new.run_id() in (store.watch.run_id or "")
    registry = broker.metrics.registry
    lost = registry.get_sample_value("hitl_store_data_loss_total", {"what": "transitions"})
    assert not lost, f"a false alarm: {lost} transitions reported lost"
    await eventually(lambda: registry.get_sample_value("hitl_store_fenced") == 0, timeout=20)


async def _all_stored(store, requests) -> bool:  # type: ignore[no-untyped-def]
    return all([await store.load(r.id) is not None for r in requests])
