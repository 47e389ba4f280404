"""Opening a RabbitMQ connection: aio-pika's robust connection, named for the management UI,
over TLS for an amqps:// URL (``tls`` gives the CA and client certificate files).

One attempt; the runtime's start-up retries (``hitl.runtime.startup``) wrap it."""

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractRobustConnection

from hitl.adapters.tls import TlsFiles

# What a connection attempt raises when RabbitMQ is not there (yet).
AMQP_CONNECT_ERRORS: tuple[type[BaseException], ...] = (OSError, aio_pika.exceptions.AMQPError)


async def open_amqp(
    url: str, *, name: str, tls: TlsFiles | None = None
) -> AbstractRobustConnection:
    context = tls.context() if tls is not None and url.startswith("amqps://") else None
    return await aio_pika.connect_robust(
        url, client_properties={"connection_name": name}, ssl_context=context
    )


def amqp_user(connection: AbstractConnection) -> str | None:
    """The user ``connection`` logged in as, for the AMQP user-id of what it publishes
    (RabbitMQ refuses a message whose user-id is not its connection's, so a consumer can
    trust it). None when the URL names no user, or with EXTERNAL authentication (the user is
    then the client certificate's, which the URL does not say)."""
    url = getattr(connection, "url", None)  # a yarl URL on aio-pika's Connection
    if url is None or str(url.query.get("auth", "")).lower() == "external":
        return None
    user = url.user
    return str(user) if user else None
