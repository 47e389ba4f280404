"""Publishing with publisher confirms and ``mandatory``: a publish returns only once RabbitMQ
took responsibility for the message, and says whether any queue was bound to receive it."""

from collections.abc import Mapping
from dataclasses import dataclass, field

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange
from aio_pika.exceptions import AMQPError
from aiormq.abc import DeliveredMessage

from hitl.errors import TransportError

Headers = Mapping[str, aio_pika.abc.FieldValue]


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
        self._exchanges: dict[str, AbstractExchange] = {}
        self._timeout = confirm_timeout

    async def publish(self, envelope: Envelope, *, mandatory: bool = True) -> bool:
        """True once confirmed and routed; False if confirmed but no queue took it."""
        message = aio_pika.Message(
            envelope.body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            type=envelope.message_type,
            message_id=envelope.message_id,
            correlation_id=envelope.correlation_id,
            headers=dict(envelope.headers),
            reply_to=envelope.reply_to,
        )
        try:
            exchange = await self._exchange(envelope.exchange)
            confirmation = await exchange.publish(
                message, envelope.routing_key, mandatory=mandatory, timeout=self._timeout
            )
        except (AMQPError, OSError, TimeoutError) as exc:
            raise TransportError(f"publish to {envelope.exchange!r} failed: {exc!r}") from exc
        return not isinstance(confirmation, DeliveredMessage)

    async def _exchange(self, name: str) -> AbstractExchange:
        exchange = self._exchanges.get(name)
        if exchange is None:
            exchange = (
                self._channel.default_exchange
                if name == ""
                else await self._channel.get_exchange(name, ensure=False)
            )
            self._exchanges[name] = exchange
        return exchange
