"""The Consumer against the real RabbitMQ, on both paths (``fast=True``: attached to aiormq's
channel; ``fast=False``: aio-pika's ``Queue.consume``): each delivery reaches the handler, its
ack reaches RabbitMQ, nothing arrives after ``cancel()``, and when RabbitMQ cancels the consumer
(its queue was deleted) the queue is declared and bound again and deliveries flow again."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aio_pika.abc import (
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)

from hitl.adapters.amqp.consumer import consume
from hitl.adapters.amqp.publisher import Publisher
from hitl.ports import Envelope
from tests.helpers import eventually


@pytest.fixture(params=[True, False], ids=["fast", "plain"])
def fast(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@dataclass
class Inbox:
    """The handler: acks each delivery, and keeps its message id."""

    ids: list[str | None] = field(default_factory=list)

    async def handle(self, message: AbstractIncomingMessage) -> None:
        self.ids.append(message.message_id)
        await message.ack()


@dataclass
class Rig:
    channel: AbstractRobustChannel
    exchange: AbstractExchange
    queue: AbstractQueue
    publisher: Publisher

    async def send(self, message_id: str) -> bool:
        """Publish to the queue's binding; True if routed (the queue exists and is bound)."""
        envelope = Envelope(self.exchange.name, "k", b"{}", "t", message_id)
        return await self.publisher.publish(envelope)


@pytest.fixture
async def rig(amqp: AbstractRobustConnection, namespace: str) -> AsyncIterator[Rig]:
    """A robust channel, an exchange and a queue bound to it with key ``k``, as the broker has
    them; the exchange outlives the queue (not auto-deleted), so the queue can be bound again."""
    channel = await amqp.channel()
    assert isinstance(channel, AbstractRobustChannel)
    exchange = await channel.declare_exchange(f"{namespace}.consumed", "direct")
    queue = await channel.declare_queue(f"{namespace}.consumed")
    await queue.bind(exchange, "k")
    yield Rig(channel, exchange, queue, Publisher(await amqp.channel()))
    await channel.close()  # first: a robust queue still open would declare itself again
    cleanup = await amqp.channel()
    with contextlib.suppress(Exception):
        await cleanup.queue_delete(queue.name)
    with contextlib.suppress(Exception):
        await cleanup.exchange_delete(exchange.name)
    await cleanup.close()


async def test_each_delivery_reaches_the_handler_until_cancelled(
    rig: Rig, amqp: AbstractRobustConnection, fast: bool
) -> None:
    inbox = Inbox()
    consumer = await consume(rig.channel, rig.queue, inbox.handle, fast=fast)
    assert consumer.attached
    sent = [f"m{n}" for n in range(20)]
    assert all(await asyncio.gather(*(rig.send(m) for m in sent)))
    await eventually(lambda: len(inbox.ids) == len(sent))
    assert inbox.ids == sent

    await consumer.cancel()
    assert not consumer.attached
    assert await rig.send("after-cancel")
    await asyncio.sleep(0.3)
    assert inbox.ids == sent
    check = await amqp.channel()
    left = await check.declare_queue(rig.queue.name, passive=True)
    assert left.declaration_result.message_count == 1  # the others were acked
    await check.close()


@pytest.mark.timeout(60)
async def test_the_consumer_comes_back_after_rabbitmq_cancels_it(
    rig: Rig, amqp: AbstractRobustConnection, fast: bool
) -> None:
    inbox = Inbox()
    consumer = await consume(rig.channel, rig.queue, inbox.handle, fast=fast)
    assert await rig.send("before")
    await eventually(lambda: inbox.ids == ["before"])

    other = await amqp.channel()
    await other.queue_delete(rig.queue.name)  # RabbitMQ cancels the consumer
    await other.close()

    sent: list[str] = []

    async def routed_again() -> bool:  # declared and bound again
        sent.append(f"after-{len(sent)}")
        return await rig.send(sent[-1])

    await eventually(routed_again, timeout=20, interval=0.2)
    await eventually(lambda: sent[-1] in inbox.ids, timeout=20)  # and consumed again
    assert consumer.attached
    await consumer.cancel()
