"""Decision policies, auto-approve rules and timers, as pure functions."""

import uuid
from typing import Any

import pytest

from hitl.core.decoding import REQUEST_ADAPTER
from hitl.core.machine import Notify, answer, fire, open_interaction
from hitl.core.policies import AutoApproveRule, auto_answer
from hitl.errors import NotAllowed
from hitl_contract import HumanResponse, Identity, InteractionRequest, NotifyReason

NOW = 1_800_000_000.0


def request(kind: str = "approval", **fields: Any) -> InteractionRequest:
    return REQUEST_ADAPTER.validate_python(
        {
            "id": uuid.uuid4(),
            "thread_id": "t",
            "kind": kind,
            "prompt": "ok?",
            "reply_to": "p",
            "requester": {"id": "agent"},
            **fields,
        }
    )


def vote(
    req: InteractionRequest, who: str, action: str, groups: tuple[str, ...] = (), **data: Any
) -> HumanResponse:
    return HumanResponse(
        interaction_id=req.id,
        action=action,
        data=data,
        responder=Identity(id=who, groups=list(groups)),
        channel="test",
    )


def play(req: InteractionRequest, *answers: HumanResponse) -> Any:
    state = open_interaction(req, NOW, "default").state
    for n, response in enumerate(answers):
        state = answer(state, response, NOW + n + 1).state
    return state


def test_quorum_decides_on_the_mth_matching_vote() -> None:
    req = request(responders=["a", "b", "c"], decision={"policy": "quorum", "quorum": 2})
    state = play(req, vote(req, "a", "approve"))
    assert state.is_pending and len(state.votes) == 1
    state = play(req, vote(req, "a", "approve"), vote(req, "b", "reject"))
    assert state.is_pending
    state = play(req, vote(req, "a", "approve"), vote(req, "b", "reject"), vote(req, "c", "reject"))
    assert state.outcome.action == "reject" and state.outcome.decided_by.type == "responders"
    assert [v.responder.id for v in state.outcome.votes] == ["a", "b", "c"]


def test_a_changed_vote_replaces_the_earlier_one() -> None:
    req = request(responders=["a", "b", "c"], decision={"policy": "quorum", "quorum": 2})
    state = play(req, vote(req, "a", "reject"), vote(req, "a", "approve"))
    assert state.is_pending and [v.action for v in state.votes] == ["approve"]
    state = play(
        req, vote(req, "a", "reject"), vote(req, "a", "approve"), vote(req, "b", "approve")
    )
    assert state.outcome.action == "approve"


def test_all_of_fails_as_soon_as_it_cannot_be_met() -> None:
    req = request(responders=["a", "b", "c"], decision={"policy": "all_of"})
    state = play(req, vote(req, "a", "approve"), vote(req, "b", "reject"))
    assert state.outcome.action == "reject"
    assert state.outcome.data == {"reason": "all_of not reached"}
    choice = request(
        "choice", options=["x", "y"], responders=["a", "b"], decision={"policy": "all_of"}
    )
    state = play(
        choice, vote(choice, "a", "choose", choice=1), vote(choice, "b", "choose", choice=2)
    )
    assert state.outcome.action == "no_decision"


def test_same_choice_counts_together_whatever_the_reasons() -> None:
    req = request(
        "choice", options=["x", "y"], responders=["a", "b"], decision={"policy": "all_of"}
    )
    state = play(
        req,
        vote(req, "a", "choose", choice=1, justification="fast"),
        vote(req, "b", "choose", choice="x", justification="cheap"),
    )
    assert state.outcome.action == "choose" and state.outcome.data["value"] == "x"


def test_only_allowed_responders_vote_but_the_requester_may_cancel() -> None:
    req = request(responders=["a", "group:ops"])
    state = open_interaction(req, NOW, "default").state
    with pytest.raises(NotAllowed) as err:
        answer(state, vote(req, "mallory", "approve"), NOW)
    assert err.value.detail.allowed == ["a", "group:ops"] and err.value.detail.got == "mallory"
    assert answer(state, vote(req, "o1", "approve", groups=("ops",)), NOW).decided
    assert answer(state, vote(req, "agent", "cancel"), NOW).state.status == "cancelled"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"decision": {"policy": "quorum", "quorum": 2}}, "needs responders"),
        ({"responders": ["a"], "decision": {"policy": "quorum", "quorum": 2}}, "more than the 1"),
        ({"responders": ["group:x"], "decision": {"policy": "all_of"}}, "named people"),
        ({"decision": {"policy": "quorum"}}, "quorum (M) is required"),
    ],
)
def test_impossible_policies_are_refused_up_front(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        request(**fields)


def test_reminders_repeat_until_the_limit_and_escalation_fires_once() -> None:
    req = request(
        timeout_seconds=100,
        reminder_every_seconds=10,
        max_reminders=2,
        escalation=[{"after_seconds": 15, "route": "managers"}],
    )
    state = open_interaction(req, NOW, "default").state
    assert set(state.timers) == {"timeout", "remind", "escalate:0"}
    assert fire(state, "remind", NOW + 9) is None
    first = fire(state, "remind", NOW + 10)
    assert first is not None and first.state.timers["remind"] == NOW + 20
    [note] = [c.notification for c in first.commands if isinstance(c, Notify)]
    assert (note.reason, note.attempt, note.route) == (NotifyReason.REMINDER, 2, "default")
    assert fire(first.state, "remind", NOW + 10) is None  # fired twice: a no-op
    escalated = fire(first.state, "escalate:0", NOW + 15)
    assert escalated is not None and "escalate:0" not in escalated.state.timers
    [note] = [c.notification for c in escalated.commands if isinstance(c, Notify)]
    assert (note.reason, note.route, note.attempt) == (NotifyReason.ESCALATION, "managers", 3)
    second = fire(escalated.state, "remind", NOW + 20)
    assert second is not None and "remind" not in second.state.timers  # max_reminders reached
    assert second.unschedule == (f"{req.id}|remind",)
    done = fire(second.state, "timeout", NOW + 100)
    assert done is not None and done.state.status == "timed_out" and not done.state.timers


def test_auto_approve_rules_by_kind_labels_and_risk() -> None:
    rule = AutoApproveRule(
        name="low-risk",
        kinds=["approval"],
        labels={"team": "billing"},
        risk_field="risk.score",
        max_risk=0.3,
    )
    low = request(labels={"team": "billing"}, context={"risk": {"score": 0.1}})
    assert auto_answer(low, [rule]) is not None
    for other in (
        request(labels={"team": "billing"}, context={"risk": {"score": 0.9}}),
        request(labels={"team": "billing"}, context={"risk": {"score": "low"}}),
        request(labels={"team": "billing"}),
        request(labels={"team": "sales"}, context={"risk": {"score": 0.1}}),
    ):
        assert auto_answer(other, [rule]) is None
    with pytest.raises(ValueError, match="go together"):
        AutoApproveRule(name="x", risk_field="risk")


def test_auto_answer_resolves_at_once_without_notifying() -> None:
    req = request("preview", content="draft", auto_approve=True)
    t = open_interaction(req, NOW, "default", auto_answer(req, []))
    assert t.decided and t.state.outcome.action == "proceed"
    assert t.state.outcome.decided_by.policy == "request"
    assert not [c for c in t.commands if isinstance(c, Notify)]
    with pytest.raises(ValueError, match="auto_approve needs a kind with a default"):
        request("form", fields=[{"name": "x"}], auto_approve=True)
