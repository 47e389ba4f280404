"""Deleting what a namespace declared: its queues and exchanges (tests, benchmarks, retiring a
namespace). Messages still in those queues are lost: never for a namespace a broker uses."""

import contextlib
import logging
from collections.abc import Iterable

from aio_pika.abc import AbstractConnection
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError

from hitl.adapters.amqp.store_log import store_log_queue
from hitl_contract.wire import Names

log = logging.getLogger(__name__)


async def delete_topology(
    connection: AbstractConnection,
    names: Names,
    reply_to: Iterable[str] = (),
    *,
    queues: Iterable[str] = (),
) -> None:
    """Delete the broker's queues, the dead-letter queue, the store log, the reply queues of the
    ``reply_to`` services and any other ``queues``, then every exchange of ``names``."""
    await delete_queues_and_exchanges(
        connection,
        [
            names.requests_queue,
            names.responses_queue,
            names.dead_letter_queue,
            store_log_queue(names),
            *(names.reply_queue(service) for service in reply_to),
            *queues,
        ],
        [*names.exchanges, names.dead_letter],
    )


async def delete_queues_and_exchanges(
    connection: AbstractConnection, queues: Iterable[str], exchanges: Iterable[str]
) -> None:
    """Delete each queue, then each exchange, each on a channel of its own (a refused delete
    closes its channel). One that does not exist is no error; a refused one is logged and
    skipped."""
    for kind, entities in (("queue", queues), ("exchange", exchanges)):
        for name in entities:
            channel = await connection.channel()
            try:
                if kind == "queue":
                    await channel.queue_delete(name)
                else:
                    await channel.exchange_delete(name)
            except (AMQPError, ChannelInvalidStateError) as exc:
                log.warning("could not delete %s %r: %r", kind, name, exc)
            finally:
                with contextlib.suppress(AMQPError, ChannelInvalidStateError):
                    await channel.close()
