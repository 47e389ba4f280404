"""Acknowledging deliveries in batches: acks issued in the same loop turn are written together,
one buffer of ``basic.ack`` frames per channel, instead of one socket write each. Like aiormq's
own ``basic_ack``, an ack needs no reply; unlike it, nothing waits for the write."""

from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import ChannelInvalidStateError
from aiormq import Channel
from aiormq.abc import ChannelFrame
from pamqp.commands import Basic

from hitl.adapters.batching import Coalescer
from hitl.errors import TransportError


class Acker:
    def __init__(self) -> None:
        self._acks: Coalescer[AbstractIncomingMessage, None] = Coalescer(self._flush)

    async def ack(self, message: AbstractIncomingMessage) -> None:
        """Ack once the delivery's effect is committed; the caller must not ack it again."""
        await self._acks.submit(message)

    async def _flush(self, messages: list[AbstractIncomingMessage]) -> list[TransportError | None]:
        tags: dict[Channel, list[int]] = {}
        results: list[TransportError | None] = [None] * len(messages)
        for n, message in enumerate(messages):
            try:
                channel = _channel(message)
            except TransportError as exc:
                results[n] = exc
                continue
            if message.delivery_tag is not None:
                tags.setdefault(channel, []).append(message.delivery_tag)
        for channel, delivered in tags.items():
            await _write_acks(channel, delivered)
        return results


async def ack_at_once(message: AbstractIncomingMessage) -> None:
    """Queue the ack's frame for the connection's writer now, without waiting for it to be
    written: the writer, woken first, writes it before any task woken after this call runs.
    (The queue is bounded; only when it is full does this wait for room.)"""
    if message.delivery_tag is not None:
        await _write_acks(_channel(message), [message.delivery_tag])


def _channel(message: AbstractIncomingMessage) -> Channel:
    try:
        channel = message.channel  # the aiormq channel it arrived on
    except ChannelInvalidStateError as exc:
        raise TransportError(f"cannot ack: the channel closed ({exc!r})") from exc
    assert isinstance(channel, Channel)
    return channel


async def _write_acks(channel: Channel, tags: list[int]) -> None:
    frames = [Basic.Ack(delivery_tag=tag) for tag in tags]
    # aiormq's write queue is bounded (10 frames): put waits for room, and only then.
    await channel.write_queue.put(
        ChannelFrame.marshall(channel_number=channel.number, frames=frames)
    )
