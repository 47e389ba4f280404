"""Consuming a queue with one task per delivery.

aio-pika runs each delivery through two tasks: aiormq's, then one of its own for the callback.
On the fast path (``fast=True``, the default) a ``Consumer`` registers with the aiormq channel
under aio-pika's robust channel instead (``wire.DirectConsumer``), so the handler runs in
aiormq's task and gets the same ``IncomingMessage`` aio-pika would build (acks, nacks and
properties as usual). With one message in flight that is a loop turn less on each delivery of
the round trip; under load, a task less per message. With ``fast=False`` it consumes with
aio-pika's public ``Queue.consume``: for when an aio-pika or aiormq upgrade breaks the fast path
(see the docstring of ``hitl.adapters.amqp.wire``).

Either way it comes back by itself. On the fast path it does what aio-pika's robust consumers
do: it attaches itself again when the robust channel reopens after a reconnect (aio-pika
declares and binds the queue again first), and when RabbitMQ cancels it (its queue was
deleted, say) it declares and binds the queue again and re-attaches, retrying with backoff
until it is back or cancelled. On the plain path the consumer is aio-pika's own (give it a
robust queue), which does both itself: aio-pika 10.2.1 declares, binds and consumes again after
RabbitMQ cancelled it, at its connection's next recovery round (up to ``reconnect_interval``
later, 5 s by default). ``attached`` cannot see that cancel: aio-pika tells no one.
"""

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustQueue,
)

from hitl.core.backoff import backoff_delay
from hitl.errors import TransportError

if TYPE_CHECKING:
    from hitl.adapters.amqp.wire import DirectConsumer

log = logging.getLogger(__name__)
Handler = Callable[[AbstractIncomingMessage], Awaitable[None]]


class Consumer:
    def __init__(
        self,
        channel: AbstractRobustChannel,
        queue: AbstractQueue,
        handler: Handler,
        *,
        fast: bool = True,
        no_ack: bool = False,
    ) -> None:
        self._channel = channel
        self._queue = queue
        self._handler = handler
        self._no_ack = no_ack
        self.tag = f"hitl-{uuid.uuid4().hex}"  # ours, not RabbitMQ's: deliveries may come
        self._cancelled = False  # before basic.consume-ok does
        self.attached = False
        self._recovery: asyncio.Task[None] | None = None
        self._direct = (
            _direct(self.tag, handler, self._on_cancelled_by_server, no_ack) if fast else None
        )

    async def start(self) -> None:
        await self._attach()
        if self._direct is not None:  # aio-pika restores its own consumers, not this one
            self._channel.reopen_callbacks.add(self._reattach)

    async def cancel(self) -> None:
        """Stop new deliveries; those already handed over finish as usual."""
        self._channel.reopen_callbacks.discard(self._reattach)
        if self._cancelled:
            return
        self._cancelled = True
        if self._recovery is not None:
            self._recovery.cancel()
        if self.attached and not self._channel.is_closed:
            self.attached = False
            if self._direct is not None:
                await self._direct.detach(self._channel)
            else:
                await self._queue.cancel(self.tag)

    async def _attach(self) -> None:
        if self._direct is not None:
            await self._direct.attach(self._channel, self._queue.name)
        else:
            await self._queue.consume(self._handler, no_ack=self._no_ack, consumer_tag=self.tag)
        self.attached = True

    async def _reattach(self, _: Any) -> None:
        if self._cancelled:
            return
        self.attached = False  # the channel was lost with our consumer on it
        try:
            await self._attach()
        except Exception as exc:  # noqa: BLE001 - aio-pika would swallow it: keep trying
            log.warning(
                "could not consume %s again after the channel reopened, retrying: %r",
                self._queue.name,
                exc,
            )
            self._start_recovery()
            return
        log.info("consuming %s again after a reconnect", self._queue.name)

    def _start_recovery(self) -> None:
        if self._recovery is None or self._recovery.done():
            self._recovery = asyncio.get_running_loop().create_task(self._recover())

    def _on_cancelled_by_server(self) -> None:
        if self._cancelled:
            return
        self.attached = False
        self._start_recovery()

    async def _recover(self) -> None:
        attempt = 0
        while not self._cancelled and not self.attached:
            attempt += 1
            try:
                if isinstance(self._queue, AbstractRobustQueue):
                    await self._queue.restore()  # declared and bound again
                else:
                    await self._queue.declare()
                await self._attach()
            except Exception as exc:  # noqa: BLE001 - retried until it works or we stop
                delay = backoff_delay(attempt, base=0.5, cap=5.0)
                log.warning(
                    "RabbitMQ cancelled our consumer of %s; re-attaching failed (try %d), "
                    "next in %.1fs: %r",
                    self._queue.name,
                    attempt,
                    delay,
                    exc,
                )
                await asyncio.sleep(delay)
            else:
                log.warning("RabbitMQ cancelled our consumer of %s; re-attached", self._queue.name)


def _direct(
    tag: str, handler: Handler, on_cancelled: Callable[[], None], no_ack: bool
) -> "DirectConsumer":
    from hitl.adapters.amqp import wire  # only the fast path imports it: an upgrade may break it

    return wire.DirectConsumer(tag, handler, on_cancelled, no_ack=no_ack)


async def consume(
    channel: AbstractRobustChannel,
    queue: AbstractQueue,
    handler: Handler,
    *,
    fast: bool = True,
    no_ack: bool = False,
) -> Consumer:
    """Start a ``Consumer`` of ``queue`` on ``channel``. ``no_ack``: RabbitMQ counts a message
    delivered once it is sent (nothing to ack, nothing redelivered): only for a queue whose
    messages die with the connection anyway (exclusive), where an ack would buy nothing."""
    consumer = Consumer(channel, queue, handler, fast=fast, no_ack=no_ack)
    try:
        await consumer.start()
    except Exception as exc:
        raise TransportError(f"could not consume {queue.name}: {exc!r}") from exc
    return consumer
