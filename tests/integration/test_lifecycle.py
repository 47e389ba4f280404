"""Reminders, escalation, auto-approve rules and early answers, against the real servers."""

import asyncio
import time
import uuid
from collections import Counter

import orjson

from hitl.broker.answers import pack_held
from hitl.broker.inbound import ReplyTarget
from hitl.broker.service import BrokerService
from hitl.core.machine import open_interaction
from hitl.ports import Envelope
from hitl.sdk import HitlClient, Responder
from hitl_contract import Notification, ReceiptResult
from hitl_contract.wire import encode_model
from tests.helpers import answer, eventually
from tests.servers import test_settings


async def test_reminders_and_escalation_fire_once_each_with_two_brokers(
    namespace: str, client: HitlClient, capture
) -> None:
    brokers = [BrokerService(test_settings(namespace)) for _ in range(2)]
    for b in brokers:
        await b.start()
    try:
        async with capture(brokers[0].names.notifications) as notes:
            requests = [
                client.new_request(
                    "approval",
                    thread_id="t",
                    prompt=f"#{n}",
                    timeout_seconds=1.5,
                    reminder_every_seconds=0.3,
                    max_reminders=2,
                    escalation=[{"after_seconds": 0.5, "route": "managers"}],
                )
                for n in range(20)
            ]
            outcomes = await asyncio.gather(*(client.ask(r, timeout=20) for r in requests))
            await asyncio.sleep(0.3)  # anything fired twice would have arrived by now
        assert {o.status for o in outcomes} == {"timed_out"}
        seen = Counter(
            (
                Notification.model_validate_json(m.body).interaction_id,
                Notification.model_validate_json(m.body).reason,
                m.routing_key,
            )
            for m in notes.messages
        )
        for r in requests:
            assert seen[(r.id, "requested", "default.approval")] == 1
            assert seen[(r.id, "reminder", "default.approval")] == 2
            assert seen[(r.id, "escalation", "managers.approval")] == 1
        assert len(notes.messages) == 4 * len(requests)
        attempts = sorted(
            Notification.model_validate_json(m.body).attempt
            for m in notes.messages
            if Notification.model_validate_json(m.body).interaction_id == requests[0].id
        )
        assert attempts == [1, 2, 3, 4]
    finally:
        for b in brokers:
            await b.stop()


async def test_answering_stops_reminders(
    broker: BrokerService, client: HitlClient, responder: Responder, capture
) -> None:
    async with capture(broker.names.notifications) as notes:
        request = client.new_request(
            "approval", thread_id="t", prompt="ok?", reminder_every_seconds=0.2
        )
        asked = asyncio.create_task(client.ask(request, timeout=10))
        await notes.wait_for(lambda m: len(m) >= 2)  # the first and one reminder
        await responder.respond(answer(request.id, "approve"))
        await asked
        count = len(notes.messages)
        await asyncio.sleep(0.6)
        assert len(notes.messages) == count


async def test_auto_approve_rule_answers_low_risk_and_asks_people_otherwise(
    namespace: str, client: HitlClient, capture
) -> None:
    settings = test_settings(
        namespace,
        auto_approve=[
            {"name": "low-risk", "kinds": ["approval"], "risk_field": "risk_score", "max_risk": 0.5}
        ],
    )
    broker = BrokerService(settings)
    await broker.start()
    try:
        async with capture(broker.names.notifications) as notes:
            low = client.new_request(
                "approval", thread_id="t", prompt="small", context={"risk_score": 0.2}
            )
            outcome = await client.ask(low, timeout=10)
            assert (outcome.status, outcome.action) == ("resolved", "approve")
            assert outcome.decided_by.model_dump(exclude_none=True) == {
                "type": "policy",
                "policy": "low-risk",
            }
            high = client.new_request(
                "approval", thread_id="t", prompt="big", context={"risk_score": 0.9}
            )
            await client.submit(high)
            await notes.wait_for(lambda m: len(m) == 1)
            assert (
                Notification.model_validate_json(notes.messages[0].body).interaction_id == high.id
            )
        assert (
            broker.metrics.registry.get_sample_value(
                "hitl_auto_resolved_total", {"kind": "approval", "policy": "low-risk"}
            )
            == 1
        )
    finally:
        await broker.stop()


async def test_an_answer_that_overtakes_its_request_is_applied_when_it_arrives(
    broker: BrokerService, client: HitlClient, responder: Responder
) -> None:
    request = client.new_request("approval", thread_id="t", prompt="fast clicker")
    receipt = await responder.respond(answer(request.id, "approve", {"reason": "early"}))
    assert receipt is not None and receipt.result == ReceiptResult.HELD
    outcome = await client.ask(request, timeout=10)
    assert (outcome.action, outcome.data) == ("approve", {"reason": "early"})
    assert (
        broker.metrics.registry.get_sample_value("hitl_early_answers_total", {"result": "applied"})
        == 1
    )


async def test_a_late_answer_gets_already_resolved_with_the_recorded_outcome(
    broker: BrokerService, client: HitlClient, responder: Responder
) -> None:
    request = client.new_request("choice", thread_id="t", prompt="pick", options=["a", "b"])
    asked = asyncio.create_task(client.ask(request, timeout=10))
    await eventually(
        lambda: (
            broker.metrics.registry.get_sample_value("hitl_requests_total", {"kind": "choice"}) == 1
        )
    )
    first = await responder.respond(answer(request.id, "choose", {"choice": 1}, who="ana"))
    late = await responder.respond(answer(request.id, "choose", {"choice": 2}, who="ben"))
    assert first is not None and first.result == ReceiptResult.ACCEPTED
    assert late is not None and late.result == ReceiptResult.ALREADY_RESOLVED
    assert late.outcome == await asked
    assert orjson.loads(late.model_dump_json())["outcome"]["data"]["value"] == "a"
    assert uuid.UUID(str(late.interaction_id)) == request.id


async def test_held_answers_survive_a_crash_before_they_are_applied(
    broker: BrokerService, client: HitlClient
) -> None:
    store = broker.store
    assert store is not None
    request = client.new_request("approval", thread_id="t", prompt="crash window")
    response = answer(request.id, "approve", {"reason": "held, then crash"})
    envelope = Envelope(
        broker.names.responses,
        str(request.id),
        encode_model(response),
        "hitl.response",
        str(response.response_id),
    )
    assert await store.hold_early(
        request.id, pack_held(envelope, ReplyTarget(None, None)), 30, time.time()
    )
    # The request is created and hands back the held answer, then the broker "dies":
    created = await store.create(open_interaction(request, time.time(), "default"), [])
    assert len(created.early_answers) == 1
    outcome = await client.wait(request.id, timeout=15)  # the poller applies it after the lease
    assert (outcome.action, outcome.data) == ("approve", {"reason": "held, then crash"})

    async def dropped() -> bool:  # the poller drops them once applied, just after the outcome
        return await store.peek_early(request.id) == (True, [])

    await eventually(dropped)


async def test_votes_spread_over_two_brokers_all_count(
    namespace: str, client: HitlClient, responder: Responder
) -> None:
    """Each broker caches the states it commits; votes landing on the other one make that cache
    stale, which the compare-and-set must catch so that no vote is lost."""
    brokers = [BrokerService(test_settings(namespace)) for _ in range(2)]
    for b in brokers:
        await b.start()
    try:
        people = [f"p{n}" for n in range(9)]
        requests = [
            client.new_request(
                "approval",
                thread_id="t",
                prompt=f"#{n}",
                responders=people,
                decision={"policy": "quorum", "quorum": 9},
            )
            for n in range(10)
        ]
        asked = [asyncio.create_task(client.ask(r, timeout=30)) for r in requests]
        store = brokers[0].store
        assert store is not None
        for r in requests:
            await eventually(lambda r=r: store.load(r.id))
        receipts = await asyncio.gather(
            *(
                responder.respond(answer(r.id, "approve", who=who), timeout=20)
                for who in people
                for r in requests
            )
        )
        outcomes = await asyncio.gather(*asked)
        assert {o.action for o in outcomes} == {"approve"}
        assert all(sorted(v.responder.id for v in o.votes) == people for o in outcomes)
        results = [r.result for r in receipts if r is not None]
        assert results.count(ReceiptResult.ACCEPTED) == len(requests)
        assert results.count(ReceiptResult.RECORDED) == len(requests) * (len(people) - 1)
        assert all(
            b.metrics.registry.get_sample_value("hitl_votes_total", {"kind": "approval"})
            for b in brokers
        ), "both brokers should have recorded votes"
    finally:
        for b in brokers:
            await b.stop()
