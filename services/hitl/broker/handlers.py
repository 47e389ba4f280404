"""Where a request becomes pending (or is answered at once by an auto-approve policy), and
where an answer comes in.

Each handler: decode -> core decision -> one atomic commit (state + outbox) -> publish. The
runtime acks the delivery when the handler returns; a crash anywhere before that means
redelivery, which the idempotent commit absorbs.
"""

import logging
from dataclasses import dataclass, field

from hitl.broker.answers import AnswerApplier
from hitl.broker.claims import ClaimApplier
from hitl.broker.committer import Committer
from hitl.broker.dead_letters import DeadLetters
from hitl.broker.inbound import ReplyTarget, received
from hitl.core.access import untrusted_answer
from hitl.core.decoding import decode_request, decode_response, readable
from hitl.core.machine import open_interaction
from hitl.core.policies import AutoApproveRule, auto_answer
from hitl.errors import InvalidMessage, InvalidResponse
from hitl.observability.logs import interaction_context
from hitl.observability.metrics import Metrics
from hitl.observability.tracing import Tracing
from hitl.ports import Clock, Delivery
from hitl.runtime.routing import Router
from hitl_contract import ErrorCode, ErrorDetail
from hitl_contract.wire import CLAIM_TYPE

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Handlers:
    committer: Committer
    answers: AnswerApplier
    dead_letters: DeadLetters
    metrics: Metrics
    clock: Clock
    max_payload_bytes: int
    route: str
    router: Router
    claims: ClaimApplier
    auto_rules: tuple[AutoApproveRule, ...] = ()
    # AMQP users that may answer as anyone (settings.trusted_answer_services); None: not checked
    trusted_answerers: frozenset[str] | None = None
    tracing: Tracing = field(default_factory=Tracing)

    async def on_request(self, message: Delivery) -> None:
        original, _ = received(message)
        try:
            request = decode_request(message.body, self.max_payload_bytes)
        except InvalidMessage as exc:
            said = readable(message.body, "id")
            await self.dead_letters.dead_letter(
                original,
                exc.detail,
                "requests",
                interaction_id=said.interaction_id,
                thread_id=said.thread_id,
                kind=said.kind,
            )
            return
        trace = self.tracing.incoming(message.headers) if message.headers else None
        with (
            interaction_context(request.id, request.thread_id),
            self.tracing.span("hitl request", trace, "consumer", self._about(request.id)) as trace,
        ):
            now = self.clock()
            to = self.router.to(request, now)
            try:
                auto = auto_answer(request, self.auto_rules)
                transition = open_interaction(request, now, self.route, auto, to, trace)
            except InvalidResponse as exc:  # an auto-approve rule whose answer does not fit
                log.warning("auto-approve answer does not fit; asking people: %s", exc)
                transition = open_interaction(request, now, self.route, to=to, trace=trace)
            created = await self.committer.create(transition)
            if created.result == "created":
                log.debug(
                    "%s: %s asked by %s",
                    transition.state.status,
                    request.kind,
                    request.requester.id,
                )
                if created.early_answers:
                    await self.answers.apply_held(list(created.early_answers))
                    await self.answers.discard_held(request.id)
            elif created.result == "duplicate":
                self.metrics.duplicates.labels("request").inc()
            else:
                detail = ErrorDetail(
                    code=ErrorCode.ID_CONFLICT,
                    path="id",
                    got=str(request.id),
                    message="this id is already used by a different request",
                )
                await self.dead_letters.dead_letter(
                    original,
                    detail,
                    "requests",
                    interaction_id=request.id,
                    thread_id=request.thread_id,
                    kind=request.kind,
                )

    async def on_response(self, message: Delivery) -> None:
        if message.type == CLAIM_TYPE:  # a claim travels with the answers (hitl.broker.claims)
            await self.claims.on_claim(message)
            return
        original, reply = received(message)
        try:
            response = decode_response(message.body, self.max_payload_bytes)
        except InvalidMessage as exc:
            said = readable(message.body, "interaction_id")
            await self.dead_letters.dead_letter(
                original, exc.detail, "responses", reply=reply, interaction_id=said.interaction_id
            )
            return
        if self.trusted_answerers is not None:
            refused = untrusted_answer(message.user_id, response.responder, self.trusted_answerers)
            if refused is not None:
                await self.dead_letters.dead_letter(
                    original,
                    refused,
                    "responses",
                    reply=reply,
                    interaction_id=response.interaction_id,
                )
                return
        trace = self.tracing.incoming(message.headers) if message.headers else None
        about = self._about(response.interaction_id)
        with (
            interaction_context(response.interaction_id, None),
            self.tracing.span("hitl response", trace, "consumer", about) as trace,
        ):
            if trace is not None:  # the receipt goes back in the answer's trace
                reply = ReplyTarget(reply.reply_to, reply.correlation_id, trace)
            await self.answers.apply(original, reply, response)

    def _about(self, interaction_id: object) -> dict[str, str] | None:
        """A span's attributes (made only when spans are)."""
        if not self.tracing.recording:
            return None
        return {"messaging.system": "rabbitmq", "hitl.interaction_id": str(interaction_id)}
