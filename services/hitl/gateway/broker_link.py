"""The gateway's link to the broker over RabbitMQ (``deps.BrokerLink``).

Answers are published to ``<ns>.responses`` (routing key = interaction id, persistent, with
publisher confirms and ``mandatory``), carrying ``reply_to`` = this replica's own receipts
queue and ``correlation_id`` = the response id; the broker's receipt comes back there and
wakes the HTTP request waiting for it. Each replica has its own exclusive receipts queue, so
any number of replicas answer side by side. Requests are published to ``<ns>.requests`` the
same way.
"""

import asyncio
import logging

from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from hitl.adapters.amqp.publisher import Publisher
from hitl.errors import TransportError
from hitl.observability.tracing import carried_headers
from hitl.ports import Envelope
from hitl_contract import HumanResponse, InteractionClaim, InteractionRequest, ResponseReceipt
from hitl_contract.wire import CLAIM_TYPE, REQUEST_TYPE, RESPONSE_TYPE, Names, encode_model

log = logging.getLogger(__name__)


class AmqpBrokerLink:
    def __init__(
        self,
        publisher: Publisher,
        names: Names,
        receipts_queue: str,
        *,
        user_id: str | None = None,
    ) -> None:
        self._publisher = publisher
        self._names = names
        self.receipts_queue = receipts_queue
        self._user_id = user_id  # on every answer: the broker may trust this service's word
        # Per response id, oldest first: the same answer sent twice at once gets two receipts.
        self._waiting: dict[str, list[asyncio.Future[ResponseReceipt]]] = {}

    async def answer(self, response: HumanResponse, timeout: float) -> ResponseReceipt:
        body, key = encode_model(response), str(response.response_id)
        return await self._ask(str(response.interaction_id), body, RESPONSE_TYPE, key, timeout)

    async def claim(self, claim: InteractionClaim, timeout: float) -> ResponseReceipt:
        body, key = encode_model(claim), str(claim.claim_id)
        return await self._ask(str(claim.interaction_id), body, CLAIM_TYPE, key, timeout)

    async def _ask(
        self, interaction_id: str, body: bytes, message_type: str, key: str, timeout: float
    ) -> ResponseReceipt:
        """Publish an answer or a claim on the responses exchange and wait for its receipt."""
        future: asyncio.Future[ResponseReceipt] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)  # a receipt may beat the confirm
        try:
            async with asyncio.timeout(timeout):
                envelope = Envelope(
                    self._names.responses,
                    interaction_id,
                    body,
                    message_type,
                    key,
                    correlation_id=key,
                    headers=carried_headers(),  # the HTTP request's trace context
                    reply_to=self.receipts_queue,
                    user_id=self._user_id,
                )
                await self._publish(envelope)
                return await future
        finally:
            waiters = self._waiting.get(key, [])
            if future in waiters:
                waiters.remove(future)
            if not waiters:
                self._waiting.pop(key, None)

    async def request(self, request: InteractionRequest) -> None:
        key = str(request.id)  # routed by kind, as the SDK does
        envelope = Envelope(
            self._names.requests, request.kind, encode_model(request), REQUEST_TYPE, key, key,
            carried_headers(),  # the HTTP request's trace context
        )  # fmt: skip
        await self._publish(envelope)

    async def on_receipt(self, message: AbstractIncomingMessage) -> None:
        """A receipt on this replica's queue: wake whoever waits for it (nobody, when the
        wait timed out; the receipt is then dropped, the answer's effect stands)."""
        try:
            receipt = ResponseReceipt.model_validate_json(message.body)
        except ValidationError:
            log.warning("dropping an unreadable receipt (correlation %s)", message.correlation_id)
            return
        for future in self._waiting.get(message.correlation_id or "", []):
            if not future.done():
                future.set_result(receipt)
                return

    async def _publish(self, envelope: Envelope) -> None:
        if not await self._publisher.publish(envelope):
            raise TransportError(
                f"no queue is bound to {envelope.exchange}: is the broker's topology declared?"
            )
