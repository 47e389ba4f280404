"""Acks against the real RabbitMQ, on both paths: many at once (on the fast path, more than
aiormq's bounded write queue holds) all reach RabbitMQ, through the Acker and ack_at_once, and
an ack on a closed channel is a TransportError."""

import asyncio

import pytest
from aio_pika import Message
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection

from hitl.adapters.amqp.acks import Acker, ack_at_once
from hitl.errors import TransportError


@pytest.fixture(params=[True, False], ids=["fast", "plain"])
def fast(request: pytest.FixtureRequest) -> bool:
    """``Acker(fast=...)``, ``ack_at_once(fast=...)``: frames queued on aiormq's channel, or
    aio-pika's ``message.ack()``."""
    return bool(request.param)


async def deliveries(queue: AbstractQueue, count: int) -> list[AbstractIncomingMessage]:
    for n in range(count):
        await queue.channel.default_exchange.publish(Message(b"%d" % n), queue.name)
    return [await queue.get(no_ack=False, timeout=5) for _ in range(count)]


async def ready(amqp: AbstractRobustConnection, queue: str) -> int:
    """The messages ready in ``queue``, asked on a channel of its own (a robust channel that
    declared the queue hands back its old Queue, and its old count, to a passive declare)."""
    channel = await amqp.channel()
    try:
        declared = await channel.declare_queue(queue, passive=True)
        return declared.declaration_result.message_count or 0
    finally:
        await channel.close()


async def test_many_acks_at_once_all_arrive(
    amqp: AbstractRobustConnection, namespace: str, fast: bool
) -> None:
    channel = await amqp.channel()
    queue = await channel.declare_queue(f"{namespace}.acks", auto_delete=False)
    try:
        received = await deliveries(queue, 60)
        acker = Acker(fast=fast)
        await asyncio.gather(
            *(acker.ack(m) for m in received[:30]),
            *(ack_at_once(m, fast=fast) for m in received[30:]),
        )
        await channel.close()  # anything unacked would go back to the queue now
        channel = await amqp.channel()
        assert await ready(amqp, queue.name) == 0
    finally:
        await channel.queue_delete(queue.name)


async def test_an_ack_on_a_closed_channel_is_a_transport_error(
    amqp: AbstractRobustConnection, namespace: str, fast: bool
) -> None:
    admin = await amqp.channel()
    queue = await admin.declare_queue(f"{namespace}.acks", auto_delete=False)
    try:
        channel = await amqp.channel()
        first, second = await deliveries(await channel.get_queue(queue.name), 2)
        await channel.close()
        with pytest.raises(TransportError, match="channel closed"):
            await Acker(fast=fast).ack(first)
        with pytest.raises(TransportError, match="channel closed"):
            await ack_at_once(second, fast=fast)

        assert await ready(amqp, queue.name) == 2  # both back in the queue, unacked
    finally:
        await admin.queue_delete(queue.name)
        await admin.close()
