"""Request -> pending -> answer -> outcome, through the SDK, against the real servers."""

import asyncio
import uuid

import orjson
import pytest
from aio_pika.abc import AbstractRobustConnection
from redis.asyncio import Redis

from hitl.broker.service import BrokerService
from hitl.errors import AskTimeout
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from hitl_contract import InteractionOutcome, OutcomeStatus, ReceiptResult
from tests.helpers import (
    answer,
    dead_letters,
    eventually,
    json_of,
    lifecycle_events,
    publish_raw,
    raw_request,
)
from tests.servers import AMQP_URL


async def test_ask_answer_resume_with_lifecycle_events(
    broker: BrokerService, client: HitlClient, responder: Responder, capture, settings
) -> None:
    names = broker.names
    async with capture(names.events) as events, capture(names.notifications) as notes:
        request = client.new_request(
            "approval",
            thread_id="run-1",
            prompt="Approve 50k?",
            context={"amount": 50000},
            resume_state={"cursor": 41},
        )
        asked = asyncio.create_task(client.ask(request, timeout=10))
        await notes.wait_for(lambda m: len(m) == 1)
        note = json_of(notes.messages[0])
        assert (
            note["interaction_id"] == str(request.id)
            and note["request"]["prompt"] == "Approve 50k?"
        )
        assert notes.messages[0].routing_key == "default.approval"
        receipt = await responder.respond(answer(request.id, "approve", {"reason": "ok"}))
        assert receipt is not None and receipt.result == ReceiptResult.ACCEPTED
        outcome = await asked
        assert (outcome.status, outcome.action, outcome.data) == (
            "resolved",
            "approve",
            {"reason": "ok"},
        )
        assert outcome.resume_state == {"cursor": 41} and outcome.thread_id == "run-1"
        await events.wait_for(lambda m: len(lifecycle_events(m)) == 4)
        seen = lifecycle_events(events.messages)
        assert [e.event for e in seen] == ["requested", "notified", "responded", "resolved"]
        assert [e.event_id for e in seen] == [
            f"{request.id}:1:requested",
            f"{request.id}:1:notified",
            f"{request.id}:2:responded",
            f"{request.id}:2:resolved",
        ]
        assert {m.routing_key for m in events.messages} == {
            f"{e}.approval" for e in ("requested", "notified", "responded", "resolved")
        }


async def test_duplicate_request_changes_nothing(
    broker: BrokerService, client: HitlClient, responder: Responder, capture
) -> None:
    async with capture(broker.names.notifications) as notes:
        request = client.new_request("approval", thread_id="t", prompt="once?")
        await client.submit(request)
        await client.submit(request)  # e.g. a producer retry after a lost confirm
        await eventually(
            lambda: (
                broker.metrics.registry.get_sample_value(
                    "hitl_duplicate_messages_total", {"stage": "request"}
                )
                == 1
            )
        )
        assert len(notes.messages) == 1
    await responder.respond(answer(request.id, "approve"))
    outcome = await client.wait(request.id, timeout=10)
    assert outcome.action == "approve"


async def test_reused_id_with_other_content_is_dead_lettered(
    broker: BrokerService, client: HitlClient, amqp: AbstractRobustConnection, settings: Settings
) -> None:
    request = client.new_request("approval", thread_id="t", prompt="first")
    await client.submit(request)
    await client.submit(request.model_copy(update={"prompt": "second"}))
    [dead] = await dead_letters(amqp, settings.namespace, 1)
    assert dead.headers["x-hitl-error-code"] == "id_conflict"
    assert orjson.loads(dead.body)["prompt"] == "second"


async def test_fifty_concurrent_answers_give_exactly_one_outcome(
    broker: BrokerService, client: HitlClient, capture, settings: Settings, redis: "Redis"
) -> None:
    async with capture(broker.names.outcomes, "producer") as outcomes:
        request = client.new_request("approval", thread_id="t", prompt="race?")
        asked = asyncio.create_task(client.ask(request, timeout=20))
        await eventually(
            lambda: (
                broker.metrics.registry.get_sample_value(
                    "hitl_requests_total", {"kind": "approval"}
                )
                == 1
            )
        )
        responders = [Responder.connect(AMQP_URL, namespace=settings.namespace) for _ in range(5)]
        opened = [await r.__aenter__() for r in responders]
        try:
            receipts = await asyncio.gather(
                *(
                    opened[n % 5].respond(
                        answer(request.id, "approve" if n % 2 else "reject", who=f"person-{n}"),
                        timeout=15,
                    )
                    for n in range(50)
                )
            )
        finally:
            for r in responders:
                await r.__aexit__(None, None, None)
        outcome = await asked
        results = [r.result for r in receipts if r is not None]
        assert results.count(ReceiptResult.ACCEPTED) == 1
        assert results.count(ReceiptResult.ALREADY_RESOLVED) == 49
        assert all(r.outcome == outcome for r in receipts if r is not None)
        await asyncio.sleep(0.3)  # anything extra would have arrived by now
        assert len(outcomes.messages) == 1
    assert broker.store is not None
    state = await broker.store.load(request.id)
    assert state is not None and state.status == "resolved" and state.outcome == outcome


async def test_unknown_interaction_gets_an_error_event_and_dead_letter(
    broker: BrokerService, responder: Responder, capture, amqp, settings
) -> None:
    async with capture(broker.names.events, "rejected.#") as events:
        ghost = uuid.uuid4()
        receipt = await responder.respond(answer(ghost, "approve"))
        # It might be an answer that overtook its request: held first (0.5 s in tests) ...
        assert receipt is not None and receipt.result == ReceiptResult.HELD
        # ... then, as no request came, reported and parked.
        await events.wait_for(lambda m: len(m) == 1)
        [event] = lifecycle_events(events.messages)
        assert event.error is not None and event.error.code == "unknown_interaction"
        assert event.interaction_id == ghost
    [dead] = await dead_letters(amqp, settings.namespace, 1)
    assert dead.headers["x-hitl-error-code"] == "unknown_interaction"


async def test_invalid_answer_is_refused_and_the_interaction_stays_pending(
    broker: BrokerService, client: HitlClient, responder: Responder
) -> None:
    request = client.new_request(
        "choice", thread_id="t", prompt="where?", options=["prod", "staging"]
    )
    asked = asyncio.create_task(client.ask(request, timeout=10))
    await eventually(
        lambda: (
            broker.metrics.registry.get_sample_value("hitl_requests_total", {"kind": "choice"}) == 1
        )
    )
    refused = await responder.respond(answer(request.id, "choose", {"choice": 7}))
    assert refused is not None and refused.result == ReceiptResult.REJECTED
    assert refused.error is not None
    assert (refused.error.path, refused.error.got) == ("data.choice", 7)
    assert refused.error.allowed == ["1: prod", "2: staging"]
    accepted = await responder.respond(answer(request.id, "choose", {"choice": "staging"}))
    assert accepted is not None and accepted.result == ReceiptResult.ACCEPTED
    assert (await asked).data == {"choice": 2, "value": "staging"}


async def test_producer_cancels_what_it_asked(broker: BrokerService, client: HitlClient) -> None:
    request = client.new_request("approval", thread_id="t", prompt="still needed?")
    asked = asyncio.create_task(client.ask(request, timeout=10))
    await eventually(
        lambda: (
            broker.metrics.registry.get_sample_value("hitl_requests_total", {"kind": "approval"})
            == 1
        )
    )
    await client.cancel(request.id, reason="superseded")
    outcome = await asked
    assert outcome.status == OutcomeStatus.CANCELLED
    assert outcome.decided_by.type == "requester" and outcome.data == {"reason": "superseded"}


async def test_timeout_delivers_the_on_timeout_outcome(
    broker: BrokerService, client: HitlClient
) -> None:
    request = client.new_request(
        "approval",
        thread_id="t",
        prompt="quick!",
        timeout_seconds=0.3,
        on_timeout={"action": "reject", "data": {"reason": "no answer"}},
    )
    outcome = await client.ask(request, timeout=10)
    assert (outcome.status, outcome.action, outcome.data) == (
        "timed_out",
        "reject",
        {"reason": "no answer"},
    )
    assert outcome.decided_by.type == "timeout"


async def test_restarted_producer_gets_earlier_outcomes(
    broker: BrokerService, responder: Responder, settings: Settings
) -> None:
    async with HitlClient.connect(
        AMQP_URL, service="restarted", namespace=settings.namespace
    ) as first:
        by_handler = first.new_request("approval", thread_id="t", prompt="one")
        by_wait = first.new_request("approval", thread_id="t", prompt="two")
        await first.submit(by_handler)
        await first.submit(by_wait)
    # The producer is gone; people answer meanwhile.
    await eventually(
        lambda: (
            broker.metrics.registry.get_sample_value("hitl_requests_total", {"kind": "approval"})
            == 2
        )
    )
    await responder.respond(answer(by_handler.id, "approve"))
    await responder.respond(answer(by_wait.id, "reject"))
    handled: list[InteractionOutcome] = []

    async def on_outcome(outcome: InteractionOutcome) -> None:
        if outcome.interaction_id == by_wait.id:
            raise AssertionError("wait() should have claimed this one")
        handled.append(outcome)

    async with HitlClient.connect(
        AMQP_URL, service="restarted", namespace=settings.namespace, on_outcome=None
    ) as second:
        waited = await second.wait(by_wait.id, timeout=10)
        assert waited.action == "reject"
        second._on_outcome = on_outcome  # a handler registered after wait() took its outcome
    async with HitlClient.connect(
        AMQP_URL, service="restarted", namespace=settings.namespace, on_outcome=on_outcome
    ):
        await eventually(lambda: len(handled) == 1)
    assert handled[0].interaction_id == by_handler.id and handled[0].action == "approve"


async def test_outcome_nobody_can_receive_is_dead_lettered(
    broker: BrokerService, responder: Responder, amqp, settings
) -> None:
    body = raw_request(reply_to="nobody-listens")
    await publish_raw(amqp, broker.names.requests, orjson.dumps(body), "approval")
    await eventually(
        lambda: (
            broker.metrics.registry.get_sample_value("hitl_requests_total", {"kind": "approval"})
            == 1
        )
    )
    await responder.respond(answer(uuid.UUID(body["id"]), "approve"))
    [dead] = await dead_letters(amqp, settings.namespace, 1)
    assert dead.headers["x-hitl-error-code"] == "unroutable"
    assert dead.headers["x-original-routing-key"] == "nobody-listens"
    assert json_of(dead)["interaction_id"] == body["id"]


def requests_taken(broker: BrokerService, kind: str) -> float | None:
    """How many requests of ``kind`` the broker has taken in (its metric)."""
    return broker.metrics.registry.get_sample_value("hitl_requests_total", {"kind": kind})


async def test_a_conversation_goes_on_turn_by_turn(
    broker: BrokerService, client: HitlClient, responder: Responder
) -> None:
    first = client.new_request("conversation", thread_id="consult", prompt="Monolith or services?")
    asked = asyncio.create_task(client.ask(first, timeout=10))
    await eventually(lambda: requests_taken(broker, "conversation") == 1)
    await responder.respond(answer(first.id, "respond", {"message": "Services, three of them."}))
    turn = await asked
    assert turn.data["continue"] is True
    second = client.next_turn(turn, "Which three?")
    asked = asyncio.create_task(client.ask(second, timeout=10))
    await eventually(lambda: requests_taken(broker, "conversation") == 2)
    await responder.respond(answer(second.id, "end", {"message": "Users, catalog, orders."}))
    last = await asked
    assert last.data["continue"] is False
    assert [(t["role"], t["text"]) for t in last.data["transcript"]] == [
        ("agent", "Monolith or services?"),
        ("human", "Services, three of them."),
        ("agent", "Which three?"),
        ("human", "Users, catalog, orders."),
    ]
    assert last.data["transcript"][1]["by"]["id"] == "alice"


async def test_waiters_time_out_alone_and_a_late_outcome_still_arrives(
    broker: BrokerService, client: HitlClient, responder: Responder
) -> None:
    request = client.new_request("approval", thread_id="t", prompt="Later?")
    with pytest.raises(AskTimeout):
        await client.ask(request, timeout=0.2)  # nobody has answered yet
    patient = asyncio.create_task(client.wait(request.id, timeout=10))
    hasty = asyncio.create_task(client.wait(request.id, timeout=0.1))
    with pytest.raises(AskTimeout):
        await hasty  # its timeout does not cancel the patient waiter
    await responder.respond(answer(request.id, "approve"))
    outcome = await patient
    assert (outcome.interaction_id, outcome.action) == (request.id, "approve")
