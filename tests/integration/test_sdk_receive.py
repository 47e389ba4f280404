"""How the SDK hands an outcome to its waiter: the ack is queued before the waiter resumes, an
ack that cannot be queued leaves the waiter for the redelivery, and the ack really reaches
RabbitMQ (nothing comes back to the next client)."""

import asyncio
import uuid
from typing import Any, cast

import orjson
import pytest
from aio_pika.abc import AbstractIncomingMessage

from hitl.broker.service import BrokerService
from hitl.errors import TransportError
from hitl.sdk import HitlClient, Responder
from hitl.sdk import client as client_module
from hitl.settings import Settings
from hitl_contract import InteractionOutcome
from hitl_contract.wire import Names
from tests.helpers import answer
from tests.servers import AMQP_URL


def outcome_body(iid: uuid.UUID) -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "interaction_id": str(iid),
            "thread_id": "t",
            "kind": "approval",
            "status": "resolved",
            "action": "approve",
            "data": {},
            "decided_by": {"type": "person", "identity": {"id": "alice"}, "channel": "test"},
            "requested_at": "2025-01-15T09:30:00Z",
            "resolved_at": "2025-01-15T09:42:07Z",
        }
    )


class Delivery:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.message_id = "m"
        self.headers: dict[str, object] = {}  # read for trace context when spans are made


def bare_client() -> HitlClient:
    none = cast(Any, None)
    return HitlClient(none, none, none, Names("t"), "svc", "svc", None)


async def test_the_ack_is_queued_before_the_waiter_resumes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hitl, iid, order = bare_client(), uuid.uuid4(), []

    async def ack(_: object, **__: object) -> None:
        order.append("ack")

    monkeypatch.setattr(client_module, "ack_at_once", ack)

    async def waiter() -> None:
        await hitl.wait(iid, timeout=5)
        order.append("resumed")

    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    await hitl._receive(cast(AbstractIncomingMessage, Delivery(outcome_body(iid))))
    await waiting
    assert order == ["ack", "resumed"]


async def test_an_ack_that_cannot_be_queued_leaves_the_waiter_for_the_redelivery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hitl, iid = bare_client(), uuid.uuid4()

    async def closed(_: object, **__: object) -> None:
        raise TransportError("cannot ack: the channel closed")

    async def fine(_: object, **__: object) -> None:
        return None

    monkeypatch.setattr(client_module, "ack_at_once", closed)
    waiting = asyncio.create_task(hitl.wait(iid, timeout=5))
    await asyncio.sleep(0)
    with pytest.raises(TransportError):
        await hitl._receive(cast(AbstractIncomingMessage, Delivery(outcome_body(iid))))
    assert not waiting.done()
    monkeypatch.setattr(client_module, "ack_at_once", fine)
    await hitl._receive(cast(AbstractIncomingMessage, Delivery(outcome_body(iid))))  # again
    assert (await waiting).interaction_id == iid


async def test_an_outcome_handed_to_its_waiter_is_acked_on_rabbitmq(
    broker: BrokerService, responder: Responder, settings: Settings
) -> None:
    async with HitlClient.connect(
        AMQP_URL, service="producer", namespace=settings.namespace
    ) as hitl:
        request = hitl.new_request("approval", thread_id="t", prompt="Ship it?")
        asked = asyncio.create_task(hitl.ask(request, timeout=10))
        await responder.respond(answer(request.id, "approve"), timeout=None)
        assert (await asked).action == "approve"
    redelivered: list[InteractionOutcome] = []

    async def on_outcome(outcome: InteractionOutcome) -> None:
        redelivered.append(outcome)

    async with HitlClient.connect(
        AMQP_URL, service="producer", namespace=settings.namespace, on_outcome=on_outcome
    ):
        await asyncio.sleep(0.5)
    assert redelivered == []  # unacked, it would have come back to this client
