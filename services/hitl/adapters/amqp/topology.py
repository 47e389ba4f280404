"""Declaring every exchange and queue hitl uses, idempotently; their names and arguments are
the contract's (``hitl_contract.wire``).

The broker owns the shared topology (the exchanges, its queues, the dead-letter queue): the
other roles check it passively (``ensure_broker_queues``, which needs no permission) and
declare only their own queues, so their RabbitMQ users need no configure permission on what
every role shares (docs/security.md). A declare RabbitMQ refuses (ACCESS_REFUSED) is a
``ConfigError`` naming the setting, the user's missing permission and the fix.
"""

import contextlib
from collections.abc import Iterator, Mapping

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractQueue
from aio_pika.exceptions import ChannelClosed, ChannelNotFoundEntity, ChannelPreconditionFailed

from hitl.errors import ConfigError
from hitl_contract.wire import Names, QueueType, queue_arguments


@contextlib.contextmanager
def refusal_named(what: str) -> Iterator[None]:
    """RabbitMQ's ACCESS_REFUSED on ``what`` as a start-up error that says what to fix."""
    try:
        yield
    except ChannelClosed as exc:  # aiormq's ChannelAccessRefused, which aio-pika does not export
        said = str(exc.args[0]) if exc.args else repr(exc)
        if not said.startswith("ACCESS_REFUSED"):
            raise
        raise ConfigError(
            f"HITL_AMQP_URL: RabbitMQ refused to {what}: {said}; give this user its role's "
            "permissions (hitl access rabbitmq ROLE, docs/security.md)"
        ) from exc


async def declare_exchanges(channel: AbstractChannel, names: Names) -> None:
    for name in (*names.exchanges, names.dead_letter):
        with refusal_named(f"declare exchange {name}"):
            await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)


async def declare_queue(
    channel: AbstractChannel, name: str, arguments: Mapping[str, str | int]
) -> AbstractQueue:
    try:
        with refusal_named(f"declare queue {name}"):
            return await channel.declare_queue(name, durable=True, arguments=dict(arguments))
    except ChannelPreconditionFailed as exc:
        raise ConfigError(
            f"queue {name!r} already exists with other arguments than {arguments}: "
            f"delete it or pick another HITL_NAMESPACE ({exc})"
        ) from exc


async def ensure_broker_queues(
    connection: AbstractConnection, names: Names, queue_type: QueueType, delivery_limit: int
) -> None:
    """For every role but the broker: make sure the exchanges exist and requests have
    somewhere to go before any broker ever ran, without insisting on our own queue arguments
    when the broker's queues already exist. Checked passively (no permission needed); what is
    missing is declared, which a least-privilege user may not do: then the error says to start
    the broker first."""
    channel = await connection.channel()
    try:
        for exchange in (*names.exchanges, names.dead_letter):
            await channel.get_exchange(exchange, ensure=True)
        for queue in (names.requests_queue, names.responses_queue, names.dead_letter_queue):
            await channel.declare_queue(queue, passive=True)
    except ChannelNotFoundEntity as exc:
        channel = await connection.channel()
        try:
            await declare_broker_topology(channel, names, queue_type, delivery_limit)
        except ConfigError as refused:
            raise ConfigError(
                f"{refused}; the broker declares hitl's exchanges and queues: start "
                f"`hitl broker` once for namespace {names.namespace!r} ({exc.args[-1]})"
            ) from refused
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
    args = queue_arguments(names, queue_type, delivery_limit)
    requests = await declare_queue(channel, names.requests_queue, args)
    responses = await declare_queue(channel, names.responses_queue, args)
    with refusal_named("bind the broker's queues"):
        await dlq.bind(names.dead_letter, "#")
        await requests.bind(names.requests, "#")
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
    so receiver ``a`` never gets ``a.b``'s). The exchanges exist (``ensure_broker_queues``)."""
    queue = await declare_queue(
        channel, names.notifier_queue(receiver), queue_arguments(names, queue_type, delivery_limit)
    )
    with refusal_named(f"bind queue {queue.name} to {names.notifications}"):
        await queue.bind(names.notifications, f"{receiver}.*")
    return queue


async def declare_settled_queue(
    channel: AbstractChannel,
    names: Names,
    channel_type: str,
    queue_type: QueueType,
    delivery_limit: int,
    *,
    claims: bool = False,
) -> AbstractQueue:
    """The final lifecycle events a notifier of ``channel_type`` updates its messages from
    (and, with ``claims``, the ``claimed`` and ``released`` ones). The exchanges and the
    dead-letter queue exist (``ensure_broker_queues``)."""
    queue = await declare_queue(
        channel,
        names.notifier_settled_queue(channel_type),
        queue_arguments(names, queue_type, delivery_limit),
    )
    await _bind_settled(queue, names, claims)
    return queue


async def declare_private_settled_queue(
    channel: AbstractChannel, names: Names, *, claims: bool = False
) -> AbstractQueue:
    """The final lifecycle events, on a queue of this process's own (exclusive, deleted when
    it ends): every such process hears every event (the console's screen, which no other
    process can update). Events while it is not running are not kept for it."""
    with refusal_named("declare a private queue (amq.gen-*)"):
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await _bind_settled(queue, names, claims)
    return queue


async def _bind_settled(queue: AbstractQueue, names: Names, claims: bool) -> None:
    events = ("resolved", "cancelled", "timed_out") + (("claimed", "released") if claims else ())
    with refusal_named(f"bind queue {queue.name} to {names.events}"):
        for event in events:
            await queue.bind(names.events, f"{event}.*")
