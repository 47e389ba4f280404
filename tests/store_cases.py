"""What the store keeps for readers, written once and run twice: on the in-memory twin
(tests/unit/test_store_reads.py) and on the real Redis (tests/integration/test_store_reads.py).

Each case drives the pure state machine by hand (open, answer, fire at chosen times) and
commits through the store as the broker does, then reads back the audit history, the read
indexes (filters, order, cursors) and the analytics counters. The ``store`` fixture is a fresh
``InteractionStore`` of an empty namespace.
"""

from dataclasses import replace
from typing import Any
from uuid import UUID

import orjson

from hitl.core import analytics
from hitl.core.audit import answer_entry
from hitl.core.decisions import Answerers
from hitl.core.decoding import decode_request
from hitl.core.listing import Position, Query, waiting_for_identity
from hitl.core.machine import InteractionState, Transition, answer, fire, open_interaction
from hitl.core.policies import AutoAnswer
from hitl.errors import InvalidResponse
from hitl.ports import InteractionStore
from hitl_contract import HumanResponse, Identity
from tests.helpers import raw_request

T0 = 1_800_000_000.0  # a fixed "now", far from any real clock's hour boundary effects


async def open_(store: InteractionStore, at: float = T0, **fields: Any) -> InteractionState:
    request = decode_request(orjson.dumps(raw_request(**fields)), 1 << 20)
    transition = open_interaction(request, at, "default")
    assert (await store.create(transition, [])).result == "created"
    return transition.state


async def commit(
    store: InteractionStore, before: InteractionState, t: Transition, at: float
) -> None:
    assert await store.commit(t, before.version, [], at) == "ok"


async def respond(
    store: InteractionStore,
    iid: UUID,
    action: str,
    at: float,
    who: str = "alice",
    data: dict[str, Any] | None = None,
    groups: tuple[str, ...] = (),
) -> InteractionState:
    state = await store.load(iid)
    assert state is not None
    response = HumanResponse(
        interaction_id=iid,
        action=action,
        data=data or {},
        responder=Identity(id=who, groups=list(groups)),
        channel="test",
    )
    await commit(store, state, answer(state, response, at), at)
    after = await store.load(iid)
    assert after is not None
    return after


async def all_pages(store: InteractionStore, query: Query) -> list[str]:
    """Every id a listing gives, page after page."""
    ids: list[str] = []
    after: Position | None = None
    for _ in range(1000):
        page = await store.query(_with(query, after=after))
        ids += [str(s.request.id) for s in page.items]
        if page.next is None:
            return ids
        after = page.next
    raise AssertionError("the listing never ended")


def _with(query: Query, **changes: Any) -> Query:
    return replace(query, **changes)


class StoreReads:
    """Subclassed by a ``Test...`` class that provides the ``store`` fixture."""

    async def test_history_records_every_step_with_who_when_and_where(
        self, store: InteractionStore
    ) -> None:
        state = await open_(store, prompt="Pay?", requester={"id": "agent-7"})
        iid = state.request.id
        after = await respond(store, iid, "approve", T0 + 42, who="alice", data={"reason": "ok"})
        assert after.outcome is not None
        history = await store.history(iid)
        assert [h.event for h in history] == ["requested", "notified", "responded", "resolved"]
        requested, notified, responded, resolved = history
        assert requested.by is not None and requested.by.id == "agent-7"
        assert requested.at.timestamp() == T0 and requested.version == 1
        assert notified.route == "default"
        assert (responded.by and responded.by.id, responded.channel, responded.action) == (
            "alice",
            "test",
            "approve",
        )
        assert responded.response_id == after.outcome.response_id
        assert resolved.at.timestamp() == T0 + 42
        assert (resolved.decided_by, resolved.action, resolved.version) == ("person", "approve", 2)

    async def test_refused_and_late_answers_are_noted_without_changing_anything(
        self, store: InteractionStore
    ) -> None:
        state = await open_(store, kind="choice", options=["a", "b"])
        iid = state.request.id
        bad = HumanResponse(
            interaction_id=iid, action="choose", data={"choice": 9}, responder=Identity(id="bo")
        )
        try:
            answer(state, bad, T0 + 1)
        except InvalidResponse as exc:
            entry = answer_entry("refused", bad, T0 + 1, state.version, exc.detail)
        assert await store.note(iid, orjson.dumps(entry))
        await respond(store, iid, "choose", T0 + 2, data={"choice": 1})
        late = answer_entry("late", bad, T0 + 3, 2)
        assert await store.note(iid, orjson.dumps(late))
        history = await store.history(iid)
        events = [h.event for h in history]
        assert events == ["requested", "notified", "refused", "responded", "resolved", "late"]
        refused = history[2]
        assert refused.error is not None and refused.error.path == "data.choice"
        assert refused.by is not None and refused.by.id == "bo"
        state = await store.load(iid)
        assert state is not None and state.version == 2  # notes are not transitions
        unknown = UUID(int=7)
        assert not await store.note(unknown, orjson.dumps(late))
        assert await store.history(unknown) == []

    async def test_votes_and_timeouts_are_in_the_history(self, store: InteractionStore) -> None:
        state = await open_(store, responders=["ana", "ben"], decision={"policy": "all_of"},
                            timeout_seconds=60)  # fmt: skip
        iid = state.request.id
        await respond(store, iid, "approve", T0 + 5, who="ana")
        state = await store.load(iid)
        assert state is not None
        timed_out = fire(state, "timeout", T0 + 61)
        assert timed_out is not None
        await commit(store, state, timed_out, T0 + 61)
        history = await store.history(iid)
        assert [h.event for h in history] == [
            "requested", "notified", "responded", "voted", "timed_out",
        ]  # fmt: skip
        assert history[3].by is not None and history[3].by.id == "ana"
        assert history[-1].decided_by == "timeout"

    async def test_listing_filters_on_every_indexed_field_and_on_labels(
        self, store: InteractionStore
    ) -> None:
        a = await open_(store, T0 + 1, thread_id="t-1", node_name="review", labels={"team": "x"})
        b = await open_(store, T0 + 2, thread_id="t-1", kind="text_input",
                        requester={"id": "bot-2"})  # fmt: skip
        c = await open_(store, T0 + 3, thread_id="t-2", responders=["ana", "group:ops"])
        await respond(store, a.request.id, "approve", T0 + 10)
        ids = {s: str(x.request.id) for s, x in (("a", a), ("b", b), ("c", c))}

        async def listed(**q: Any) -> list[str]:
            got = await all_pages(store, Query(limit=2, **q))
            return [k for i in got for k, v in ids.items() if v == i]

        assert await listed() == ["c", "b", "a"]  # newest first
        assert await listed(newest_first=False) == ["a", "b", "c"]
        assert await listed(status="pending") == ["c", "b"]
        assert await listed(status="resolved") == ["a"]
        assert await listed(status="cancelled") == []
        assert await listed(thread_id="t-1") == ["b", "a"]
        assert await listed(thread_id="t-1", status="pending") == ["b"]
        assert await listed(kind="text_input") == ["b"]
        assert await listed(kind="approval", status="pending") == ["c"]
        assert await listed(requester="bot-2") == ["b"]
        assert await listed(node="review") == ["a"]
        assert await listed(labels={"team": "x"}) == ["a"]
        assert await listed(labels={"team": "y"}) == []
        anyone = waiting_for_identity(Identity(id="zed"))
        assert await listed(waiting_for=anyone) == ["b"]  # c names its responders; a is done
        ana = waiting_for_identity(Identity(id="ana"))
        assert await listed(waiting_for=ana) == ["c", "b"]
        ops = waiting_for_identity(Identity(id="kim", groups=["ops"]))
        assert await listed(waiting_for=ops, newest_first=False) == ["b", "c"]

    async def test_pages_cover_every_interaction_once_in_order_even_with_equal_times(
        self, store: InteractionStore
    ) -> None:
        times = [T0 + (n // 7) for n in range(40)]  # many share a request time
        opened = [await open_(store, at) for at in times]
        expected = sorted(opened, key=lambda s: (s.requested_at, str(s.request.id)))
        oldest = [str(s.request.id) for s in expected]
        for limit in (1, 3, 7, 50):
            assert await all_pages(store, Query(limit=limit, newest_first=False)) == oldest
            assert await all_pages(store, Query(limit=limit)) == oldest[::-1]
        page = await store.query(Query(limit=5, newest_first=False))
        assert page.next == Position(expected[4].requested_at, str(expected[4].request.id))

    async def test_a_label_scan_is_bounded_and_continues_from_its_cursor(
        self, store: InteractionStore
    ) -> None:
        for n in range(12):
            await open_(store, T0 + n, labels={"rare": "yes"} if n in (2, 9) else {})
        query = Query(labels={"rare": "yes"}, limit=5, scan_limit=4, newest_first=False)
        assert len(await all_pages(store, query)) == 2

    async def test_counters_follow_each_transition(self, store: InteractionStore) -> None:
        a = await open_(store, T0, node_name="review")
        b = await open_(store, T0 + 1, node_name="review")
        c = await open_(store, T0 + 2, kind="text_input", responders=["ana"])
        pending = await store.pending_counts()
        assert pending["k|approval"] == 2 and pending["n|review"] == 2
        assert pending["r|*"] == 2 and pending["r|ana"] == 1
        await respond(store, a.request.id, "approve", T0 + 30, who="ana")
        await respond(store, b.request.id, "reject", T0 + 400, who="ben")
        await respond(store, c.request.id, "cancel", T0 + 5, who="ana")
        hours = analytics.hours(T0 - 3600, T0 + 3600)
        groups = analytics.aggregate(await store.counters(hours), await store.pending_counts())
        approval = groups["k"]["approval"]
        assert (approval.requested, approval.resolved, approval.approved) == (2, 2, 1)
        assert approval.pending == 0
        summary = approval.summary()
        assert summary["approval_rate"] == 0.5 and summary["timeout_rate"] == 0.0
        assert groups["k"]["text_input"].cancelled == 1
        assert groups["n"]["review"].resolved == 2
        assert groups["r"]["ana"].answers == 2 and groups["r"]["ben"].answers == 1
        assert sum(approval.times) == 2
        assert approval.times[analytics.bucket_of(30)] == 1
        assert approval.times[analytics.bucket_of(400)] == 1
        assert not any((await store.pending_counts()).values())

    async def test_pending_counts_forget_what_no_longer_waits(
        self, store: InteractionStore
    ) -> None:
        # Responders and nodes are open-ended: a count that fell to zero must not stay behind,
        # or the pending counts grow with every name ever seen.
        for n in range(3):
            state = await open_(store, T0 + n, node_name=f"node-{n}", responders=[f"who-{n}"])
            await respond(store, state.request.id, "approve", T0 + 10, who=f"who-{n}")
        assert await store.pending_counts() == {}

    async def test_an_interaction_decided_by_a_policy_at_once_has_its_history(
        self, store: InteractionStore
    ) -> None:
        request = decode_request(orjson.dumps(raw_request()), 1 << 20)
        opened = open_interaction(request, T0, "default", AutoAnswer("rule-7", "approve", {}))
        assert (await store.create(opened, [])).result == "created"
        history = await store.history(request.id)
        assert [(h.event, h.version) for h in history] == [("requested", 2), ("resolved", 2)]
        resolved = history[1]
        assert (resolved.decided_by, resolved.policy, resolved.action) == ("policy", "rule-7",
                                                                           "approve")  # fmt: skip
        assert (resolved.by, resolved.channel, resolved.response_id) == (None, None, None)
        assert history[0].by is not None and history[0].by.id == "raw-agent"
        assert [s.request.id for s in (await store.query(Query(status="resolved"))).items] == [
            request.id
        ]

    async def test_notes_stop_once_the_history_is_large_but_transitions_go_on(
        self, store: InteractionStore
    ) -> None:
        state = await open_(store)
        iid = state.request.id
        big = {"at": T0 + 1, "event": "refused", "version": 1, "detail": "x" * 100_000}
        assert [await store.note(iid, orjson.dumps(big)) for _ in range(4)] == [
            True, True, True, False,
        ]  # fmt: skip
        await respond(store, iid, "approve", T0 + 2, who="ana")
        history = await store.history(iid)
        assert [h.event for h in history] == ["requested", "notified", "refused", "refused",
                                              "refused", "responded", "resolved"]  # fmt: skip
        assert history[-1].by is not None and history[-1].by.id == "ana"

    async def test_who_may_answer_is_read_without_the_whole_interaction(
        self, store: InteractionStore
    ) -> None:
        assert await store.answerers(UUID(int=9)) is None
        named = await open_(store, responders=["ana", "group:ops"], requester={"id": "bot"})
        anyone = await open_(store)
        assert await store.answerers(named.request.id) == Answerers(True, ["ana", "group:ops"],
                                                                    "bot")  # fmt: skip
        assert await store.answerers(anyone.request.id) == Answerers(True, None, "raw-agent")
        await respond(store, anyone.request.id, "approve", T0 + 1)
        assert await store.answerers(anyone.request.id) == Answerers(False, None, "raw-agent")
