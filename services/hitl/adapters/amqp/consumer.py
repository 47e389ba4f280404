"""Consuming a queue with one task per delivery.

aio-pika runs each delivery through two tasks: aiormq's, then one of its own for the callback.
A ``Consumer`` registers with the aiormq channel under aio-pika's robust channel instead, so
the handler runs in aiormq's task and gets the same ``IncomingMessage`` aio-pika would build
(acks, nacks and properties as usual). With one message in flight that is a loop turn less on
each delivery of the round trip; under load, a task less per message.

Like aio-pika's robust queues, it attaches itself again when the robust channel reopens after
a reconnect (aio-pika declares and binds the queue again first). The queue itself is declared
through aio-pika as before.
"""

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel
from aio_pika.message import IncomingMessage
from aiormq.abc import DeliveredMessage

from hitl.errors import TransportError

log = logging.getLogger(__name__)
Handler = Callable[[AbstractIncomingMessage], Awaitable[None]]


class Consumer:
    def __init__(self, channel: AbstractRobustChannel, queue: str, handler: Handler) -> None:
        self._channel = channel
        self._queue = queue
        self._handler = handler
        self.tag = f"hitl-{uuid.uuid4().hex}"  # ours, not RabbitMQ's: deliveries may come
        self._cancelled = False  # before basic.consume-ok does

    async def start(self) -> None:
        await self._attach()
        self._channel.reopen_callbacks.add(self._reattach)

    async def cancel(self) -> None:
        """Stop new deliveries; those already handed over finish as usual."""
        self._channel.reopen_callbacks.discard(self._reattach)
        if self._cancelled:
            return
        self._cancelled = True
        if not self._channel.is_closed:
            channel = await self._channel.get_underlay_channel()
            await channel.basic_cancel(self.tag)

    async def _attach(self) -> None:
        channel = await self._channel.get_underlay_channel()
        await channel.basic_consume(self._queue, self._deliver, consumer_tag=self.tag)

    async def _reattach(self, _: Any) -> None:
        try:
            await self._attach()
        except Exception:  # aio-pika swallows a reopen callback's error: say it here
            log.exception("could not consume %s again after the channel reopened", self._queue)
            raise
        log.info("consuming %s again after a reconnect", self._queue)

    async def _deliver(self, message: DeliveredMessage) -> None:
        await self._handler(IncomingMessage(message, no_ack=False))


async def consume(channel: AbstractRobustChannel, queue: str, handler: Handler) -> Consumer:
    """Start a ``Consumer`` of ``queue`` on ``channel``."""
    consumer = Consumer(channel, queue, handler)
    try:
        await consumer.start()
    except Exception as exc:
        raise TransportError(f"could not consume {queue}: {exc!r}") from exc
    return consumer
