"""The gateway's event hub: lifecycle events from ``<ns>.events`` for SSE streams and
long-polls (``deps.EventHub``).

Each gateway replica declares a queue of its own (exclusive, deleted with its connection),
bound to the events exchange with ``#``, and feeds what arrives to a ``Fanout``, which holds
the recent events, drops repeats and serves every subscriber of this replica. Event ids are
the broker's, so a client may resume on another replica; the replicas' queues can interleave
events of different publishers differently, so a resume there may repeat or skip an event
published in the same instant: clients dedupe on the id, and a skipped one is a rare race
the next listing covers.

The queue is consumed through the host like any other, so /readyz shows the consumer and it is
re-attached after a reconnect. The host acks each delivery once the handler returned; the
handler only hands the batch over (decoded when someone on this replica listens:
``Fanout.defer``), so the acks cost little and bound what RabbitMQ has in flight to this
replica by the channel's prefetch. Events published while the connection was down never
reach the queue: when the channel reopens, every subscriber is told so (``EventsMissed``) and
the ring is emptied, instead of resuming across the hole.
"""

import functools
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from hitl.gateway.fanout import Fanout, StreamItem
from hitl.runtime.host import ServiceHost
from hitl_contract import LifecycleEvent, LifecycleEvents
from hitl_contract.wire import EVENT_TYPE, Names

log = logging.getLogger(__name__)
_PREFETCH = 512


class Hub:
    def __init__(self, names: Names, buffer_size: int, *, subscriber_limit: int = 1024) -> None:
        self.names = names
        self.queue_name = _queue_name(names)
        self.fanout = Fanout(buffer_size, subscriber_limit)

    async def start(self, host: ServiceHost) -> None:
        channel = await host.channel(confirms=False, prefetch=_PREFETCH)
        queue = await channel.declare_queue(self.queue_name, exclusive=True, auto_delete=True)
        await queue.bind(self.names.events, "#")  # the broker's exchange (ensure_broker_queues)
        channel.reopen_callbacks.add(self._reopened)
        await host.consume(
            channel, queue, self._on_message, source="events", on_failure=self._on_failure
        )
        host.on_stop("ending event streams", self.stop)

    async def stop(self) -> None:
        """End every stream and long-poll; safe to call again."""
        self.fanout.close()

    def subscribe(self, last_event_id: str | None = None) -> AsyncIterator[StreamItem]:
        return self.fanout.subscribe(last_event_id)

    async def wait_final(self, interaction_id: str, timeout: float) -> bool:
        return await self.fanout.wait_final(interaction_id, timeout)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        if message.type != EVENT_TYPE:
            log.warning("ignoring a message of type %r on %s", message.type, self.names.events)
            return
        # Decoded when someone subscribes or waits (Fanout.defer): until then, not at all.
        self.fanout.defer(functools.partial(_decode, message.body, message.routing_key))

    async def _on_failure(
        self, message: AbstractIncomingMessage, source: str, exc: Exception
    ) -> None:
        # A bug in handing events over: the host logged it; requeueing would only repeat it.
        await message.reject(requeue=False)

    async def _reopened(self, _: Any) -> None:
        self.fanout.lost("the gateway lost its connection to RabbitMQ; events may be missing")


def _decode(body: bytes, routing_key: str | None) -> list[LifecycleEvent]:
    try:
        return LifecycleEvents.model_validate_json(body).events
    except ValidationError as exc:  # not ours to fix: skip it, keep the stream going
        log.warning("ignoring unreadable lifecycle events (%s): %s", routing_key, exc)
        return []


def _queue_name(names: Names) -> str:
    """Unique per process, and readable in RabbitMQ's management UI."""
    instance = f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    return f"{names.namespace}.gateway.events.{instance}"
