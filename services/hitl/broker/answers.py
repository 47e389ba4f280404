"""Where an answer is applied: validated against its pending request, then committed with a
compare-and-set, retried when another replica changed the interaction in between.

An answer whose request has not arrived yet (published right after the request, and overtaking
it) is held for ``early_answer_hold_seconds`` and applied when the request comes; if it never
does, it is dead-lettered as ``unknown_interaction`` with a receipt and an event.
"""

import logging
from uuid import UUID

import orjson

from hitl.broker.committer import Committer
from hitl.broker.dead_letters import DeadLetters
from hitl.broker.inbound import ReplyTarget
from hitl.broker.receipts import Receipts
from hitl.broker.refusals import Refusals
from hitl.core.audit import answer_entry
from hitl.core.decoding import decode_response
from hitl.core.machine import InteractionState, answer
from hitl.errors import (
    AlreadyResolved,
    Claimed,
    InvalidMessage,
    InvalidResponse,
    TransportError,
)
from hitl.observability.metrics import Metrics
from hitl.ports import Clock, Envelope, InteractionStore
from hitl_contract import (
    ErrorCode,
    ErrorDetail,
    HumanResponse,
    ReceiptResult,
)

log = logging.getLogger(__name__)
_CAS_ATTEMPTS = 8
SOURCE = "responses"


class AnswerApplier:
    def __init__(
        self,
        store: InteractionStore,
        committer: Committer,
        receipts: Receipts,
        refusals: Refusals,
        dead_letters: DeadLetters,
        metrics: Metrics,
        clock: Clock,
        *,
        hold_seconds: float,
        max_payload_bytes: int,
    ) -> None:
        self._store = store
        self._committer = committer
        self._receipts = receipts
        self._refusals = refusals
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._clock = clock
        self._hold = hold_seconds
        self._max_bytes = max_payload_bytes

    async def apply(
        self,
        original: Envelope,
        reply: ReplyTarget,
        response: HumanResponse,
        *,
        may_hold: bool = True,
    ) -> None:
        for attempt in range(_CAS_ATTEMPTS):
            cached = self._committer.cache.get(response.interaction_id) if not attempt else None
            state = cached or await self._store.load(response.interaction_id)
            if state is None:
                if may_hold and self._hold > 0:
                    if await self._hold_early(original, reply, response):
                        return
                    continue  # the request arrived meanwhile: apply normally
                await self._unknown(original, reply, response)
                return
            if await self._try(state, reply, response):
                return
        raise TransportError(f"gave up after {_CAS_ATTEMPTS} concurrent updates; will retry")

    async def apply_held(self, payloads: list[bytes]) -> None:
        """Apply answers that were held until their request arrived, in arrival order."""
        for payload in payloads:
            original, reply = unpack_held(payload)
            try:
                response = decode_response(original.body, self._max_bytes)
            except InvalidMessage as exc:  # it was valid when held; the limit may have changed
                await self._dead_letters.dead_letter(original, exc.detail, SOURCE, reply=reply)
                continue
            self._metrics.early_answers.labels("applied").inc()
            await self.apply(original, reply, response, may_hold=False)

    async def discard_held(self, interaction_id: UUID) -> None:
        """Drop held answers once applied (applying them again would change nothing)."""
        await self._store.take_early(interaction_id)

    async def expire_held(self, interaction_id: UUID) -> None:
        """The hold ran out: the request never came (or came, and took the answers already).
        The answers are read, handled, and only then dropped: a failure on the way leaves them
        in place, and their leased timer brings them back (handled at least once; a second
        time repeats the same ids)."""
        exists, payloads = await self._store.peek_early(interaction_id)
        if exists:
            await self.apply_held(payloads)
        else:
            for payload in payloads:
                await self._expired(payload)
        await self._store.take_early(interaction_id)

    async def _expired(self, payload: bytes) -> None:
        original, reply = unpack_held(payload)
        self._metrics.early_answers.labels("expired").inc()
        try:
            response = decode_response(original.body, self._max_bytes)
        except InvalidMessage as exc:  # it was valid when held; the limit may have changed
            await self._dead_letters.dead_letter(original, exc.detail, SOURCE, reply=reply)
            return
        await self._unknown(original, reply, response)

    async def _try(
        self, state: InteractionState, reply: ReplyTarget, response: HumanResponse
    ) -> bool:
        """True when the answer is settled (committed, refused or late); False to retry."""
        request = state.request
        now = self._clock()
        try:
            transition = answer(state, response, now)
        except InvalidResponse as exc:
            log.info("answer refused at %s: %s", exc.detail.path, exc.detail.message)
            entry = answer_entry("refused", response, now, state.version, exc.detail)
            await self._store.note(request.id, orjson.dumps(entry))
            await self._refusals.refuse(
                exc.detail,
                SOURCE,
                f"{response.response_id}:{state.version}",
                interaction_id=request.id,
                thread_id=request.thread_id,
                kind=request.kind,
                response_id=response.response_id,
                reply=reply,
                claim=exc.claim if isinstance(exc, Claimed) else None,
            )
            return True
        except AlreadyResolved as exc:
            same = exc.outcome.response_id == response.response_id or any(
                v.response_id == response.response_id for v in exc.outcome.votes
            )
            if not same:
                self._metrics.already_resolved.labels(request.kind).inc()
                entry = answer_entry("late", response, now, state.version)
                await self._store.note(request.id, orjson.dumps(entry))
            result = ReceiptResult.ACCEPTED if same else ReceiptResult.ALREADY_RESOLVED
            await self._receipts.answered(reply, response, result, exc.outcome)
            return True
        if not await self._committer.commit(state, transition, now):
            return False
        outcome = transition.state.outcome
        if outcome is None:
            self._metrics.votes.labels(request.kind).inc()
            log.debug("vote recorded: %s by %s", response.action, response.responder.id)
        else:
            log.debug("%s: %s by %s", outcome.status, outcome.action, response.responder.id)
        result = ReceiptResult.ACCEPTED if outcome else ReceiptResult.RECORDED
        await self._receipts.answered(reply, response, result, outcome)
        return True

    async def _hold_early(
        self, original: Envelope, reply: ReplyTarget, response: HumanResponse
    ) -> bool:
        held = await self._store.hold_early(
            response.interaction_id, pack_held(original, reply), self._hold, self._clock()
        )
        if held:
            self._metrics.early_answers.labels("held").inc()
            log.info("holding an answer for %.0fs until its request arrives", self._hold)
            await self._receipts.answered(reply, response, ReceiptResult.HELD, None)
        return held

    async def _unknown(
        self, original: Envelope, reply: ReplyTarget, response: HumanResponse
    ) -> None:
        detail = ErrorDetail(
            code=ErrorCode.UNKNOWN_INTERACTION,
            path="interaction_id",
            message="no interaction has this id (never asked, or expired)",
            got=str(response.interaction_id),
        )
        await self._dead_letters.dead_letter(
            original,
            detail,
            SOURCE,
            reply=reply,
            interaction_id=response.interaction_id,
            result=ReceiptResult.UNKNOWN_INTERACTION,
        )


def pack_held(original: Envelope, reply: ReplyTarget) -> bytes:
    return orjson.dumps(
        {
            "b": original.body.decode(),
            "x": original.exchange,
            "k": original.routing_key,
            "t": original.message_type,
            "m": original.message_id,
            "c": original.correlation_id,
            "r": reply.reply_to,
            "h": dict(original.headers),
        }
    )


def unpack_held(payload: bytes) -> tuple[Envelope, ReplyTarget]:
    p = orjson.loads(payload)
    return (
        Envelope(p["x"], p["k"], p["b"].encode(), p["t"], p["m"], p["c"], p.get("h", {}), p["r"]),
        ReplyTarget(p["r"], p["c"]),
    )
