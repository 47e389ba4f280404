"""How the SDK hands an outcome over (pure logic over stand-in deliveries; test_flow covers the
same path against RabbitMQ): acked before its waiter runs, and kept for ``wait()`` when every
waiter gave up while the ack was being written."""

import asyncio
import uuid
from typing import Any, cast

import orjson
from aio_pika.abc import AbstractIncomingMessage

from hitl.adapters.amqp.topology import Names
from hitl.sdk import HitlClient


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
    def __init__(self, body: bytes, gate: asyncio.Event | None = None) -> None:
        self.body = body
        self.message_id = "m"
        self.gate = gate
        self.events: list[str] = []

    async def ack(self) -> None:
        self.events.append("ack")
        if self.gate is not None:
            await self.gate.wait()


def client() -> HitlClient:
    none = cast(Any, None)
    return HitlClient(none, none, none, Names("t"), "svc", "svc", None)


async def test_the_outcome_is_acked_before_its_waiter_resumes() -> None:
    hitl, iid = client(), uuid.uuid4()
    delivery = Delivery(outcome_body(iid), gate=asyncio.Event())

    async def waiter() -> uuid.UUID:
        outcome = await hitl.wait(iid, timeout=5)
        delivery.events.append("resumed")
        return outcome.interaction_id

    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    receiving = asyncio.create_task(hitl._receive(cast(AbstractIncomingMessage, delivery)))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiting.done() and delivery.events == ["ack"]  # the ack is still being written
    assert delivery.gate is not None
    delivery.gate.set()
    await receiving
    assert await waiting == iid and delivery.events == ["ack", "resumed"]


async def test_a_waiter_that_gives_up_during_the_ack_leaves_the_outcome_for_wait() -> None:
    hitl, iid = client(), uuid.uuid4()
    waiting = asyncio.create_task(hitl.wait(iid, timeout=5))
    await asyncio.sleep(0)
    delivery = Delivery(outcome_body(iid), gate=asyncio.Event())
    receiving = asyncio.create_task(hitl._receive(cast(AbstractIncomingMessage, delivery)))
    await asyncio.sleep(0)
    waiting.cancel()  # the waiter gives up while the ack is on its way
    await asyncio.sleep(0)
    assert delivery.gate is not None
    delivery.gate.set()
    await receiving
    outcome = await hitl.wait(iid, timeout=1)  # acked already: handed over without a new ack
    assert outcome.interaction_id == iid and delivery.events == ["ack"]
