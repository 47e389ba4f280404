"""Acknowledging deliveries.

On the fast path (``fast=True``, the default) acks issued in the same loop turn are written
together, one buffer of ``basic.ack`` frames per channel, instead of one socket write each, and
nothing waits for the write (``wire.write_acks``). With ``fast=False`` each ack is aio-pika's
public ``IncomingMessage.ack()``, which writes it and waits for the write: for when an aio-pika
or aiormq upgrade breaks the fast path (see the docstring of ``hitl.adapters.amqp.wire``).
Either way a closed channel fails the ack with ``TransportError``."""

import functools
from collections.abc import Awaitable, Callable, Sequence

from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import AMQPConnectionError, ChannelInvalidStateError

from hitl.errors import TransportError
from hitl.runtime.coalescer import Coalescer

WriteAcks = Callable[[Sequence[AbstractIncomingMessage]], Awaitable[list[TransportError | None]]]


class Acker:
    def __init__(self, *, fast: bool = True) -> None:
        self._acks: Coalescer[AbstractIncomingMessage, None] | None = (
            Coalescer(_fast()) if fast else None
        )

    async def ack(self, message: AbstractIncomingMessage) -> None:
        """Ack once the delivery's effect is committed; the caller must not ack it again."""
        if self._acks is None:
            await _ack_plainly(message)
        else:
            await self._acks.submit(message)


async def ack_at_once(message: AbstractIncomingMessage, *, fast: bool = True) -> None:
    """On the fast path, queue the ack's frame for the connection's writer now, without
    waiting for it to be written: the writer, woken first, writes it before any task woken
    after this call runs. (The queue is bounded; only when it is full does this wait for
    room.) With ``fast=False``, aio-pika's ``message.ack()``: written before this returns."""
    if not fast:
        await _ack_plainly(message)
    elif message.delivery_tag is not None:
        [error] = await _fast()([message])
        if error is not None:
            raise error


@functools.cache
def _fast() -> WriteAcks:
    from hitl.adapters.amqp import wire  # only the fast path imports it: an upgrade may break it

    return wire.write_acks


async def _ack_plainly(message: AbstractIncomingMessage) -> None:
    try:
        await message.ack()
    except (ChannelInvalidStateError, AMQPConnectionError, OSError) as exc:
        raise TransportError(f"cannot ack: the channel closed ({exc!r})") from exc
