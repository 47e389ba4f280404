"""Acks written on the aiormq channel, against the real RabbitMQ: many at once (more than
aiormq's bounded write queue holds) all reach RabbitMQ, through the Acker and ack_at_once."""

import asyncio

from aio_pika import Message
from aio_pika.abc import AbstractRobustConnection

from hitl.adapters.amqp.acks import Acker, ack_at_once


async def test_many_acks_at_once_all_arrive(amqp: AbstractRobustConnection, namespace: str) -> None:
    channel = await amqp.channel()
    queue = await channel.declare_queue(f"{namespace}.acks", auto_delete=False)
    try:
        for n in range(60):
            await channel.default_exchange.publish(Message(b"%d" % n), queue.name)
        received = [await queue.get(no_ack=False, timeout=5) for _ in range(60)]
        acker = Acker()
        await asyncio.gather(
            *(acker.ack(m) for m in received[:30]), *(ack_at_once(m) for m in received[30:])
        )
        await channel.close()  # anything unacked would go back to the queue now
        channel = await amqp.channel()
        left = await channel.declare_queue(queue.name, passive=True)
        assert left.declaration_result.message_count == 0
    finally:
        await channel.queue_delete(queue.name)
