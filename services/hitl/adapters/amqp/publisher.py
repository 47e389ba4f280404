"""Publishing with publisher confirms and ``mandatory``: a publish returns only once RabbitMQ
took responsibility for the message, and says whether any queue was bound to receive it.

Publishes go out with group commit (``Coalescer``): one at once when nothing is in flight;
under load, those started while a batch waits for its confirms go out together next.
``publish_batch`` is that step on its own, for callers that assemble their batches themselves.

On the fast path (``fast=True``, the default) a batch's frames are marshalled into one buffer
and written with one syscall, one deadline for all their confirms: ``wire.publish``, which
works on aiormq's channel directly. With ``fast=False`` each message goes through aio-pika's
public ``Exchange.publish``, for when an aio-pika or aiormq upgrade breaks the fast path (see
the docstring of ``hitl.adapters.amqp.wire``). Both say routed or not per message, and fail
with ``TransportError`` the same way.
"""

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable

from aio_pika import Message
from aio_pika.abc import AbstractChannel
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError, PublishError

from hitl.core.backoff import backoff_delay
from hitl.errors import TransportError
from hitl.ports import Envelope
from hitl.runtime.coalescer import Coalescer
from hitl_contract.wire import PERSISTENT

log = logging.getLogger(__name__)
Batch = list[tuple[Envelope, bool]]


class Publisher:
    def __init__(
        self, channel: AbstractChannel, *, confirm_timeout: float = 30.0, fast: bool = True
    ) -> None:
        self._channel = channel
        self._timeout = confirm_timeout
        self._send = _fast(channel, confirm_timeout) if fast else self._send_plainly
        self._batches: Coalescer[tuple[Envelope, bool], bool] = Coalescer(
            self.publish_batch, one_at_a_time=True
        )

    async def publish(self, envelope: Envelope, *, mandatory: bool = True) -> bool:
        """True once confirmed and routed; False if confirmed but no queue took it."""
        return await self._batches.submit((envelope, mandatory))

    async def publish_again_on_failure(
        self, envelope: Envelope, *, within: float, mandatory: bool = True
    ) -> bool:
        """``publish``, tried again with backoff while it fails (the channel closed with the
        confirm outstanding: RabbitMQ lost the node we were on, say) for up to ``within``
        seconds; then its ``TransportError``. Only for a message its consumer deduplicates on
        its id (a request, an answer): a failed publish may have been enqueued after all."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        attempt = 0
        while True:
            try:
                return await self.publish(envelope, mandatory=mandatory)
            except TransportError as exc:
                attempt += 1
                delay = backoff_delay(attempt, base=0.2, cap=2.0)
                if loop.time() + delay > deadline:
                    raise
                log.warning(
                    "publishing %s %s was not confirmed (%s); publishing it again in %.1fs "
                    "(same id: it is kept once)",
                    envelope.message_type,
                    envelope.message_id,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)

    async def publish_batch(self, batch: Batch) -> list[bool]:
        """Publish (envelope, mandatory) pairs in one write; routed or not, per pair. A
        failure (closed channel, refused publish, no confirm in time) fails the whole batch."""
        if not batch:
            return []
        if self._channel.is_closed:
            raise TransportError(f"publish failed: {self._channel!r} is closed")
        try:
            return await self._send(batch)
        except (AMQPError, ChannelInvalidStateError, OSError, TimeoutError) as exc:
            where = sorted({envelope.exchange for envelope, _ in batch})
            raise TransportError(f"publish to {where} failed: {exc!r}") from exc
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # we were cancelled
            # aio-pika closes a channel with a CancelledError, which aiormq hands to every
            # pending confirmation: for us that is a lost channel, not a cancellation.
            raise TransportError("publish failed: the channel closed") from exc

    async def _send_plainly(self, batch: Batch) -> list[bool]:
        async with asyncio.timeout(self._timeout):
            return list(await asyncio.gather(*(self._publish_one(*pair) for pair in batch)))

    async def _publish_one(self, envelope: Envelope, mandatory: bool) -> bool:
        exchange = await self._channel.get_exchange(envelope.exchange, ensure=False)
        try:
            answer = await exchange.publish(
                _message(envelope), envelope.routing_key, mandatory=mandatory
            )
        except PublishError:  # returned, on a channel opened with on_return_raises=True
            return False
        # aio-pika documents the answer: the Basic.Ack frame once routed (None without
        # publisher confirms) or, returned unroutable, the returned message, which has a body.
        return not hasattr(answer, "body")


def _fast(channel: AbstractChannel, timeout: float) -> Callable[[Batch], Awaitable[list[bool]]]:
    from hitl.adapters.amqp import wire  # only the fast path imports it: an upgrade may break it

    return functools.partial(wire.publish, channel, timeout=timeout)


def _message(envelope: Envelope) -> Message:
    return Message(
        envelope.body,
        content_type="application/json",
        delivery_mode=PERSISTENT,
        type=envelope.message_type,
        message_id=envelope.message_id,
        correlation_id=envelope.correlation_id,
        headers=dict(envelope.headers) if envelope.headers else None,
        reply_to=envelope.reply_to,
        user_id=envelope.user_id,
    )
