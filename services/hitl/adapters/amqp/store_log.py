"""The store log: a RabbitMQ stream of every request producers publish and every final
lifecycle event (resolved, cancelled, timed out: each carries its outcome), kept for the
retention period, outside Redis.

Nothing publishes to it on purpose: it is bound to the requests exchange (``#``) and to the
events exchange (``resolved.*``, ``cancelled.*``, ``timed_out.*``), so RabbitMQ keeps a copy of
what it routes there anyway; the broker's hot path is unchanged. A stream is read without being
consumed, from a point in time, by any number of readers: after Redis came back with less than
it had, a broker reads it from the moment the restored data ends and puts back what is missing
(``hitl.broker.integrity``).
"""

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

from hitl.adapters.amqp.topology import declare_exchanges, declare_queue
from hitl.errors import TransportError
from hitl_contract.wire import Names

FINAL_EVENTS = ("resolved", "cancelled", "timed_out")
MARK_TYPE = "hitl.store-log-mark"  # the reader's own end marker, skipped by readers
_PREFETCH = 1000


def store_log_queue(names: Names) -> str:
    return f"{names.namespace}.store-log"


async def declare_store_log(channel: AbstractChannel, names: Names, max_age_seconds: int) -> None:
    """Declare the stream and its bindings; safe on every start."""
    await declare_exchanges(channel, names)
    arguments: dict[str, str | int] = {"x-queue-type": "stream", "x-max-age": f"{max_age_seconds}s"}
    queue = await declare_queue(channel, store_log_queue(names), arguments)
    await queue.bind(names.requests, "#")
    for event in FINAL_EVENTS:
        await queue.bind(names.events, f"{event}.*")


async def read_store_log(
    connection: AbstractConnection,
    names: Names,
    since: float | None,
    handle: Callable[[AbstractIncomingMessage], None],
    *,
    timeout: float = 120.0,
) -> int:
    """Hand every message of the log from ``since`` (seconds; None: from the first one kept)
    up to now to ``handle``; how many. "Up to now": a marker of its own is appended first,
    and reading stops there. Raises ``TransportError`` when the log cannot be read whole."""
    name = store_log_queue(names)
    mark = f"mark:{uuid.uuid4().hex}"
    done = asyncio.Event()
    read = 0

    async def on_message(message: AbstractIncomingMessage) -> None:
        nonlocal read
        if message.type == MARK_TYPE:
            if message.message_id == mark:
                done.set()
        elif not done.is_set():
            read += 1
            handle(message)
        await message.ack()

    channel = await connection.channel(publisher_confirms=True)
    try:
        await channel.set_qos(prefetch_count=_PREFETCH)
        queue = await channel.get_queue(name, ensure=True)
        marker = aio_pika.Message(b"", type=MARK_TYPE, message_id=mark)
        await channel.default_exchange.publish(marker, routing_key=name, mandatory=True)
        offset: datetime | str = "first" if since is None else datetime.fromtimestamp(since, UTC)
        tag = await queue.consume(on_message, arguments={"x-stream-offset": offset})
        try:
            async with asyncio.timeout(timeout):
                await done.wait()
        finally:
            with contextlib.suppress(Exception):
                await queue.cancel(tag)
    except TimeoutError as exc:
        raise TransportError(f"the store log {name} was not read to its end in {timeout}s") from exc
    except aio_pika.exceptions.AMQPError as exc:
        raise TransportError(f"the store log {name} could not be read: {exc!r}") from exc
    finally:
        with contextlib.suppress(Exception):
            await channel.close()
    return read
