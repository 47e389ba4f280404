"""Publishing answers as a person would, and reading the broker's receipt for each.

Used by ``hitl respond``, by the demo's auto-responder, and by notifier bots; ``claim`` and
``release`` take and give back a claim on an interaction the same way (``hitl claim``).
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from uuid import UUID

from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractIncomingMessage,
    AbstractQueue,
)

from hitl.adapters.amqp.connection import amqp_user
from hitl.adapters.amqp.publisher import Publisher
from hitl.core.tracecontext import TraceContext
from hitl.ports import Envelope, Headers
from hitl.runtime.startup import connect_amqp
from hitl_contract import (
    ClaimAction,
    HumanResponse,
    Identity,
    InteractionClaim,
    ResponseReceipt,
)
from hitl_contract.wire import CLAIM_TYPE, DEFAULT_NAMESPACE, RESPONSE_TYPE, Names, encode_model


class Responder:
    def __init__(
        self,
        channel: AbstractChannel,
        receipts: AbstractQueue,
        names: Names,
        *,
        fast: bool = True,
        user_id: str | None = None,
    ) -> None:
        self._publisher = Publisher(channel, fast=fast)
        self._receipts = receipts
        self._names = names
        self._user_id = user_id  # set on every answer: RabbitMQ vouches for it
        self._waiting: dict[str, asyncio.Future[ResponseReceipt]] = {}

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls,
        url: str | Sequence[str],
        *,
        namespace: str = DEFAULT_NAMESPACE,
        startup_attempts: int = 5,
        fast: bool = True,
    ) -> AsyncIterator["Responder"]:
        connection = await connect_amqp(url, startup_attempts, name="hitl-responder")
        try:
            yield await cls.attach(connection, namespace=namespace, fast=fast)
        finally:
            await connection.close()

    @classmethod
    async def attach(
        cls,
        connection: AbstractConnection,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        fast: bool = True,
    ) -> "Responder":
        """A responder on a connection the caller opened (and closes)."""
        channel = await connection.channel(publisher_confirms=True)
        receipts = await channel.declare_queue(exclusive=True, auto_delete=True)
        responder = cls(
            channel, receipts, Names(namespace), fast=fast, user_id=amqp_user(connection)
        )
        await receipts.consume(responder._on_receipt, no_ack=True)
        return responder

    async def respond(
        self,
        response: HumanResponse,
        *,
        timeout: float | None = 10.0,
        trace: TraceContext | None = None,
    ) -> ResponseReceipt | None:
        """Publish the answer; with a timeout, wait that long for the broker's receipt.
        ``trace``: the answer's W3C trace context (a notifier passes the notification's)."""
        body, key = encode_model(response), str(response.response_id)
        headers = trace.headers() if trace is not None else {}
        return await self._send(response.interaction_id, body, RESPONSE_TYPE, key, timeout, headers)

    async def claim(
        self,
        interaction_id: UUID,
        by: Identity,
        *,
        ttl_seconds: int | None = None,
        team: str | None = None,
        channel: str = "api",
        timeout: float | None = 10.0,
    ) -> ResponseReceipt | None:
        """Claim (or renew ``by``'s claim on) a pending interaction, for ``team`` (one of
        ``by.groups``) when given, for ``ttl_seconds`` (default: the broker's). The receipt
        is ``accepted`` with the claim held, or ``rejected`` with ``claim`` = someone else's
        claim in the way (docs/contract.md, "Claims")."""
        return await self.send_claim(
            InteractionClaim(
                interaction_id=interaction_id,
                by=by,
                team=team,
                ttl_seconds=ttl_seconds,
                channel=channel,
            ),
            timeout=timeout,
        )

    async def release(
        self,
        interaction_id: UUID,
        by: Identity,
        *,
        admin: bool = False,
        channel: str = "api",
        timeout: float | None = 10.0,
    ) -> ResponseReceipt | None:
        """Release the claim on an interaction as its holder (or a member of its team), or
        anyone's with ``admin`` (honoured from the trusted answer services only)."""
        return await self.send_claim(
            InteractionClaim(
                interaction_id=interaction_id,
                action=ClaimAction.RELEASE,
                by=by,
                admin=admin,
                channel=channel,
            ),
            timeout=timeout,
        )

    async def send_claim(
        self, claim: InteractionClaim, *, timeout: float | None = 10.0
    ) -> ResponseReceipt | None:
        """Publish a claim or release as built; with a timeout, wait for its receipt."""
        body, key = encode_model(claim), str(claim.claim_id)
        return await self._send(claim.interaction_id, body, CLAIM_TYPE, key, timeout, {})

    async def _send(
        self,
        interaction_id: UUID,
        body: bytes,
        message_type: str,
        key: str,
        timeout: float | None,
        headers: Headers,
    ) -> ResponseReceipt | None:
        """Publish on the responses exchange; with a timeout, wait for the receipt whose
        correlation id is ``key``."""
        future: asyncio.Future[ResponseReceipt] = asyncio.get_running_loop().create_future()
        if timeout is not None:
            self._waiting[key] = future
        try:
            await self._publisher.publish(
                Envelope(
                    self._names.responses,
                    str(interaction_id),
                    body,
                    message_type,
                    key,
                    key,
                    headers,
                    reply_to=self._receipts.name,
                    user_id=self._user_id,
                )
            )
            if timeout is None:
                return None
            return await asyncio.wait_for(future, timeout)
        finally:
            self._waiting.pop(key, None)

    async def _on_receipt(self, message: AbstractIncomingMessage) -> None:
        receipt = ResponseReceipt.model_validate_json(message.body)
        future = self._waiting.get(message.correlation_id or "")
        if future is not None and not future.done():
            future.set_result(receipt)
