"""The fast path: the one module that reaches below aio-pika's public API, into aiormq's
channel and pamqp's frames. Nothing else in services/ imports aiormq or pamqp
(tests/unit/test_wire_boundary.py holds that).

It does four things aio-pika does, with less work per message:

- **Frames**: a publish marshalled by hand, byte for byte pamqp's (tests/unit/test_frames.py),
  about six times faster; pamqp for the rare shapes.
- **Publishing**: a batch of publishes written as one buffer, one syscall, with a publisher
  confirm per message (aiormq has no batch publish).
- **Acks**: the acks of one loop turn written as one buffer of ``basic.ack`` frames per
  channel, nothing waiting for the write.
- **Consuming**: a consumer registered with the aiormq channel itself, so the handler runs in
  aiormq's delivery task instead of a task of aio-pika's more.

Each place that relies on something aio-pika, aiormq or pamqp does not document says what, in
a comment starting ``Relies on``. Checked against aio-pika 10.2.1, aiormq 7.2.4 and pamqp
4.0.1 (uv.lock), and the whole suite against the floors pyproject.toml allows (aio-pika 10.1,
aiormq 7.2.0, pamqp 4.0.0), by the unit and integration tests named above and in
tests/integration (test_publisher.py, test_acks.py, test_consumer.py run each test on both
paths); pyproject.toml caps each below its next minor version.

**When to turn it off.** ``Publisher``, ``Acker``, ``ack_at_once``, ``Consumer`` and
``consume`` take ``fast=True`` by default (what the benchmarks measure). With ``fast=False``
they use aio-pika's public API only (``Exchange.publish``, ``IncomingMessage.ack``,
``Queue.consume``) and never import this module. Turn it off when an aio-pika, aiormq or pamqp
upgrade breaks it: this module fails to import, those tests fail on the fast path only, or
publishes, acks or deliveries misbehave after the upgrade and not before. The plain path costs
a socket write per publish and per ack, and a task more per delivery; behaviour is the same.
"""

import asyncio
import struct
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from aio_pika.exceptions import ChannelInvalidStateError
from aio_pika.message import IncomingMessage
from aiormq import Channel
from aiormq.abc import ChannelFrame, DeliveredMessage
from pamqp.body import ContentBody
from pamqp.commands import Basic
from pamqp.constants import DOMAIN_REGEX
from pamqp.frame import marshal
from pamqp.header import ContentHeader

from hitl.errors import TransportError
from hitl.ports import Envelope
from hitl_contract.wire import PERSISTENT

Batch = Sequence[tuple[Envelope, bool]]  # (envelope, mandatory) pairs
Handler = Callable[[AbstractIncomingMessage], Awaitable[None]]


async def _aiormq_channel(channel: AbstractChannel) -> Channel:
    """The current aiormq channel under aio-pika's (robust) one, also after a reconnect.

    Relies on: ``get_underlay_channel()`` (public in aio-pika 10.2.1) returning an
    ``aiormq.Channel``, the class whose attributes the functions below use."""
    underlay = await channel.get_underlay_channel()
    assert isinstance(underlay, Channel)
    return underlay


# --- Frames -----------------------------------------------------------------------------------
#
# A publish is three kinds of frame (AMQP 0-9-1, section 4.2): the basic.publish method, the
# content header with the properties, and the body in frames of at most ``max_content`` bytes.
# Only the properties hitl sets are written by hand (content type, headers of text values such
# as the trace context's, delivery mode, correlation id, reply-to, message id, type). A message
# with other headers (dead letters) or a user id (answers), an empty message id or type, an
# exchange name pamqp would refuse, or a string too long for an AMQP short string goes through
# pamqp instead, errors included.

_METHOD, _HEADER, _BODY, _END = 1, 2, 3, b"\xce"
_BASIC, _PUBLISH = 60, 40
# Basic property flags, in the order the properties follow them on the wire.
_CONTENT_TYPE, _HEADERS, _DELIVERY_MODE, _CORRELATION_ID, _REPLY_TO, _MESSAGE_ID, _TYPE = (
    0x8000,
    0x2000,
    0x1000,
    0x0400,
    0x0200,
    0x0080,
    0x0020,
)
_JSON = b"\x10application/json"
_frame_head: Callable[..., bytes] = struct.Struct(">BHI").pack
_header_head: Callable[..., bytes] = struct.Struct(">HHQH").pack
_long: Callable[..., bytes] = struct.Struct(">I").pack


def publish_frames(channel: int, envelope: Envelope, mandatory: bool, max_content: int) -> bytes:
    """The frames of one publish on channel number ``channel``, as pamqp would write them."""
    if envelope.user_id or not _plain(envelope):
        return pamqp_frames(channel, envelope, mandatory, max_content)
    table = _table(envelope.headers) if envelope.headers else None
    if envelope.headers and table is None:
        return pamqp_frames(channel, envelope, mandatory, max_content)
    try:
        exchange = _short(envelope.exchange)
        routing_key = _short(envelope.routing_key)
        message_id = _short(envelope.message_id)
        message_type = _short(envelope.message_type)
        correlation_id = _short(envelope.correlation_id) if envelope.correlation_id else None
        reply_to = _short(envelope.reply_to) if envelope.reply_to else None
    except _TooLong:
        return pamqp_frames(channel, envelope, mandatory, max_content)
    method = b"".join(
        (
            b"\x00\x3c\x00\x28\x00\x00",  # class 60 (basic), method 40 (publish), ticket 0
            exchange,
            routing_key,
            b"\x01" if mandatory else b"\x00",
        )
    )
    flags = _CONTENT_TYPE | _DELIVERY_MODE | _MESSAGE_ID | _TYPE
    properties = [_JSON]
    if table is not None:
        flags |= _HEADERS
        properties.append(table)
    properties.append(b"\x02")
    if correlation_id is not None:
        flags |= _CORRELATION_ID
        properties.append(correlation_id)
    if reply_to is not None:
        flags |= _REPLY_TO
        properties.append(reply_to)
    properties += (message_id, message_type)
    body = envelope.body
    header = _header_head(_BASIC, 0, len(body), flags) + b"".join(properties)
    out = [
        _frame_head(_METHOD, channel, len(method)),
        method,
        _END,
        _frame_head(_HEADER, channel, len(header)),
        header,
        _END,
    ]
    for i in range(0, len(body), max_content):
        chunk = body[i : i + max_content]
        out += (_frame_head(_BODY, channel, len(chunk)), chunk, _END)
    return b"".join(out)


class _TooLong(Exception):
    pass


# The table most traced messages carry: a version-00 traceparent (55 characters) alone.
_TRACEPARENT_ALONE = _long(1 + 11 + 1 + 4 + 55) + b"\x0btraceparentS" + _long(55)


def _table(headers: Mapping[str, object]) -> bytes | None:
    """A field table of text values (``S``, long strings), names sorted as pamqp writes them;
    None for any other kind of value, or a name pamqp would cut."""
    if len(headers) == 1:
        value = headers.get("traceparent")
        if type(value) is str and len(value) == 55 and value.isascii():
            return _TRACEPARENT_ALONE + value.encode()
    fields: list[bytes] = []
    for name, value in sorted(headers.items()):
        if type(value) is not str:
            return None
        key = name.encode()
        if len(key) > 128:
            return None
        data = value.encode()
        fields += (bytes((len(key),)), key, b"S", _long(len(data)), data)
    table = b"".join(fields)
    return _long(len(table)) + table


# Relies on: pamqp 4.0.1 checking exchange names against DOMAIN_REGEX["exchange-name"] (and at
# most 127 characters) when it builds a Basic.Publish; we refuse the same names the same way.
_EXCHANGE_NAME = DOMAIN_REGEX["exchange-name"]
_exchanges_seen: set[str] = set()  # names known to pass pamqp's checks


def _plain(envelope: Envelope) -> bool:
    """True when pamqp would write every property we write (it leaves out empty strings)
    and accept the exchange name (it refuses bad ones before anything is sent)."""
    if not (envelope.message_id and envelope.message_type):
        return False
    exchange = envelope.exchange
    if exchange not in _exchanges_seen:
        if len(exchange) > 127 or not _EXCHANGE_NAME.fullmatch(exchange):
            return False
        if len(_exchanges_seen) < 1024:
            _exchanges_seen.add(exchange)
    return True


def _short(text: str) -> bytes:
    data = text.encode()
    if len(data) > 255:
        raise _TooLong
    return bytes((len(data),)) + data


def pamqp_frames(channel: int, envelope: Envelope, mandatory: bool, max_content: int) -> bytes:
    """The same frames through pamqp: the fallback, and the reference the tests hold
    ``publish_frames`` to."""
    properties = Basic.Properties(
        content_type="application/json",
        delivery_mode=PERSISTENT,
        message_type=envelope.message_type,
        message_id=envelope.message_id,
        correlation_id=envelope.correlation_id,
        headers=dict(envelope.headers) if envelope.headers else None,
        reply_to=envelope.reply_to,
        user_id=envelope.user_id,
    )
    body = envelope.body
    frames: list[object] = [
        Basic.Publish(
            exchange=envelope.exchange, routing_key=envelope.routing_key, mandatory=mandatory
        ),
        ContentHeader(properties=properties, body_size=len(body)),
        *(ContentBody(body[i : i + max_content]) for i in range(0, len(body), max_content)),
    ]
    return b"".join(marshal(frame, channel) for frame in frames)  # type: ignore[arg-type]


# --- Publishing -------------------------------------------------------------------------------
#
# aiormq's ``basic_publish`` writes one message per call. ``write_publishes`` does what it does
# for each message of a batch (delivery tag, confirmation future, message id for returns, all
# under the channel lock), then queues all their frames for the connection's writer at once.


async def publish(channel: AbstractChannel, batch: Batch, timeout: float) -> list[bool]:
    """Publish the batch in one write; per message, True once confirmed and routed, False if
    confirmed but returned unroutable. Errors are aiormq's and aio-pika's (the caller
    translates them), or TimeoutError when the confirms take longer than ``timeout``."""
    async with asyncio.timeout(timeout):  # a robust channel waits for its reconnect: bounded
        underlay = await _aiormq_channel(channel)
        answers = await asyncio.gather(*await write_publishes(underlay, batch))
    # Relies on: aiormq resolving the confirmation of a returned mandatory message with the
    # returned DeliveredMessage (aio-pika opens channels with on_return_raises=False), and of
    # a routed one with the Basic.Ack frame (or None, without publisher confirms).
    return [not isinstance(answer, DeliveredMessage) for answer in answers]


async def write_publishes(channel: Channel, batch: Batch) -> list["asyncio.Future[object]"]:
    """Marshal every publish of the batch into one frame buffer and queue it for the writer;
    the futures resolve with each one's confirm (or the returned message, if unroutable).
    (The benchmarks' tracer marks this step.)"""
    frames: list[bytes] = []
    confirmations: list[asyncio.Future[object]] = []
    # Relies on: aiormq's ``lock`` (the one basic_publish takes: it serialises delivery tags
    # with other publishes, and raises ChannelInvalidStateError once the channel closed).
    async with channel.lock:
        # Relies on: ``delivery_tag``, the sequence number of the last publish that RabbitMQ's
        # confirms count; aiormq adds one per publish, and gives it back if nothing was sent.
        first_tag = channel.delivery_tag
        try:
            for envelope, mandatory in batch:
                confirmation: asyncio.Future[object] = channel.create_future()
                confirmations.append(confirmation)
                # Relies on: ``number`` (the channel number) and ``max_content_size`` (the
                # negotiated frame_max less a body frame's overhead), set when aiormq opens it.
                frames.append(
                    publish_frames(channel.number, envelope, mandatory, channel.max_content_size)
                )
                if not channel.publisher_confirms:  # nothing will come back: done once written
                    confirmation.set_result(None)
                    continue
                _expect_confirm(channel, envelope.message_id, confirmation)
            # Relies on: ``write_queue``, the connection writer's queue (bounded: put waits
            # for room), taking a ChannelFrame whose payload is written to the socket as is.
            await channel.write_queue.put(ChannelFrame(b"".join(frames), should_close=False))
        except BaseException:
            _give_back(channel, first_tag, confirmations)
            raise
    return confirmations


def _expect_confirm(
    channel: Channel, message_id: str, confirmation: "asyncio.Future[object]"
) -> None:
    """Register the next delivery tag's confirmation, as basic_publish does.

    Relies on: aiormq's reader resolving ``confirmations[tag]`` on Basic.Ack (Nack and Reject:
    DeliveryError; ``multiple`` included; all of them rejected when the channel closes), and
    finding a Basic.Return's confirmation through ``message_id_delivery_tag[message_id]``."""
    channel.delivery_tag += 1
    tag = channel.delivery_tag
    channel.confirmations[tag] = confirmation
    channel.message_id_delivery_tag[message_id] = tag
    confirmation.add_done_callback(_forget(channel, message_id, tag))


def _forget(channel: Channel, message_id: str, tag: int) -> Callable[[object], None]:
    """Once confirmed, the message id no longer leads to this tag (basic_publish does this)."""

    def forget(_: object) -> None:
        if channel.message_id_delivery_tag.get(message_id) == tag:
            del channel.message_id_delivery_tag[message_id]

    return forget


def _give_back(
    channel: Channel, first_tag: int, confirmations: list["asyncio.Future[object]"]
) -> None:
    """Nothing reached the writer: give the delivery tags back, as aiormq does."""
    for tag in range(first_tag + 1, channel.delivery_tag + 1):
        channel.confirmations.pop(tag, None)
    channel.delivery_tag = first_tag
    for confirmation in confirmations:
        confirmation.cancel()


# --- Acks -------------------------------------------------------------------------------------
#
# Like aiormq's own ``basic_ack``, an ack needs no reply; unlike it, nothing waits for the write.


async def write_acks(messages: Sequence[AbstractIncomingMessage]) -> list[TransportError | None]:
    """Queue one buffer of ``basic.ack`` frames per channel for the connection's writer, without
    waiting for it to be written; per message, None or why it could not be acked."""
    tags: dict[Channel, list[int]] = {}
    results: list[TransportError | None] = [None] * len(messages)
    for n, message in enumerate(messages):
        try:
            channel = _arrived_on(message)
        except TransportError as exc:
            results[n] = exc
            continue
        if message.delivery_tag is not None:
            tags.setdefault(channel, []).append(message.delivery_tag)
    for channel, delivered in tags.items():
        frames = [Basic.Ack(delivery_tag=tag) for tag in delivered]
        # Relies on: ``write_queue`` (see write_publishes; aiormq 7.2.4 bounds it at 10
        # frames: put waits for room, and only then) and ChannelFrame.marshall, the helper
        # aiormq's basic_ack writes with.
        await channel.write_queue.put(
            ChannelFrame.marshall(channel_number=channel.number, frames=frames)
        )
    return results


def _arrived_on(message: AbstractIncomingMessage) -> Channel:
    """Relies on: aio-pika's ``IncomingMessage.channel`` being the aiormq channel the delivery
    arrived on (ChannelInvalidStateError once it closed)."""
    try:
        channel = message.channel
    except ChannelInvalidStateError as exc:
        raise TransportError(f"cannot ack: the channel closed ({exc!r})") from exc
    assert isinstance(channel, Channel)
    return channel


# --- Consuming --------------------------------------------------------------------------------


class DirectConsumer:
    """A consumer registered with the aiormq channel under a robust aio-pika channel, so its
    handler runs in aiormq's delivery task and gets the ``IncomingMessage`` aio-pika would
    build (acks, nacks and properties as usual). Re-attaching (after a reconnect, after
    RabbitMQ cancelled it) is the caller's: aio-pika does not know this consumer."""

    def __init__(
        self,
        tag: str,
        handler: Handler,
        on_cancelled: Callable[[], None],
        *,
        no_ack: bool = False,
    ) -> None:
        self.tag = tag
        self._handler = handler
        self._on_cancelled = on_cancelled  # RabbitMQ cancelled this consumer
        self._no_ack = no_ack

    async def attach(self, channel: AbstractChannel, queue: str) -> None:
        underlay = await _aiormq_channel(channel)
        # Relies on: aiormq calling each of ``on_consumer_cancel_callbacks`` with the
        # Basic.Cancel frame RabbitMQ sends when it cancels a consumer (its queue was deleted,
        # say). A set: adding the same bound method again on the same channel changes nothing.
        underlay.on_consumer_cancel_callbacks.add(self._cancelled_by_server)
        # Relies on: aiormq's basic_consume registering the callback under our consumer tag
        # before it sends basic.consume, and calling it in a task of its own per delivery.
        await underlay.basic_consume(
            queue, self._deliver, no_ack=self._no_ack, consumer_tag=self.tag
        )

    async def detach(self, channel: AbstractChannel) -> None:
        underlay = await _aiormq_channel(channel)
        await underlay.basic_cancel(self.tag)

    def _cancelled_by_server(self, frame: Any) -> None:
        if getattr(frame, "consumer_tag", None) == self.tag:
            self._on_cancelled()

    async def _deliver(self, message: DeliveredMessage) -> None:
        # Relies on: IncomingMessage(DeliveredMessage, no_ack=...) being how aio-pika's own
        # Queue.consume builds the message it hands to a callback.
        await self._handler(IncomingMessage(message, no_ack=self._no_ack))
