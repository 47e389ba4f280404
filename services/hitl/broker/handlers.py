"""Where a request becomes pending and where an answer resolves it.

Each handler: decode -> core decision -> one atomic Redis commit (state + outbox) -> publish
-> ack. A crash anywhere before the ack means redelivery, which the idempotent commit absorbs.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from aio_pika.abc import AbstractIncomingMessage

from hitl.adapters.amqp.topology import Names
from hitl.adapters.redis.store import RedisStore
from hitl.broker.dispatch import Dispatcher
from hitl.broker.outbound import render
from hitl.broker.rejections import Rejections
from hitl.core.decoding import decode_request, decode_response
from hitl.core.machine import InteractionState, answer, open_interaction
from hitl.errors import AlreadyResolved, InvalidMessage, InvalidResponse, TransportError
from hitl.observability.logs import interaction_context
from hitl.observability.metrics import Metrics
from hitl_contract import ErrorCode, ErrorDetail, HumanResponse, ReceiptResult

log = logging.getLogger(__name__)
_CAS_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class Handlers:
    names: Names
    store: RedisStore
    dispatcher: Dispatcher
    rejections: Rejections
    metrics: Metrics
    clock: Callable[[], float]
    max_payload_bytes: int
    route: str

    async def on_request(self, message: AbstractIncomingMessage) -> None:
        try:
            request = decode_request(message.body, self.max_payload_bytes)
        except InvalidMessage as exc:
            await self.rejections.dead_letter(message, exc.detail, "requests")
            await message.ack()
            return
        with interaction_context(request.id, request.thread_id):
            transition = open_interaction(request, self.clock(), self.route)
            outbox = render(transition, self.names)
            result = await self.store.create(transition, [(m.entry_id, m.encode()) for m in outbox])
            if result == "created":
                self.metrics.requests.labels(request.kind).inc()
                await self.dispatcher.dispatch(self.store.keys.shard(request.id), outbox)
                log.info("pending: %s asked by %s", request.kind, request.requester.id)
            elif result == "duplicate":
                self.metrics.duplicates.labels("request").inc()
            else:
                detail = ErrorDetail(
                    code=ErrorCode.ID_CONFLICT,
                    path="id",
                    got=str(request.id),
                    message="this id is already used by a different request",
                )
                await self.rejections.dead_letter(
                    message,
                    detail,
                    "requests",
                    interaction_id=request.id,
                    thread_id=request.thread_id,
                    kind=request.kind,
                )
            await message.ack()

    async def on_response(self, message: AbstractIncomingMessage) -> None:
        try:
            response = decode_response(message.body, self.max_payload_bytes)
        except InvalidMessage as exc:
            await self.rejections.dead_letter(message, exc.detail, "responses")
            await message.ack()
            return
        with interaction_context(response.interaction_id, None):
            await self._apply(message, response)
            await message.ack()

    async def _apply(self, message: AbstractIncomingMessage, response: HumanResponse) -> None:
        for _ in range(_CAS_ATTEMPTS):
            state = await self.store.load(response.interaction_id)
            if state is None:
                detail = ErrorDetail(
                    code=ErrorCode.UNKNOWN_INTERACTION,
                    path="interaction_id",
                    message="no interaction has this id (never asked, or expired)",
                    got=str(response.interaction_id),
                )
                await self.rejections.dead_letter(
                    message,
                    detail,
                    "responses",
                    interaction_id=response.interaction_id,
                    result=ReceiptResult.UNKNOWN_INTERACTION,
                )
                return
            if await self._try_answer(message, response, state):
                return
        raise TransportError(f"gave up after {_CAS_ATTEMPTS} concurrent updates; will retry")

    async def _try_answer(
        self, message: AbstractIncomingMessage, response: HumanResponse, state: InteractionState
    ) -> bool:
        """True when the answer is settled (committed, refused or late); False to retry."""
        request = state.request
        now = self.clock()
        try:
            transition = answer(state, response, now)
        except InvalidResponse as exc:
            log.info("answer refused at %s: %s", exc.detail.path, exc.detail.message)
            await self.rejections.report(
                exc.detail,
                "responses",
                f"{response.response_id}:{state.version}",
                interaction_id=request.id,
                thread_id=request.thread_id,
                kind=request.kind,
                response_id=response.response_id,
                reply_to=message.reply_to,
                correlation_id=message.correlation_id,
            )
            return True
        except AlreadyResolved as exc:
            same = exc.outcome.response_id == response.response_id
            if not same:
                self.metrics.already_resolved.labels(request.kind).inc()
            result = ReceiptResult.ACCEPTED if same else ReceiptResult.ALREADY_RESOLVED
            await self.rejections.outcome_receipt(
                message, response.response_id, result, exc.outcome
            )
            return True
        outbox = render(transition, self.names)
        committed = await self.store.commit(
            transition, state.version, [(m.entry_id, m.encode()) for m in outbox], now
        )
        if committed != "ok":
            return False
        outcome = transition.state.outcome
        assert outcome is not None
        self.metrics.outcomes.labels(request.kind, outcome.status, outcome.action).inc()
        self.metrics.resolution.labels(request.kind, outcome.status).observe(
            now - state.requested_at
        )
        await self.dispatcher.dispatch(self.store.keys.shard(request.id), outbox)
        await self.rejections.outcome_receipt(
            message, response.response_id, ReceiptResult.ACCEPTED, outcome
        )
        log.info("%s: %s by %s", outcome.status, outcome.action, response.responder.id)
        return True
