"""Every exchange, queue and binding hitl uses, named from one namespace, declared idempotently.

Producers publish requests to ``<ns>.requests`` and read outcomes from ``<ns>.outcomes`` (routing
key = the request's ``reply_to``). Notifier bots bind to ``<ns>.notifications`` (``<route>.<kind>``)
and publish answers to ``<ns>.responses``. ``<ns>.events`` carries lifecycle events
(``<event>.<kind>``). Bad messages end in ``<ns>.dead-letter`` with headers saying why.
"""

from dataclasses import dataclass
from typing import Literal

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractQueue
from aio_pika.exceptions import ChannelNotFoundEntity, ChannelPreconditionFailed

from hitl.errors import ConfigError

QueueType = Literal["quorum", "classic"]


@dataclass(frozen=True, slots=True)
class Names:
    namespace: str

    @property
    def requests(self) -> str:
        return f"{self.namespace}.requests"

    @property
    def responses(self) -> str:
        return f"{self.namespace}.responses"

    @property
    def notifications(self) -> str:
        return f"{self.namespace}.notifications"

    @property
    def outcomes(self) -> str:
        return f"{self.namespace}.outcomes"

    @property
    def events(self) -> str:
        return f"{self.namespace}.events"

    @property
    def dead_letter(self) -> str:
        return f"{self.namespace}.dlx"

    @property
    def requests_queue(self) -> str:
        return f"{self.namespace}.broker.requests"

    @property
    def responses_queue(self) -> str:
        return f"{self.namespace}.broker.responses"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.namespace}.dead-letter"

    def reply_queue(self, reply_to: str) -> str:
        return f"{self.namespace}.reply.{reply_to}"

    @property
    def exchanges(self) -> tuple[str, ...]:
        return (self.requests, self.responses, self.notifications, self.outcomes, self.events)


def queue_arguments(
    names: Names, queue_type: QueueType, delivery_limit: int, *, dead_letter: bool = True
) -> dict[str, aio_pika.abc.FieldValue]:
    args: dict[str, aio_pika.abc.FieldValue] = {"x-queue-type": queue_type}
    if dead_letter:  # the dead-letter queue itself has nowhere further to send, and no limit
        args["x-dead-letter-exchange"] = names.dead_letter
        if queue_type == "quorum":
            args["x-delivery-limit"] = delivery_limit
    return args


async def declare_exchanges(channel: AbstractChannel, names: Names) -> None:
    for name in names.exchanges:
        await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)
    await channel.declare_exchange(names.dead_letter, aio_pika.ExchangeType.TOPIC, durable=True)


async def declare_queue(
    channel: AbstractChannel, name: str, arguments: dict[str, aio_pika.abc.FieldValue]
) -> AbstractQueue:
    try:
        return await channel.declare_queue(name, durable=True, arguments=arguments)
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
