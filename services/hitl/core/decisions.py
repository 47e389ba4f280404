"""Decisions by several people: who may answer, and when the votes decide.

Policies: ``first`` (the first valid answer decides), ``all_of`` (every named responder must
give the same answer), ``quorum`` (M matching answers decide). One vote per responder; a changed
vote replaces the earlier one. An interaction resolves as soon as its policy is met, or as soon
as it can no longer be met.
"""

from collections import defaultdict
from dataclasses import dataclass

from hitl.errors import Claimed, NotAllowed
from hitl_contract import (
    Claim,
    ErrorCode,
    ErrorDetail,
    HumanResponse,
    Identity,
    InteractionRequest,
    Vote,
)
from hitl_contract.kinds import GROUP_PREFIX

NO_DECISION = "no_decision"


def check_allowed(request: InteractionRequest, response: HumanResponse) -> None:
    """Raise ``NotAllowed`` unless the responder may answer (the requester may always cancel)."""
    check_answerer(request.responders, request.requester.id, response)


@dataclass(frozen=True, slots=True)
class Answerers:
    """Who may answer an interaction: what a reader needs to refuse an answer before it is
    sent (``check_answerer``), without reading the whole request."""

    pending: bool
    responders: list[str] | None  # None: anyone
    requester: str  # the requester's id: it may always cancel


def check_answerer(responders: list[str] | None, requester: str, response: HumanResponse) -> None:
    """``check_allowed`` from the request's ``responders`` and its requester's id."""
    if responders is None or may_answer(responders, response.responder):
        return
    if response.action == "cancel" and response.responder.id == requester:
        return
    raise NotAllowed(
        ErrorDetail(
            code=ErrorCode.NOT_ALLOWED,
            path="responder.id",
            allowed=responders,
            got=response.responder.id,
            message="this responder is not among the people allowed to answer",
        )
    )


def may_answer(responders: list[str], who: Identity) -> bool:
    groups = {f"{GROUP_PREFIX}{g}" for g in who.groups}
    return who.id in responders or any(r in groups for r in responders)


def check_claim(claim: Claim, requester: str, response: HumanResponse, now: float) -> None:
    """Raise ``Claimed`` when ``claim`` holds at ``now`` and the responder may not answer
    under it: only its holder, or a member of the holding team, may; the requester may still
    cancel. An expired claim holds nothing."""
    who = response.responder
    if claim.until.timestamp() <= now or holds(claim, who):
        return
    if response.action == "cancel" and who.id == requester:
        return
    raise Claimed(claimed_detail(claim, "responder.id", who.id, "answer"), claim)


def holds(claim: Claim, who: Identity) -> bool:
    """Whether ``who`` acts under ``claim``: its holder, or a member of its team."""
    return who.id == claim.holder.id or (claim.team is not None and claim.team in who.groups)


def claim_holders(claim: Claim) -> list[str]:
    """Who acts under ``claim``, as a request's ``responders`` names them."""
    team = [f"{GROUP_PREFIX}{claim.team}"] if claim.team is not None else []
    return [claim.holder.id, *team]


def claim_holder_text(claim: Claim) -> str:
    """``claimed by`` what, for people: the holder (and the team)."""
    holder = claim.holder.display_name or claim.holder.id
    return f"{holder} for team {claim.team}" if claim.team is not None else holder


def claimed_detail(claim: Claim, path: str, got: str, what: str) -> ErrorDetail:
    """The error of an answer or a claim refused because someone else holds ``claim``."""
    only = "its holder" if claim.team is None else f"its holder or a member of {claim.team}"
    return ErrorDetail(
        code=ErrorCode.CLAIMED,
        path=path,
        allowed=claim_holders(claim),
        got=got,
        message=f"claimed by {claim_holder_text(claim)} until {claim.until.isoformat()}: "
        f"only {only} may {what} it until the claim expires or is released",
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    """``winner`` decided; or, with ``winner`` None, the policy can no longer be met."""

    winner: Vote | None


def record(votes: tuple[Vote, ...], vote: Vote) -> tuple[Vote, ...]:
    """Add ``vote``, replacing an earlier vote of the same responder."""
    return (*(v for v in votes if v.responder.id != vote.responder.id), vote)


def tally(
    request: InteractionRequest, votes: tuple[Vote, ...], ballots: dict[str, str]
) -> Verdict | None:
    """None while undecided. ``ballots`` maps response_id -> the ballot that answer counts for."""
    named = _named(request)
    if request.decision.policy == "all_of" and named is not None:
        needed = len(named)
    else:
        needed = request.decision.quorum or 1
    by_ballot: dict[str, list[Vote]] = defaultdict(list)
    for vote in votes:
        by_ballot[ballots[str(vote.response_id)]].append(vote)
    for same in by_ballot.values():
        if len(same) >= needed:
            return Verdict(winner=same[-1])
    if named is None:  # groups: nobody knows how many could still vote
        return None
    remaining = len(named - {v.responder.id for v in votes})
    best = max((len(same) for same in by_ballot.values()), default=0)
    return Verdict(winner=None) if best + remaining < needed else None


def _named(request: InteractionRequest) -> set[str] | None:
    responders = request.responders or []
    if any(r.startswith(GROUP_PREFIX) for r in responders):
        return None
    return set(responders)


def failed_action(request: InteractionRequest) -> tuple[str, str]:
    """The outcome when the policy can no longer be met: an approval is rejected; other kinds
    end with ``no_decision``."""
    reason = f"{request.decision.policy} not reached"
    return ("reject", reason) if request.kind == "approval" else (NO_DECISION, reason)
