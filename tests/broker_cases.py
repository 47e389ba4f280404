"""The broker's decisions, written once and run twice: on the in-memory twins of the ports
(tests/unit/test_broker_behaviour.py, milliseconds) and on the real RabbitMQ and Redis
(tests/integration/test_broker_behaviour.py, the evidence). Each run provides a ``hitl``
fixture implementing ``Harness``; the cases only speak the contract (request and answer bodies
in, notifications, receipts, outcomes and events out), so the same assertions hold on both.
"""

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from uuid import UUID

from hitl.adapters.memory import ManualClock
from hitl.core.machine import InteractionState
from hitl_contract import ClaimAction, Identity, InteractionClaim
from tests.helpers import raw_request

Json = dict[str, Any]
REPLY_TO = "producer"


class Harness(Protocol):
    clock: ManualClock

    async def publish_request(self, body: Json) -> None: ...
    async def answer(
        self, interaction_id: UUID, action: str, data: Json | None = None, who: str = "alice"
    ) -> Json:
        """Publish an answer and return the broker's receipt for it."""
        ...

    async def claim(self, claim: InteractionClaim) -> Json:
        """Publish a claim (or release) and return the broker's receipt for it."""
        ...

    def notifications(self, interaction_id: UUID) -> list[Json]: ...
    def outcomes(self, interaction_id: UUID) -> list[Json]: ...
    def events(self, interaction_id: UUID) -> list[str]: ...
    async def state(self, interaction_id: UUID) -> InteractionState | None: ...
    def metric(self, name: str, labels: dict[str, str]) -> float: ...
    async def until(
        self, check: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0
    ) -> None:
        """Wait (moving the broker's own loops, on the twins) until ``check()`` holds."""
        ...


async def wait_until(
    check: Callable[[], bool | Awaitable[bool]],
    between: Callable[[], Awaitable[object]],
    timeout: float,
) -> None:
    """Until ``check()`` holds, running ``between()`` after each miss; a harness's ``until``."""
    async with asyncio.timeout(timeout):
        while True:
            result = check()
            if await result if inspect.isawaitable(result) else result:
                return
            await between()


async def ask(hitl: Harness, **fields: Any) -> UUID:
    """Publish a request and wait until it is pending (or decided) in the store."""
    body = raw_request(reply_to=REPLY_TO, **fields)
    await hitl.publish_request(body)
    iid = UUID(body["id"])
    await hitl.until(lambda: _exists(hitl, iid))
    return iid


async def _exists(hitl: Harness, iid: UUID) -> bool:
    return await hitl.state(iid) is not None


async def outcome(hitl: Harness, iid: UUID) -> Json:
    await hitl.until(lambda: bool(hitl.outcomes(iid)))
    [only] = hitl.outcomes(iid)
    return only


class BrokerBehaviour:
    """Subclassed by a ``Test...`` class that provides the ``hitl`` fixture."""

    async def test_a_request_becomes_pending_and_people_are_notified(self, hitl: Harness) -> None:
        iid = await ask(hitl, prompt="Ship it?", timeout_seconds=60)
        state = await hitl.state(iid)
        assert state is not None and state.status == "pending"
        assert state.deadline == hitl.clock() + 60
        await hitl.until(lambda: bool(hitl.notifications(iid)))
        [note] = hitl.notifications(iid)
        assert (note["reason"], note["route"], note["attempt"]) == ("requested", "default", 1)
        assert note["request"]["prompt"] == "Ship it?"
        await hitl.until(lambda: "requested" in hitl.events(iid))
        assert hitl.outcomes(iid) == []

    async def test_an_answer_decides_once_and_resumes_the_producer(self, hitl: Harness) -> None:
        iid = await ask(hitl)
        receipt = await hitl.answer(iid, "approve", {"reason": "fine"})
        assert receipt["result"] == "accepted"
        got = await outcome(hitl, iid)
        assert (got["status"], got["action"], got["data"]) == (
            "resolved",
            "approve",
            {"reason": "fine"},
        )
        assert got["decided_by"]["identity"]["id"] == "alice"
        late = await hitl.answer(iid, "reject", who="bob")
        assert late["result"] == "already_resolved"
        assert late["outcome"]["action"] == "approve"
        assert len(hitl.outcomes(iid)) == 1
        await hitl.until(lambda: {"responded", "resolved"} <= set(hitl.events(iid)))

    async def test_an_answer_that_does_not_fit_is_refused_and_the_interaction_waits(
        self, hitl: Harness
    ) -> None:
        iid = await ask(hitl, kind="choice", options=["a", "b"])
        receipt = await hitl.answer(iid, "choose", {"choice": 7})
        assert receipt["result"] == "rejected"
        assert receipt["error"]["path"] == "data.choice"
        state = await hitl.state(iid)
        assert state is not None and state.is_pending
        assert (await hitl.answer(iid, "choose", {"choice": 2}))["result"] == "accepted"
        assert (await outcome(hitl, iid))["data"] == {"choice": 2, "value": "b"}

    async def test_votes_count_until_the_quorum_decides(self, hitl: Harness) -> None:
        iid = await ask(
            hitl, responders=["ana", "ben", "chen"], decision={"policy": "quorum", "quorum": 2}
        )
        assert (await hitl.answer(iid, "approve", who="mallory"))["result"] == "rejected"
        assert (await hitl.answer(iid, "approve", who="ana"))["result"] == "recorded"
        assert hitl.outcomes(iid) == []
        assert (await hitl.answer(iid, "approve", who="ben"))["result"] == "accepted"
        got = await outcome(hitl, iid)
        assert (got["action"], got["decided_by"]["policy"]) == ("approve", "quorum")
        assert sorted(v["responder"]["id"] for v in got["votes"]) == ["ana", "ben"]

    async def test_a_timeout_fires_once_with_the_default_outcome(self, hitl: Harness) -> None:
        iid = await ask(
            hitl,
            timeout_seconds=30,
            on_timeout={"action": "reject", "data": {"reason": "nobody answered"}},
        )
        hitl.clock.advance(29)
        state = await hitl.state(iid)
        assert state is not None and state.is_pending
        hitl.clock.advance(2)
        got = await outcome(hitl, iid)
        assert (got["status"], got["action"]) == ("timed_out", "reject")
        assert got["data"] == {"reason": "nobody answered"}
        assert (await hitl.answer(iid, "approve"))["result"] == "already_resolved"
        hitl.clock.advance(60)
        await hitl.until(lambda: "timed_out" in hitl.events(iid))
        assert len(hitl.outcomes(iid)) == 1

    async def test_an_answer_before_its_request_is_held_then_applied(self, hitl: Harness) -> None:
        body = raw_request(reply_to=REPLY_TO)
        iid = UUID(body["id"])
        assert (await hitl.answer(iid, "approve"))["result"] == "held"
        await hitl.publish_request(body)
        got = await outcome(hitl, iid)
        assert (got["status"], got["action"]) == ("resolved", "approve")

    async def test_a_request_published_twice_is_asked_once(self, hitl: Harness) -> None:
        body = raw_request(reply_to=REPLY_TO)
        iid = UUID(body["id"])
        await hitl.publish_request(body)
        await hitl.publish_request(body)
        await hitl.until(
            lambda: hitl.metric("hitl_duplicate_messages_total", {"stage": "request"}) == 1
        )
        assert len(hitl.notifications(iid)) == 1
        assert hitl.metric("hitl_requests_total", {"kind": "approval"}) == 1

    async def test_the_producer_can_cancel_a_pending_interaction(self, hitl: Harness) -> None:
        iid = await ask(hitl)
        receipt = await hitl.answer(iid, "cancel", {"reason": "not needed"}, who="raw-agent")
        assert receipt["result"] == "accepted"
        got = await outcome(hitl, iid)
        assert (got["status"], got["action"]) == ("cancelled", "cancel")
        await hitl.until(lambda: "cancelled" in hitl.events(iid))


def claim(
    iid: UUID,
    who: str,
    *,
    groups: tuple[str, ...] = (),
    action: ClaimAction = ClaimAction.CLAIM,
    **fields: Any,
) -> InteractionClaim:
    return InteractionClaim(
        interaction_id=iid, by=Identity(id=who, groups=list(groups)), action=action, **fields
    )


class ClaimBehaviour:
    """Claims through the broker (hitl.broker.claims); subclassed like ``BrokerBehaviour``."""

    async def test_while_claimed_others_are_refused_and_the_holder_decides(
        self, hitl: Harness
    ) -> None:
        iid = await ask(hitl)
        taken = await hitl.claim(claim(iid, "ana", ttl_seconds=300))
        assert taken["result"] == "accepted" and taken["claim"]["holder"]["id"] == "ana"
        refused = await hitl.answer(iid, "approve", who="ben")
        assert refused["result"] == "rejected" and refused["error"]["code"] == "claimed"
        assert refused["claim"]["holder"]["id"] == "ana"
        assert "claimed by ana until" in refused["error"]["message"]
        other = await hitl.claim(claim(iid, "ben"))
        assert other["result"] == "rejected" and other["error"]["code"] == "claimed"
        assert hitl.outcomes(iid) == []
        assert (await hitl.answer(iid, "approve", who="ana"))["result"] == "accepted"
        assert (await outcome(hitl, iid))["decided_by"]["identity"]["id"] == "ana"
        await hitl.until(lambda: {"claimed", "resolved"} <= set(hitl.events(iid)))

    async def test_an_expired_claim_lets_others_answer(self, hitl: Harness) -> None:
        iid = await ask(hitl)
        assert (await hitl.claim(claim(iid, "ana", ttl_seconds=60)))["result"] == "accepted"
        hitl.clock.advance(61)
        assert (await hitl.answer(iid, "reject", who="ben"))["result"] == "accepted"
        assert (await outcome(hitl, iid))["action"] == "reject"

    async def test_a_claim_is_released_by_an_admin_or_its_holder_not_by_others(
        self, hitl: Harness
    ) -> None:
        iid = await ask(hitl)
        await hitl.claim(claim(iid, "ana"))
        by_ben = await hitl.claim(claim(iid, "ben", action=ClaimAction.RELEASE))
        assert by_ben["result"] == "rejected" and by_ben["error"]["code"] == "not_allowed"
        by_admin = await hitl.claim(claim(iid, "root", action=ClaimAction.RELEASE, admin=True))
        assert by_admin["result"] == "accepted" and by_admin["claim"] is None
        state = await hitl.state(iid)
        assert state is not None and state.claim is None
        team = await hitl.claim(claim(iid, "ben", groups=("ops",), team="ops"))
        assert team["result"] == "accepted" and team["claim"]["team"] == "ops"
        mate = await hitl.claim(claim(iid, "carl", groups=("ops",), action=ClaimAction.RELEASE))
        assert mate["result"] == "accepted"
        await hitl.until(lambda: hitl.events(iid).count("released") == 2)

    async def test_claims_of_unknown_or_decided_interactions_say_so(self, hitl: Harness) -> None:
        unknown = await hitl.claim(claim(UUID(int=5), "ana"))
        assert unknown["result"] == "unknown_interaction"
        iid = await ask(hitl)
        await hitl.answer(iid, "approve")
        late = await hitl.claim(claim(iid, "ana"))
        assert late["result"] == "already_resolved" and late["outcome"]["action"] == "approve"
        pending = await ask(hitl)
        too_long = await hitl.claim(claim(pending, "ana", ttl_seconds=7 * 24 * 3600))
        assert too_long["result"] == "rejected"
        assert (too_long["error"]["path"], too_long["error"]["allowed"]) == (
            "ttl_seconds",
            [1, 24 * 3600],
        )
