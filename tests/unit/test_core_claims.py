"""Claims as pure functions (hitl.core.claims): who may claim, renew, release, and answer while
a claim holds; when it expires. No servers involved."""

import uuid
from typing import Any

import pytest

from hitl.core.audit import history_of
from hitl.core.claims import ClaimPolicy, apply_claim, live
from hitl.core.machine import Emit, InteractionState, answer, open_interaction
from hitl.errors import AlreadyResolved, Claimed, InvalidResponse, NotAllowed
from hitl_contract import (
    ClaimAction,
    ErrorCode,
    Identity,
    InteractionClaim,
    LifecycleEventName,
)
from tests.unit.test_core_machine import NOW, make_request, respond

POLICY = ClaimPolicy(default_seconds=600, most_seconds=3600)


def pending(**fields: Any) -> InteractionState:
    return open_interaction(make_request(**fields), NOW, "default").state


def claim(
    state: InteractionState,
    who: str,
    at: float = NOW,
    *,
    groups: tuple[str, ...] = (),
    action: ClaimAction = ClaimAction.CLAIM,
    **fields: Any,
) -> InteractionState:
    """The state after ``who``'s claim (or release) at ``at``."""
    message = InteractionClaim(
        interaction_id=state.request.id,
        by=Identity(id=who, groups=list(groups)),
        action=action,
        **fields,
    )
    transition = apply_claim(state, message, at, POLICY)
    assert transition is not None
    return transition.state


def test_a_claim_holds_for_the_default_ttl_and_is_announced_and_recorded() -> None:
    state = pending()
    message = InteractionClaim(interaction_id=state.request.id, by=Identity(id="ana"))
    transition = apply_claim(state, message, NOW, POLICY)
    assert transition is not None
    held = transition.state.claim
    assert held is not None and held.holder.id == "ana" and held.claim_id == message.claim_id
    assert held.until.timestamp() == NOW + 600
    assert transition.state.version == state.version + 1
    assert transition.schedule == () and transition.unschedule == ()
    [event] = [c.event for c in transition.commands if isinstance(c, Emit)]
    assert event.event == LifecycleEventName.CLAIMED and event.claim == held
    assert event.event_id == f"{state.request.id}:{state.version + 1}:claimed"
    [entry] = history_of(transition)
    assert entry["event"] == "claimed" and entry["by"] == {"id": "ana"}
    assert entry["response_id"] == str(message.claim_id)
    assert entry["claim"]["holder"]["id"] == "ana" and entry["claim"]["until"]


def test_while_claimed_only_the_holder_answers_and_others_learn_who_and_until_when() -> None:
    state = claim(pending(), "ana")
    with pytest.raises(Claimed) as refused:
        answer(state, respond(state.request, "approve", who="ben"), NOW + 10)
    detail = refused.value.detail
    assert detail.code == ErrorCode.CLAIMED and detail.path == "responder.id"
    assert detail.got == "ben" and detail.allowed == ["ana"]
    assert "claimed by ana until 2027-01-15T08:10:00+00:00" in detail.message
    assert refused.value.claim == state.claim
    decided = answer(state, respond(state.request, "approve", who="ana"), NOW + 10)
    assert decided.state.outcome is not None and decided.state.claim is None


def test_the_requester_may_still_cancel_a_claimed_interaction() -> None:
    state = claim(pending(), "ana")
    cancel = respond(state.request, "cancel", who="agent-7")
    assert answer(state, cancel, NOW + 1).state.status == "cancelled"


def test_an_expired_claim_holds_nothing() -> None:
    state = claim(pending(), "ana", ttl_seconds=60)
    assert live(state.claim, NOW + 59) is not None and live(state.claim, NOW + 60) is None
    assert answer(state, respond(state.request, "approve", who="ben"), NOW + 60).decided
    taken = claim(state, "ben", NOW + 61)
    assert taken.claim is not None and taken.claim.holder.id == "ben"


def test_a_team_claim_lets_its_members_answer_and_renew_it() -> None:
    state = claim(pending(), "ana", groups=("ops",), team="ops")
    carl = respond(state.request, "approve", who="carl").model_copy(
        update={"responder": Identity(id="carl", groups=["ops"])}
    )
    assert answer(state, carl, NOW + 5).decided
    renewed = claim(state, "carl", NOW + 100, groups=("ops",), team="ops")
    assert renewed.claim is not None and renewed.claim.holder.id == "carl"
    assert state.claim is not None and renewed.claim.claimed_at == state.claim.claimed_at
    assert renewed.claim.until.timestamp() == NOW + 700
    with pytest.raises(Claimed):
        claim(state, "ben", NOW + 5)


def test_a_team_claim_needs_a_member_and_a_claimant_who_may_answer() -> None:
    with pytest.raises(NotAllowed) as not_member:
        claim(pending(), "ana", team="ops")
    assert not_member.value.detail.path == "team"
    with pytest.raises(NotAllowed) as not_responder:
        claim(pending(responders=["ana"]), "ben")
    assert not_responder.value.detail.path == "by.id"
    assert not_responder.value.detail.allowed == ["ana"]
    held = claim(pending(responders=["group:ops"]), "ben", groups=("ops",))
    assert held.claim is not None


def test_the_holder_renews_and_another_is_refused_with_the_holder_and_expiry() -> None:
    state = claim(pending(), "ana", ttl_seconds=100)
    renewed = claim(state, "ana", NOW + 50, ttl_seconds=100)
    assert renewed.claim is not None and renewed.claim.until.timestamp() == NOW + 150
    with pytest.raises(Claimed) as refused:
        claim(renewed, "ben", NOW + 60)
    assert refused.value.detail.path == "by.id" and refused.value.claim == renewed.claim


def test_a_ttl_above_the_bound_is_refused_naming_the_bound() -> None:
    with pytest.raises(InvalidResponse) as refused:
        claim(pending(), "ana", ttl_seconds=3601)
    detail = refused.value.detail
    assert (detail.code, detail.path, detail.allowed, detail.got) == (
        ErrorCode.INVALID_FIELD,
        "ttl_seconds",
        [1, 3600],
        3601,
    )


def test_release_by_the_holder_or_an_admin_but_not_by_others() -> None:
    state = claim(pending(), "ana")
    with pytest.raises(NotAllowed) as refused:
        claim(state, "ben", action=ClaimAction.RELEASE)
    assert refused.value.detail.allowed == ["ana"] and "only the holder" in (
        refused.value.detail.message
    )
    assert claim(state, "ana", action=ClaimAction.RELEASE).claim is None
    released = InteractionClaim(
        interaction_id=state.request.id,
        by=Identity(id="root"),
        action=ClaimAction.RELEASE,
        admin=True,
    )
    transition = apply_claim(state, released, NOW + 1, POLICY)
    assert transition is not None and transition.state.claim is None
    [event] = [c.event for c in transition.commands if isinstance(c, Emit)]
    assert event.event == LifecycleEventName.RELEASED and event.claim == state.claim
    [entry] = history_of(transition)
    assert entry["event"] == "released" and entry["by"] == {"id": "root"}


def test_what_changes_nothing_is_no_transition() -> None:
    state = pending()
    message = InteractionClaim(interaction_id=state.request.id, by=Identity(id="ana"))
    held = apply_claim(state, message, NOW, POLICY)
    assert held is not None
    assert apply_claim(held.state, message, NOW + 1, POLICY) is None  # delivered again
    release = message.model_copy(update={"action": ClaimAction.RELEASE, "claim_id": uuid.uuid4()})
    assert apply_claim(state, release, NOW, POLICY) is None  # nothing held


def test_a_decided_interaction_is_not_claimed() -> None:
    state = pending()
    decided = answer(state, respond(state.request, "approve"), NOW).state
    with pytest.raises(AlreadyResolved):
        claim(decided, "ana")
