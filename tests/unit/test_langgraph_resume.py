"""HitlGraph.resume's decisions on LangGraph's in-memory checkpointer: an outcome is applied
only to the thread and interrupt it answers, once; anything else is parked with why. (The
LangGraph extra is not installed where the unit tests run at the dependencies' floors.)"""

import uuid
from datetime import UTC, datetime
from typing import Any, TypedDict

import pytest

pytest.importorskip("langgraph")

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import StateGraph

from hitl.integrations.langgraph import HitlGraph, Result, ask_human
from hitl.sdk.client import HitlClient
from hitl_contract import Identity, InteractionOutcome, InteractionRequest


class Sent:
    """What the graph would publish: HitlClient's requests, kept instead of sent."""

    service = reply_to = "drafts"
    identity = Identity(id="drafts", service="drafts")

    def __init__(self) -> None:
        self.requests: list[InteractionRequest] = []

    def new_request(self, kind: str, **fields: Any) -> InteractionRequest:
        return HitlClient.new_request(self, kind, **fields)  # type: ignore[arg-type]

    async def submit(self, request: InteractionRequest) -> uuid.UUID:
        self.requests.append(request)
        return request.id


class Post(TypedDict, total=False):
    approved: bool


async def review(post: Post) -> Post:
    outcome = await ask_human("approval", "Publish?")
    return {"approved": outcome.action == "approve"}


@pytest.fixture
def sent() -> Sent:
    return Sent()


@pytest.fixture
def drafts(sent: Sent) -> HitlGraph:
    graph = StateGraph(Post).add_node(review).set_entry_point("review")
    return HitlGraph(graph.compile(InMemorySaver()), sent, name="drafts")  # type: ignore[arg-type]


def outcome_of(
    request: InteractionRequest, action: str = "approve", **changes: Any
) -> InteractionOutcome:
    now = datetime.now(UTC)
    return InteractionOutcome(
        interaction_id=changes.pop("interaction_id", request.id),
        thread_id=request.thread_id,
        kind=request.kind,
        status="resolved",
        action=action,
        decided_by={"type": "person", "identity": {"id": "ana"}, "channel": "cli"},
        requested_at=now,
        resolved_at=now,
        resume_state=changes.pop("resume_state", request.resume_state),
    )


async def test_a_stopped_run_publishes_its_question_with_where_to_resume(
    drafts: HitlGraph, sent: Sent
) -> None:
    result = await drafts.ainvoke({}, thread_id="t-1")
    [request] = sent.requests
    [pending] = result["__interrupt__"]
    where = request.resume_state["langgraph"]  # type: ignore[index,call-overload]
    assert where["graph"] == "drafts"
    assert where["thread_id"] == "t-1"
    assert where["interrupt_id"] == pending.id
    assert where["checkpoint_id"]
    assert (request.thread_id, request.node_name, request.prompt) == ("t-1", "review", "Publish?")
    assert await drafts.publish_pending("t-1") == [request.id]  # the same question, same id


async def test_an_outcome_is_applied_once(drafts: HitlGraph, sent: Sent) -> None:
    await drafts.ainvoke({}, thread_id="t-1")
    outcome = outcome_of(sent.requests[0])
    assert (await drafts.resume(outcome)).result is Result.RESUMED
    assert (await drafts.resume(outcome)).result is Result.DUPLICATE
    state = await drafts.graph.aget_state({"configurable": {"thread_id": "t-1"}})
    assert state.values == {"approved": True}


async def test_a_second_outcome_for_an_answered_interrupt_is_parked(
    drafts: HitlGraph, sent: Sent
) -> None:
    await drafts.ainvoke({}, thread_id="t-1")
    request = sent.requests[0]
    await drafts.resume(outcome_of(request))
    other = await drafts.resume(outcome_of(request, "reject", interaction_id=uuid.uuid4()))
    assert (other.result, other.code) == (Result.PARKED, "moved_on")
    state = await drafts.graph.aget_state({"configurable": {"thread_id": "t-1"}})
    assert state.values == {"approved": True}


async def test_an_outcome_is_never_applied_to_another_thread(drafts: HitlGraph, sent: Sent) -> None:
    await drafts.ainvoke({}, thread_id="t-1")
    await drafts.ainvoke({}, thread_id="t-2")
    first, _ = sent.requests
    where = {**first.resume_state["langgraph"], "thread_id": "t-2"}  # type: ignore[index,call-overload]
    misplaced = await drafts.resume(outcome_of(first, resume_state={"langgraph": where}))
    assert (misplaced.result, misplaced.code) == (Result.PARKED, "unknown_checkpoint")
    state = await drafts.graph.aget_state({"configurable": {"thread_id": "t-2"}})
    assert state.values == {}
    assert state.next == ("review",)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda w: {**w, "thread_id": "nobody"}, "unknown_thread"),
        (lambda w: {**w, "graph": "invoices"}, "other_graph"),
        (lambda w: {**w, "interrupt_id": None}, "no_interrupt"),
        (
            lambda w: {**w, "interrupt_id": "0" * 32, "checkpoint_id": str(uuid.uuid4())},
            "unknown_checkpoint",
        ),
        (lambda w: None, "no_thread"),
    ],
)
async def test_what_cannot_be_placed_is_parked_with_why(
    drafts: HitlGraph, sent: Sent, change: Any, code: str
) -> None:
    await drafts.ainvoke({}, thread_id="t-1")
    request = sent.requests[0]
    where = change(request.resume_state["langgraph"])  # type: ignore[index,call-overload]
    parked = await drafts.resume(outcome_of(request, resume_state={"langgraph": where}))
    assert (parked.result, parked.code) == (Result.PARKED, code)
    assert parked.reason
    state = await drafts.graph.aget_state({"configurable": {"thread_id": "t-1"}})
    assert state.next == ("review",)  # still waiting, untouched
