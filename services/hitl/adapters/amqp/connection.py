"""Opening a RabbitMQ connection: aio-pika's robust connection, named for the management UI.

One attempt; the runtime's start-up retries (``hitl.runtime.startup``) wrap it."""

import aio_pika
from aio_pika.abc import AbstractRobustConnection

# What a connection attempt raises when RabbitMQ is not there (yet).
AMQP_CONNECT_ERRORS: tuple[type[BaseException], ...] = (OSError, aio_pika.exceptions.AMQPError)


async def open_amqp(url: str, *, name: str) -> AbstractRobustConnection:
    return await aio_pika.connect_robust(url, client_properties={"connection_name": name})
