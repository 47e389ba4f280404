"""The state machine and answer rules, as pure functions: no servers involved."""

import uuid
from typing import Any

import pytest

from hitl.core.decoding import REQUEST_ADAPTER
from hitl.core.machine import (
    Deliver,
    Emit,
    Notify,
    answer,
    deadline_member,
    fire,
    open_interaction,
)
from hitl.errors import AlreadyResolved, InvalidResponse
from hitl_contract import (
    ErrorCode,
    HumanResponse,
    Identity,
    InteractionRequest,
    LifecycleEventName,
    OutcomeStatus,
)

NOW = 1_800_000_000.0


def make_request(kind: str = "approval", **fields: Any) -> InteractionRequest:
    return REQUEST_ADAPTER.validate_python(
        {
            "id": uuid.uuid4(),
            "thread_id": "thread-1",
            "kind": kind,
            "prompt": "ok?",
            "reply_to": "producer",
            "requester": {"id": "agent-7"},
            **fields,
        }
    )


def respond(
    request: InteractionRequest, action: str, data: dict[str, Any] | None = None, who: str = "alice"
) -> HumanResponse:
    return HumanResponse(
        interaction_id=request.id,
        action=action,
        data=data or {},
        responder=Identity(id=who),
        channel="test",
    )


def test_open_notifies_announces_and_arms_the_timeout() -> None:
    request = make_request(timeout_seconds=30)
    t = open_interaction(request, NOW, "default")
    assert t.state.is_pending and t.state.version == 1 and t.state.deadline == NOW + 30
    kinds = [type(c) for c in t.commands]
    assert kinds == [Notify, Emit, Emit]
    assert [c.event.event for c in t.commands if isinstance(c, Emit)] == [
        LifecycleEventName.REQUESTED,
        LifecycleEventName.NOTIFIED,
    ]
    assert [d.member for d in t.schedule] == [deadline_member(request.id, "timeout")]


def test_open_without_timeout_schedules_nothing() -> None:
    assert open_interaction(make_request(), NOW, "default").schedule == ()


def test_approve_resolves_once_and_delivers_to_reply_to() -> None:
    request = make_request(timeout_seconds=30, resume_state={"step": 3})
    pending = open_interaction(request, NOW, "default").state
    t = answer(pending, respond(request, "approve", {"reason": "fine"}), NOW + 5)
    outcome = t.state.outcome
    assert outcome is not None
    assert (outcome.status, outcome.action, outcome.data) == (
        OutcomeStatus.RESOLVED,
        "approve",
        {"reason": "fine"},
    )
    assert outcome.resume_state == {"step": 3}
    assert outcome.decided_by.type == "person" and outcome.decided_by.identity == Identity(
        id="alice"
    )
    assert t.state.version == 2
    assert t.unschedule == (deadline_member(request.id, "timeout"),)
    delivers = [c for c in t.commands if isinstance(c, Deliver)]
    assert len(delivers) == 1 and delivers[0].reply_to == "producer"
    with pytest.raises(AlreadyResolved) as late:
        answer(t.state, respond(request, "reject", who="bob"), NOW + 6)
    assert late.value.outcome == outcome


def test_requester_cancel_is_recorded_as_requester() -> None:
    request = make_request()
    pending = open_interaction(request, NOW, "default").state
    t = answer(
        pending, respond(request, "cancel", {"reason": "no longer needed"}, who="agent-7"), NOW + 1
    )
    assert t.state.status == "cancelled"
    assert t.state.outcome is not None and t.state.outcome.decided_by.type == "requester"


def test_timeout_applies_on_timeout_policy_only_when_due() -> None:
    request = make_request(
        timeout_seconds=10, on_timeout={"action": "reject", "data": {"reason": "silence"}}
    )
    pending = open_interaction(request, NOW, "default").state
    assert fire(pending, "timeout", NOW + 9.9) is None
    t = fire(pending, "timeout", NOW + 10)
    assert t is not None and t.state.outcome is not None
    assert (t.state.status, t.state.outcome.action, t.state.outcome.data) == (
        "timed_out",
        "reject",
        {"reason": "silence"},
    )
    assert t.state.outcome.decided_by.type == "timeout"
    assert fire(t.state, "timeout", NOW + 20) is None


def test_on_timeout_action_must_fit_the_kind() -> None:
    with pytest.raises(ValueError, match=r"on_timeout\.action .choose. is not one of"):
        make_request(timeout_seconds=1, on_timeout={"action": "choose"})


@pytest.mark.parametrize(
    ("kind", "fields", "action", "data", "path", "got"),
    [
        ("approval", {}, "choose", {}, "action", "choose"),
        ("approval", {}, "approve", {"reasn": "typo"}, "data.reasn", "typo"),
        ("approval", {}, "reject", {"reason": 5}, "data.reason", 5),
        ("choice", {"options": ["a", "b"]}, "choose", {}, "data.choice", []),
        ("choice", {"options": ["a", "b"]}, "choose", {"choice": 3}, "data.choice", 3),
        ("choice", {"options": ["a", "b"]}, "choose", {"choice": "c"}, "data.choice", "c"),
        ("choice", {"options": ["a", "b"]}, "choose", {"choice": True}, "data.choice", True),
        ("text_input", {"max_length": 5}, "respond", {"text": "too long"}, "data.text", "too long"),
        ("text_input", {}, "respond", {"text": 1}, "data.text", 1),
    ],
)
def test_answers_that_do_not_fit_say_where_and_what(
    kind: str, fields: dict[str, Any], action: str, data: dict[str, Any], path: str, got: Any
) -> None:
    request = make_request(kind, **fields)
    pending = open_interaction(request, NOW, "default").state
    with pytest.raises(InvalidResponse) as err:
        answer(pending, respond(request, action, data), NOW)
    assert err.value.detail.code == ErrorCode.INVALID_RESPONSE
    assert (err.value.detail.path, err.value.detail.got) == (path, got)


def test_invalid_action_lists_the_allowed_ones() -> None:
    request = make_request()
    pending = open_interaction(request, NOW, "default").state
    with pytest.raises(InvalidResponse) as err:
        answer(pending, respond(request, "maybe"), NOW)
    assert err.value.detail.allowed == ["approve", "reject", "cancel", "best_judgement"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"choice": 2}, {"choice": 2, "value": "Staging"}),
        (
            {"choice": "Staging", "justification": "safer"},
            {"choice": 2, "value": "Staging", "justification": "safer"},
        ),
    ],
)
def test_choice_by_number_or_value(data: dict[str, Any], expected: dict[str, Any]) -> None:
    request = make_request("choice", options=["Production", "Staging"])
    t = answer(open_interaction(request, NOW, "r").state, respond(request, "choose", data), NOW)
    assert t.state.outcome is not None and t.state.outcome.data == expected


def test_text_input_accepts_text_or_response_and_keeps_structure() -> None:
    request = make_request("text_input")
    pending = open_interaction(request, NOW, "r").state
    t = answer(pending, respond(request, "respond", {"response": "more", "priority": "high"}), NOW)
    assert t.state.outcome is not None
    assert t.state.outcome.data == {"text": "more", "priority": "high"}
