"""Two brokers on one namespace, answers racing through both: the history, the read indexes
and the analytics counters still record each interaction exactly once, because they are
written by the same compare-and-set scripts as the state."""

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from hitl.broker.service import BrokerService
from hitl.core import analytics
from hitl.core.listing import Query
from hitl.runtime.stores import redis_store
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from hitl_contract import ReceiptResult
from tests.helpers import answer, eventually
from tests.servers import AMQP_URL

ASKED = 12
CLICKS = 6
TIMING_OUT = 6

pytestmark = pytest.mark.slow


@pytest.fixture
async def brokers(settings: Settings) -> AsyncIterator[list[BrokerService]]:
    started = [BrokerService(settings), BrokerService(settings)]
    for broker in started:
        await broker.start()
    yield started
    for broker in started:
        await broker.stop()


async def test_racing_answers_and_timers_are_recorded_once(
    brokers: list[BrokerService], client: HitlClient, settings: Settings, redis
) -> None:
    answered = [client.new_request("approval", thread_id=f"t-{n % 3}", prompt="race?",
                                   node_name="review") for n in range(ASKED)]  # fmt: skip
    timing_out = [
        client.new_request("approval", thread_id="slow", prompt="late?", timeout_seconds=0.5)
        for _ in range(TIMING_OUT)
    ]
    for request in answered + timing_out:
        await client.submit(request)
    store = redis_store(redis, settings)
    await eventually(lambda: _all_exist(store, answered + timing_out), timeout=20)

    async with Responder.connect(AMQP_URL, namespace=settings.namespace) as responder:
        receipts = await asyncio.gather(
            *(
                responder.respond(answer(r.id, "approve", who=f"p-{n}"), timeout=20)
                for r in answered
                for n in range(CLICKS)
            )
        )
    results = [r.result for r in receipts if r is not None]
    assert results.count(ReceiptResult.ACCEPTED) == ASKED
    assert results.count(ReceiptResult.ALREADY_RESOLVED) == ASKED * (CLICKS - 1)
    for request in timing_out:
        await client.wait(request.id, timeout=20)

    for request in answered:
        events = [h.event for h in await store.history(request.id)]
        assert events.count("responded") == 1 and events.count("resolved") == 1
        assert events.count("late") == CLICKS - 1
    for request in timing_out:
        events = [h.event for h in await store.history(request.id)]
        assert events == ["requested", "notified", "timed_out"]

    resolved = await store.query(Query(status="resolved", limit=200))
    assert sorted(str(s.request.id) for s in resolved.items) == sorted(str(r.id) for r in answered)
    timed_out = await store.query(Query(status="timed_out", thread_id="slow", limit=200))
    assert len(timed_out.items) == TIMING_OUT
    assert (await store.query(Query(status="pending"))).items == []

    now = time.time()
    groups = analytics.aggregate(
        await store.counters(analytics.hours(now - 3600, now + 1)), await store.pending_counts()
    )
    approval = groups["k"]["approval"]
    assert (approval.requested, approval.resolved, approval.timed_out, approval.pending) == (
        ASKED + TIMING_OUT,
        ASKED,
        TIMING_OUT,
        0,
    )
    assert groups["n"]["review"].resolved == ASKED
    assert sum(g.answers for g in groups["r"].values()) == ASKED


async def _all_exist(store, requests) -> bool:
    return all([await store.load(r.id) is not None for r in requests])
