"""Publishing with publisher confirms and ``mandatory``: a publish returns only once RabbitMQ
took responsibility for the message, and says whether any queue was bound to receive it."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from aio_pika.abc import AbstractChannel, FieldValue
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError
from aiormq.abc import DeliveredMessage
from pamqp.commands import Basic

from hitl.errors import TransportError

Properties = Basic.Properties
PERSISTENT = 2  # AMQP delivery mode: written to disk
Headers = Mapping[str, FieldValue]


@dataclass(frozen=True, slots=True)
class Envelope:
    exchange: str
    routing_key: str
    body: bytes
    message_type: str
    message_id: str
    correlation_id: str | None = None
    headers: Headers = field(default_factory=dict)
    reply_to: str | None = None


class Publisher:
    def __init__(self, channel: AbstractChannel, *, confirm_timeout: float = 30.0) -> None:
        self._channel = channel
        self._timeout = confirm_timeout

    async def publish(self, envelope: Envelope, *, mandatory: bool = True) -> bool:
        """True once confirmed and routed; False if confirmed but no queue took it.

        Straight onto the aiormq channel under aio-pika's robust channel (the current one, also
        after a reconnect): the same frames and confirms as ``Exchange.publish``, without
        building an aio-pika ``Message`` only to turn it into these properties."""
        properties = Properties(
            content_type="application/json",
            delivery_mode=PERSISTENT,
            message_type=envelope.message_type,
            message_id=envelope.message_id,
            correlation_id=envelope.correlation_id,
            headers=dict(envelope.headers) if envelope.headers else None,
            reply_to=envelope.reply_to,
        )
        try:
            if self._channel.is_closed:
                raise ChannelInvalidStateError(f"{self._channel!r} is closed")
            channel = await self._channel.get_underlay_channel()
            confirmation = await channel.basic_publish(
                envelope.body,
                exchange=envelope.exchange,
                routing_key=envelope.routing_key,
                properties=properties,
                mandatory=mandatory,
                timeout=self._timeout,
            )
        except (AMQPError, OSError, TimeoutError) as exc:
            raise TransportError(f"publish to {envelope.exchange!r} failed: {exc!r}") from exc
        return not isinstance(confirmation, DeliveredMessage)
