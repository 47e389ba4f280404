"""Small helpers shared by the integration tests."""

import asyncio
import uuid
from collections.abc import Iterable
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from hitl_contract import HumanResponse, Identity, LifecycleEvent, LifecycleEvents
from hitl_contract.wire import Names
from tests import wire_check


def answer(
    interaction_id: uuid.UUID, action: str, data: dict[str, Any] | None = None, who: str = "alice"
) -> HumanResponse:
    return HumanResponse(
        interaction_id=interaction_id,
        action=action,
        data=data or {},
        responder=Identity(id=who),
        channel="test",
    )


def raw_request(**overrides: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "id": str(uuid.uuid4()),
        "thread_id": "raw-thread",
        "kind": "approval",
        "prompt": "Ship it?",
        "reply_to": "producer",
        "requester": {"id": "raw-agent"},
        **overrides,
    }


async def publish_raw(
    amqp: AbstractRobustConnection,
    exchange: str,
    body: bytes,
    routing_key: str = "x",
    **properties: Any,
) -> None:
    channel = await amqp.channel(publisher_confirms=True)
    try:
        ex = await channel.get_exchange(exchange, ensure=False)
        await ex.publish(
            aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, **properties),
            routing_key,
        )
    finally:
        await channel.close()


async def dead_letters(
    amqp: AbstractRobustConnection, namespace: str, count: int, timeout: float = 10.0
) -> list[AbstractIncomingMessage]:
    """Take ``count`` messages off the namespace's dead-letter queue, waiting for them."""
    channel = await amqp.channel()
    queue = await channel.get_queue(Names(namespace).dead_letter_queue, ensure=False)
    found: list[AbstractIncomingMessage] = []
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while len(found) < count:
            message = await queue.get(no_ack=True, fail=False)
            if message is not None:
                wire_check.check(message, where="dead-letter queue")
                found.append(message)
            elif asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{len(found)} of {count} dead letters after {timeout}s")
            else:
                await asyncio.sleep(0.05)
        return found
    finally:
        await channel.close()


def json_of(message: AbstractIncomingMessage) -> Any:
    return orjson.loads(message.body)


async def eventually(check: Any, timeout: float = 10.0, interval: float = 0.05) -> None:
    """Wait until ``check()`` is truthy (a plain or async callable)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


def lifecycle_events(messages: Iterable[AbstractIncomingMessage]) -> list[LifecycleEvent]:
    """The events carried by ``LifecycleEvents`` messages, in order."""
    return [e for m in messages for e in LifecycleEvents.model_validate_json(m.body).events]
