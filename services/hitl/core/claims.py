"""Claims: who may claim, renew or release an interaction, and for how long.

The rules (docs/kinds.md, "Claims"):

- Only a pending interaction is claimed; whoever may answer it may claim it. A team's claim
  (``team``) is taken by one of the team's members (``team`` in ``by.groups``).
- While a claim holds (until ``until``), only its holder, or a member of the holding team,
  may answer (``hitl.core.decisions.check_claim``) or claim it; a claim by them renews it
  (from now, for its ttl; ``claimed_at`` stays). Anyone else is refused with ``Claimed``,
  which names the holder and the expiry. The requester may still cancel.
- A claim lasts ``ttl_seconds`` (default ``ClaimPolicy.default_seconds``, at most
  ``ClaimPolicy.most_seconds``: more is refused, not cut).
- Its holder, a member of its team, or an admin (a release the broker trusts to be one) may
  release it; anyone else is refused with ``NotAllowed``. Releasing what holds no claim
  changes nothing.
- An expired claim holds nothing: it need not be released, and is replaced by the next claim.
  A decided interaction holds no claim.

A claim or release is a transition like an answer (a new version, its history entry and its
``claimed``/``released`` event), committed with the same compare-and-set: of two claims read
from the same version, one commits and the other is decided again against it. Pure: no I/O.
"""

from dataclasses import dataclass, replace

from hitl.core.decisions import claim_holder_text, claim_holders, claimed_detail, holds, may_answer
from hitl.core.machine import Emit, InteractionState, Transition, _dt, _event
from hitl.core.trusted import trusted
from hitl.errors import AlreadyResolved, Claimed, InvalidResponse, NotAllowed
from hitl_contract import (
    Claim,
    ClaimAction,
    ErrorCode,
    ErrorDetail,
    InteractionClaim,
    LifecycleEventName,
)


@dataclass(frozen=True, slots=True)
class ClaimPolicy:
    """How long claims hold (HITL_CLAIM_TTL_SECONDS, HITL_CLAIM_MAX_TTL_SECONDS)."""

    default_seconds: int = 900
    most_seconds: int = 24 * 3600

    def seconds(self, asked: int | None) -> int:
        if asked is None:
            return min(self.default_seconds, self.most_seconds)
        if asked > self.most_seconds:
            raise InvalidResponse(
                ErrorDetail(
                    code=ErrorCode.INVALID_FIELD,
                    path="ttl_seconds",
                    allowed=[1, self.most_seconds],
                    got=asked,
                    message=f"a claim holds at most {self.most_seconds}s here; renew it "
                    "before it expires to hold it longer",
                )
            )
        return asked


def live(claim: Claim | None, now: float) -> Claim | None:
    """``claim`` if it still holds at ``now``."""
    return claim if claim is not None and claim.until.timestamp() > now else None


def apply_claim(
    state: InteractionState, message: InteractionClaim, now: float, policy: ClaimPolicy
) -> Transition | None:
    """The transition of a claim, renewal or release; None when it changes nothing (a
    redelivered claim, a release of what holds no claim). ``message.admin`` is taken as
    said: the caller checks who may say it. Raises ``AlreadyResolved``, ``Claimed`` (someone
    else holds it), ``NotAllowed`` or ``InvalidResponse`` (a ttl above the bound)."""
    if not state.is_pending:
        assert state.outcome is not None
        raise AlreadyResolved(state.outcome)
    current = live(state.claim, now)
    if message.action == ClaimAction.RELEASE:
        return _release(state, message, now, current)
    _check_claimant(state, message)
    seconds = policy.seconds(message.ttl_seconds)
    if current is not None:
        if current.claim_id == message.claim_id:
            return None  # this very claim, delivered again
        if not holds(current, message.by):
            raise Claimed(claimed_detail(current, "by.id", message.by.id, "claim"), current)
    claim = trusted(
        Claim,
        holder=message.by,
        team=message.team,
        claimed_at=current.claimed_at if current is not None else _dt(now),
        until=_dt(now + seconds),
        claim_id=message.claim_id,
    )
    return _claim_transition(state, message, now, LifecycleEventName.CLAIMED, claim, claim)


def _release(
    state: InteractionState, message: InteractionClaim, now: float, current: Claim | None
) -> Transition | None:
    if current is None:
        return None
    if not (message.admin or holds(current, message.by)):
        raise NotAllowed(
            ErrorDetail(
                code=ErrorCode.NOT_ALLOWED,
                path="by.id",
                allowed=claim_holders(current),
                got=message.by.id,
                message=f"claimed by {claim_holder_text(current)} until "
                f"{current.until.isoformat()}: only the holder, a member of the holding team "
                "or an admin may release it",
            )
        )
    return _claim_transition(state, message, now, LifecycleEventName.RELEASED, None, current)


def _check_claimant(state: InteractionState, message: InteractionClaim) -> None:
    """Who may claim: whoever may answer; for a team, one of its members."""
    responders = state.request.responders
    who = message.by
    if responders is not None and not may_answer(responders, who):
        raise NotAllowed(
            ErrorDetail(
                code=ErrorCode.NOT_ALLOWED,
                path="by.id",
                allowed=responders,
                got=who.id,
                message="only the people allowed to answer may claim it",
            )
        )
    if message.team is not None and message.team not in who.groups:
        raise NotAllowed(
            ErrorDetail(
                code=ErrorCode.NOT_ALLOWED,
                path="team",
                allowed=list(who.groups),
                got=message.team,
                message=f"{who.id} is not a member of {message.team}: a team's claim is "
                "taken by one of its members",
            )
        )


def _claim_transition(
    state: InteractionState,
    message: InteractionClaim,
    now: float,
    name: LifecycleEventName,
    claim: Claim | None,
    shown: Claim,
) -> Transition:
    """The state with ``claim`` (None: released), one version on, and its event showing
    ``shown`` (the claim taken, or the one ended)."""
    new = replace(state, claim=claim, version=state.version + 1)
    event = _event(name, state.request, now, new.version).model_copy(update={"claim": shown})
    return Transition(new, (Emit(event),), claimed=message)
