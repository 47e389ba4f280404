"""Publishing with publisher confirms and ``mandatory``: a publish returns only once RabbitMQ
took responsibility for the message, and says whether any queue was bound to receive it.

Publishes go out with group commit (``Coalescer``): one at once when nothing is in flight;
under load, those started while a batch waits for its confirms go out together next, their
frames marshalled into one buffer and written with one syscall, one deadline for all their
confirms. aiormq has no batch publish, so ``_write`` does what its ``basic_publish`` does
per message (delivery tag, confirmation future, message id for returns, all under the channel
lock), with the channel attributes aiormq exposes for that; the pinned aiormq version is tested
against the real RabbitMQ (tests/test_publisher.py), returns and confirms included.
``publish_batch`` is that step on its own, for callers that assemble their batches
themselves.
"""

import asyncio
from collections.abc import Callable, Sequence

from aio_pika.abc import AbstractChannel
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError
from aiormq import Channel
from aiormq.abc import ChannelFrame, DeliveredMessage

from hitl.adapters.amqp.envelope import Envelope
from hitl.adapters.amqp.frames import publish_frames
from hitl.adapters.batching import Coalescer
from hitl.errors import TransportError


class Publisher:
    def __init__(self, channel: AbstractChannel, *, confirm_timeout: float = 30.0) -> None:
        self._channel = channel
        self._timeout = confirm_timeout
        self._batches: Coalescer[tuple[Envelope, bool], bool] = Coalescer(
            self.publish_batch, one_at_a_time=True
        )

    async def publish(self, envelope: Envelope, *, mandatory: bool = True) -> bool:
        """True once confirmed and routed; False if confirmed but no queue took it."""
        return await self._batches.submit((envelope, mandatory))

    async def publish_batch(self, batch: list[tuple[Envelope, bool]]) -> list[bool]:
        """Publish (envelope, mandatory) pairs in one write; routed or not, per pair. A
        failure (closed channel, refused publish, no confirm in time) fails the whole batch."""
        if not batch:
            return []
        if self._channel.is_closed:
            raise TransportError(f"publish failed: {self._channel!r} is closed")
        try:
            # The current aiormq channel under aio-pika's robust one (also after a reconnect).
            channel = await self._channel.get_underlay_channel()
            assert isinstance(channel, Channel)
            async with asyncio.timeout(self._timeout):
                answers = await asyncio.gather(*await _write(channel, batch))
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
        return [not isinstance(answer, DeliveredMessage) for answer in answers]


async def _write(
    channel: Channel, batch: Sequence[tuple[Envelope, bool]]
) -> list["asyncio.Future[object]"]:
    """Marshal every publish of the batch into one frame buffer and queue it for the writer;
    the futures resolve with each one's confirm (or the returned message, if unroutable)."""
    frames: list[bytes] = []
    confirmations: list[asyncio.Future[object]] = []
    async with channel.lock:
        first_tag = channel.delivery_tag
        try:
            for envelope, mandatory in batch:
                confirmation: asyncio.Future[object] = channel.create_future()
                confirmations.append(confirmation)
                frames.append(
                    publish_frames(channel.number, envelope, mandatory, channel.max_content_size)
                )
                if not channel.publisher_confirms:  # nothing will come back: done once written
                    confirmation.set_result(None)
                    continue
                channel.delivery_tag += 1
                tag = channel.delivery_tag
                channel.confirmations[tag] = confirmation
                channel.message_id_delivery_tag[envelope.message_id] = tag
                confirmation.add_done_callback(_forget(channel, envelope.message_id, tag))
            await channel.write_queue.put(ChannelFrame(b"".join(frames), should_close=False))
        except BaseException:
            # Nothing reached the writer: give the delivery tags back, as aiormq does.
            for tag in range(first_tag + 1, channel.delivery_tag + 1):
                channel.confirmations.pop(tag, None)
            channel.delivery_tag = first_tag
            for confirmation in confirmations:
                confirmation.cancel()
            raise
    return confirmations


def _forget(channel: Channel, message_id: str, tag: int) -> Callable[[object], None]:
    def forget(_: object) -> None:
        if channel.message_id_delivery_tag.get(message_id) == tag:
            del channel.message_id_delivery_tag[message_id]

    return forget
