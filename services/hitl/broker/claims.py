"""Where a claim (or a release) is applied: decided by ``hitl.core.claims`` against the
interaction as stored, then committed with the same compare-and-set as an answer (commit.lua:
state, history entry and event in one step), decided again when another replica changed the
interaction in between. So of two claims racing on several brokers, exactly one holds.

Every claim that names a ``reply_to`` gets one receipt: ``accepted`` with the claim now held
(none after a release), ``already_resolved`` with the outcome, ``unknown_interaction``, or
``rejected`` with the error (``claimed``, carrying the claim in the way; ``not_allowed``;
``invalid_field``), which is also announced as a ``rejected`` event.
"""

import logging

from hitl.broker.committer import Committer
from hitl.broker.inbound import ReplyTarget, received
from hitl.broker.receipts import Receipts
from hitl.broker.refusals import Refusals
from hitl.core.access import untrusted_answer
from hitl.core.claims import ClaimPolicy, apply_claim, live
from hitl.core.decoding import decode_claim, readable
from hitl.errors import AlreadyResolved, Claimed, InvalidMessage, InvalidResponse, TransportError
from hitl.observability.logs import interaction_context
from hitl.ports import Clock, Delivery, InteractionStore
from hitl_contract import (
    Claim,
    ErrorCode,
    ErrorDetail,
    InteractionClaim,
    ReceiptResult,
    ResponseReceipt,
)

log = logging.getLogger(__name__)
_CAS_ATTEMPTS = 8
SOURCE = "responses"


class ClaimApplier:
    def __init__(
        self,
        store: InteractionStore,
        committer: Committer,
        receipts: Receipts,
        refusals: Refusals,
        clock: Clock,
        policy: ClaimPolicy,
        *,
        max_payload_bytes: int,
        trusted_answerers: frozenset[str] | None,
    ) -> None:
        self._store = store
        self._committer = committer
        self._receipts = receipts
        self._refusals = refusals
        self._clock = clock
        self._policy = policy
        self._max_bytes = max_payload_bytes
        self._trusted = trusted_answerers

    async def on_claim(self, message: Delivery) -> None:
        original, reply = received(message)
        try:
            claim = decode_claim(message.body, self._max_bytes)
        except InvalidMessage as exc:
            said = readable(message.body, "interaction_id")
            await self._refusals.refuse(
                exc.detail,
                SOURCE,
                original.message_id,
                interaction_id=said.interaction_id,
                reply=reply,
            )
            return
        refused = self._untrusted(message.user_id, claim)
        with interaction_context(claim.interaction_id, None):
            if refused is not None:
                await self._refuse(claim, refused, reply)
                return
            await self.apply(claim, reply)

    async def apply(self, claim: InteractionClaim, reply: ReplyTarget) -> None:
        for attempt in range(_CAS_ATTEMPTS):
            cached = self._committer.cache.get(claim.interaction_id) if not attempt else None
            state = cached or await self._store.load(claim.interaction_id)
            if state is None:
                detail = ErrorDetail(
                    code=ErrorCode.UNKNOWN_INTERACTION,
                    path="interaction_id",
                    message="no interaction has this id (never asked, or expired)",
                    got=str(claim.interaction_id),
                )
                await self._refuse(claim, detail, reply, ReceiptResult.UNKNOWN_INTERACTION)
                return
            now = self._clock()
            try:
                transition = apply_claim(state, claim, now, self._policy)
            except Claimed as exc:
                await self._refuse(claim, exc.detail, reply, claim_in_the_way=exc.claim)
                return
            except InvalidResponse as exc:  # not allowed, or a ttl above the bound
                await self._refuse(claim, exc.detail, reply)
                return
            except AlreadyResolved as exc:
                await self._send(claim, reply, ReceiptResult.ALREADY_RESOLVED, outcome=exc)
                return
            if transition is None:  # nothing to change: delivered again, or nothing held
                await self._send(claim, reply, ReceiptResult.ACCEPTED, held=live(state.claim, now))
                return
            if await self._committer.commit(state, transition, now):
                held = transition.state.claim
                log.debug("%s by %s", claim.action, claim.by.id)
                await self._send(claim, reply, ReceiptResult.ACCEPTED, held=held)
                return
        raise TransportError(f"gave up after {_CAS_ATTEMPTS} concurrent updates; will retry")

    def _untrusted(self, user_id: str | None, claim: InteractionClaim) -> ErrorDetail | None:
        """Whether the AMQP user may speak for ``claim.by`` (as for answers), and say it is
        an admin (only a trusted service may)."""
        if self._trusted is None:
            return None
        refused = untrusted_answer(user_id, claim.by, self._trusted)
        if refused is None and claim.admin and user_id not in self._trusted:
            return ErrorDetail(
                code=ErrorCode.NOT_ALLOWED,
                path="admin",
                message="only the services in trusted_answer_services may release a claim "
                "as an admin",
                allowed=sorted(self._trusted),
                got=user_id,
            )
        return refused

    async def _refuse(
        self,
        claim: InteractionClaim,
        detail: ErrorDetail,
        reply: ReplyTarget,
        result: ReceiptResult = ReceiptResult.REJECTED,
        *,
        claim_in_the_way: Claim | None = None,
    ) -> None:
        log.info("claim refused at %s: %s", detail.path, detail.message)
        await self._refusals.refuse(
            detail,
            SOURCE,
            f"claim:{claim.claim_id}",
            interaction_id=claim.interaction_id,
            response_id=claim.claim_id,
            reply=reply,
            result=result,
            claim=claim_in_the_way,
        )

    async def _send(
        self,
        claim: InteractionClaim,
        reply: ReplyTarget,
        result: ReceiptResult,
        *,
        held: Claim | None = None,
        outcome: AlreadyResolved | None = None,
    ) -> None:
        receipt = ResponseReceipt(
            interaction_id=claim.interaction_id,
            response_id=claim.claim_id,
            result=result,
            claim=held,
            outcome=outcome.outcome if outcome is not None else None,
        )
        await self._receipts.send(reply, receipt)
