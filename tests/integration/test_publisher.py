"""The publisher against the real RabbitMQ, on both paths: on the fast one concurrent
publishes share one frame write, and on either each still gets its own confirm, its own
unroutable verdict and its bytes intact, and fails with a TransportError the same way."""

import asyncio
from collections.abc import AsyncIterator

import aio_pika
import pytest
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractQueue,
    AbstractRobustConnection,
)

from hitl.adapters.amqp.publisher import Publisher
from hitl.errors import TransportError
from hitl.ports import Envelope


@pytest.fixture(params=[True, False], ids=["fast", "plain"])
def fast(request: pytest.FixtureRequest) -> bool:
    """``Publisher(fast=...)``: frames written on aiormq's channel, or aio-pika's public API."""
    return bool(request.param)


@pytest.fixture(autouse=True)
async def _scratch_exchange_deleted(
    amqp: AbstractRobustConnection, namespace: str
) -> AsyncIterator[None]:
    """The tests' exchange is not one of the namespace's, which its teardown deletes."""
    yield
    channel = await amqp.channel()
    await channel.exchange_delete(f"{namespace}.x")
    await channel.close()


async def bound_queue(
    amqp: AbstractRobustConnection, namespace: str, *, confirms: bool
) -> tuple[AbstractChannel, AbstractExchange, AbstractQueue]:
    """A channel, a direct exchange, and an exclusive queue bound to it with key ``bound``."""
    channel = await amqp.channel(publisher_confirms=confirms)
    exchange = await channel.declare_exchange(f"{namespace}.x", "direct", auto_delete=True)
    queue = await channel.declare_queue(f"{namespace}.q", exclusive=True)
    await queue.bind(exchange, "bound")
    return channel, exchange, queue


async def test_a_batch_of_publishes_is_confirmed_and_routed_one_by_one(
    amqp: AbstractRobustConnection, namespace: str, fast: bool
) -> None:
    channel, exchange, queue = await bound_queue(amqp, namespace, confirms=True)
    publisher = Publisher(channel, fast=fast)
    big = b"x" * 300_000  # several content frames (frame_max is 128 KiB)
    envelopes = [
        Envelope(exchange.name, "bound" if n % 3 else "nowhere", b"%d" % n, "t", f"m{n}")
        for n in range(30)
    ] + [Envelope(exchange.name, "bound", big, "t", "big", "c", {"h": "v"}, reply_to="r")]

    routed = await asyncio.gather(*(publisher.publish(e) for e in envelopes))

    assert routed == [n % 3 != 0 for n in range(30)] + [True]
    got = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        got.append(message)
    assert [m.message_id for m in got] == [
        e.message_id for e in envelopes if e.routing_key == "bound"
    ]
    assert got[-1].body == big
    last = got[-1]
    assert (last.reply_to, last.headers, last.delivery_mode, last.correlation_id) == (
        "r",
        {"h": "v"},
        aio_pika.DeliveryMode.PERSISTENT,
        "c",
    )
    assert (last.content_type, last.type) == ("application/json", "t")
    assert got[0].body == b"1"
    await channel.close()


async def test_without_mandatory_an_unbound_publish_counts_as_routed(
    amqp: AbstractRobustConnection, namespace: str, fast: bool
) -> None:
    channel = await amqp.channel(publisher_confirms=True)
    exchange = await channel.declare_exchange(f"{namespace}.x", "topic", auto_delete=True)
    publisher = Publisher(channel, fast=fast)
    envelope = Envelope(exchange.name, "a.b", b"{}", "t", "m")
    assert await publisher.publish(envelope, mandatory=False)
    assert not await publisher.publish(envelope)
    await channel.close()


async def test_a_publish_the_server_refuses_fails_the_batch_with_a_transport_error(
    amqp: AbstractRobustConnection, namespace: str, fast: bool
) -> None:
    channel = await amqp.channel(publisher_confirms=True)
    publisher = Publisher(channel, fast=fast)
    missing = Envelope(f"{namespace}.no-such-exchange", "k", b"{}", "t", "m")
    with pytest.raises(TransportError, match="no-such-exchange"):
        await publisher.publish_batch([(missing, True), (missing, False)])
    await channel.close()
    with pytest.raises(TransportError, match="closed"):
        await publisher.publish(missing)


async def test_on_a_channel_without_confirms_a_publish_is_done_once_written(
    amqp: AbstractRobustConnection, namespace: str, fast: bool
) -> None:
    channel, exchange, queue = await bound_queue(amqp, namespace, confirms=False)
    publisher = Publisher(channel, confirm_timeout=2.0, fast=fast)
    sent = [Envelope(exchange.name, "bound", b"%d" % n, "t", f"m{n}") for n in range(3)]
    assert await asyncio.gather(*(publisher.publish(e) for e in sent)) == [True, True, True]
    got = []
    while len(got) < 3:
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            await asyncio.sleep(0.01)
        else:
            got.append(message.message_id)
    assert got == ["m0", "m1", "m2"]
    await channel.close()


async def test_no_confirm_in_time_is_a_transport_error(
    amqp: AbstractRobustConnection, namespace: str, fast: bool
) -> None:
    channel, exchange, _ = await bound_queue(amqp, namespace, confirms=True)
    publisher = Publisher(channel, confirm_timeout=0.0, fast=fast)  # nothing is that fast
    with pytest.raises(TransportError, match="TimeoutError"):
        await publisher.publish(Envelope(exchange.name, "bound", b"{}", "t", "m"))
    await channel.close()


async def test_the_plain_path_says_unroutable_on_a_channel_that_raises_on_returns(
    amqp: AbstractRobustConnection, namespace: str
) -> None:
    channel = await amqp.channel(publisher_confirms=True, on_return_raises=True)
    exchange = await channel.declare_exchange(f"{namespace}.x", "direct", auto_delete=True)
    publisher = Publisher(channel, fast=False)  # aio-pika raises PublishError for the return
    assert not await publisher.publish(Envelope(exchange.name, "nowhere", b"{}", "t", "m"))
    await channel.close()
