"""Declaring every exchange and queue hitl uses, idempotently; their names and arguments are
the contract's (``hitl_contract.wire``)."""

from collections.abc import Mapping

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractQueue
from aio_pika.exceptions import ChannelNotFoundEntity, ChannelPreconditionFailed

from hitl.errors import ConfigError
from hitl_contract.wire import Names, QueueType, queue_arguments


async def declare_exchanges(channel: AbstractChannel, names: Names) -> None:
    for name in names.exchanges:
        await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)
    await channel.declare_exchange(names.dead_letter, aio_pika.ExchangeType.TOPIC, durable=True)


async def declare_queue(
    channel: AbstractChannel, name: str, arguments: Mapping[str, str | int]
) -> AbstractQueue:
    try:
        return await channel.declare_queue(name, durable=True, arguments=dict(arguments))
    except ChannelPreconditionFailed as exc:
        raise ConfigError(
            f"queue {name!r} already exists with other arguments than {arguments}: "
            f"delete it or pick another HITL_NAMESPACE ({exc})"
        ) from exc


async def ensure_broker_queues(
    connection: AbstractConnection, names: Names, queue_type: QueueType, delivery_limit: int
) -> None:
    """For producers: make sure requests have somewhere to go before any broker ever ran,
    without insisting on our own queue arguments when the broker's queues already exist."""
    channel = await connection.channel()
    try:
        await channel.declare_queue(names.requests_queue, passive=True)
        await channel.declare_queue(names.responses_queue, passive=True)
    except ChannelNotFoundEntity:
        channel = await connection.channel()
        await declare_broker_topology(channel, names, queue_type, delivery_limit)
    finally:
        if not channel.is_closed:
            await channel.close()


async def declare_broker_topology(
    channel: AbstractChannel, names: Names, queue_type: QueueType, delivery_limit: int
) -> tuple[AbstractQueue, AbstractQueue]:
    """Declare everything the broker consumes from; safe to run on every start."""
    await declare_exchanges(channel, names)
    dlq = await declare_queue(
        channel,
        names.dead_letter_queue,
        queue_arguments(names, queue_type, delivery_limit, dead_letter=False),
    )
    await dlq.bind(names.dead_letter, "#")
    args = queue_arguments(names, queue_type, delivery_limit)
    requests = await declare_queue(channel, names.requests_queue, args)
    await requests.bind(names.requests, "#")
    responses = await declare_queue(channel, names.responses_queue, args)
    await responses.bind(names.responses, "#")
    return requests, responses


async def declare_notifier_queue(
    channel: AbstractChannel,
    names: Names,
    receiver: str,
    queue_type: QueueType,
    delivery_limit: int,
) -> AbstractQueue:
    """A receiver's queue: its notifications (``<receiver>.<kind>``: one word after the name,
    so receiver ``a`` never gets ``a.b``'s)."""
    await declare_exchanges(channel, names)
    queue = await declare_queue(
        channel, names.notifier_queue(receiver), queue_arguments(names, queue_type, delivery_limit)
    )
    await queue.bind(names.notifications, f"{receiver}.*")
    return queue


async def declare_settled_queue(
    channel: AbstractChannel,
    names: Names,
    channel_type: str,
    queue_type: QueueType,
    delivery_limit: int,
) -> AbstractQueue:
    """The final lifecycle events a notifier of ``channel_type`` updates its messages from."""
    await declare_exchanges(channel, names)
    dlq = await declare_queue(
        channel,
        names.dead_letter_queue,
        queue_arguments(names, queue_type, delivery_limit, dead_letter=False),
    )
    await dlq.bind(names.dead_letter, "#")
    queue = await declare_queue(
        channel,
        names.notifier_settled_queue(channel_type),
        queue_arguments(names, queue_type, delivery_limit),
    )
    await _bind_settled(queue, names)
    return queue


async def declare_private_settled_queue(channel: AbstractChannel, names: Names) -> AbstractQueue:
    """The final lifecycle events, on a queue of this process's own (exclusive, deleted when
    it ends): every such process hears every event (the console's screen, which no other
    process can update). Events while it is not running are not kept for it."""
    await declare_exchanges(channel, names)
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await _bind_settled(queue, names)
    return queue


async def _bind_settled(queue: AbstractQueue, names: Names) -> None:
    for event in ("resolved", "cancelled", "timed_out"):
        await queue.bind(names.events, f"{event}.*")
