"""Claims in the store, written once and run twice: on the in-memory twin
(tests/unit/test_store_claims.py) and on the real Redis (tests/integration/test_store_claims.py).

A claim is committed as the broker commits it (``hitl.core.claims`` decides, ``commit``
compares and sets the version): the claim comes back on load, its history entries are written
in the same step, and of two claims decided from the same version only the first commits.
"""

from uuid import UUID

import pytest

from hitl.core.claims import ClaimPolicy, apply_claim
from hitl.core.machine import InteractionState, Transition, answer
from hitl.errors import Claimed
from hitl.ports import InteractionStore
from hitl_contract import ClaimAction, HumanResponse, Identity, InteractionClaim
from tests.store_cases import T0, open_

POLICY = ClaimPolicy(default_seconds=600, most_seconds=3600)


def claim_of(
    state: InteractionState, who: str, at: float, action: ClaimAction = ClaimAction.CLAIM
) -> Transition:
    message = InteractionClaim(interaction_id=state.request.id, by=Identity(id=who), action=action)
    transition = apply_claim(state, message, at, POLICY)
    assert transition is not None
    return transition


async def load(store: InteractionStore, iid: UUID) -> InteractionState:
    state = await store.load(iid)
    assert state is not None
    return state


class StoreClaims:
    """Subclassed by a ``Test...`` class that provides the ``store`` fixture."""

    async def test_a_claim_is_kept_with_its_history_and_released(
        self, store: InteractionStore
    ) -> None:
        state = await open_(store)
        iid = state.request.id
        taken = claim_of(state, "ana", T0 + 1)
        assert await store.commit(taken, state.version, [], T0 + 1) == "ok"
        held = await load(store, iid)
        assert held.claim == taken.state.claim and held.version == state.version + 1
        released = claim_of(held, "ana", T0 + 2, ClaimAction.RELEASE)
        assert await store.commit(released, held.version, [], T0 + 2) == "ok"
        after = await load(store, iid)
        assert after.claim is None and after.version == held.version + 1
        history = await store.history(iid)
        assert [h.event for h in history][-2:] == ["claimed", "released"]
        claimed, gone = history[-2:]
        assert claimed.by is not None and claimed.by.id == "ana"
        assert claimed.claim is not None and claimed.claim.until.timestamp() == T0 + 601
        assert gone.claim == claimed.claim and gone.version == held.version + 1

    async def test_of_two_claims_from_one_version_only_the_first_commits(
        self, store: InteractionStore
    ) -> None:
        state = await open_(store)
        first, second = claim_of(state, "ana", T0 + 1), claim_of(state, "ben", T0 + 1)
        assert await store.commit(first, state.version, [], T0 + 1) == "ok"
        assert await store.commit(second, state.version, [], T0 + 1) == "stale"
        again = await load(store, state.request.id)  # the loser decides again: refused
        with pytest.raises(Claimed) as refused:
            claim_of(again, "ben", T0 + 1)
        assert refused.value.claim.holder.id == "ana"

    async def test_an_answer_decided_before_a_claim_commits_is_stale(
        self, store: InteractionStore
    ) -> None:
        state = await open_(store)
        iid = state.request.id
        response = HumanResponse(interaction_id=iid, action="approve", responder=Identity(id="bo"))
        late_answer = answer(state, response, T0 + 2)
        taken = claim_of(state, "ana", T0 + 1)
        assert await store.commit(taken, state.version, [], T0 + 1) == "ok"
        assert await store.commit(late_answer, state.version, [], T0 + 2) == "stale"
        held = await load(store, iid)
        assert held.is_pending and held.claim is not None
