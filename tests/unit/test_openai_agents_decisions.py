"""hitl.integrations.openai_agents.decisions: each outcome of a tool approval to approve, or to
reject with the reason the model reads."""

import importlib
import sys
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

pytest.importorskip("agents")  # the openai-agents extra (not in the lowest-versions run)

from hitl.integrations.openai_agents.decisions import (
    Decision,
    arguments_of,
    decide,
    not_answered,
)
from hitl_contract import InteractionOutcome

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def outcome(
    status: str, action: str, data: dict[str, Any], by: dict[str, Any]
) -> InteractionOutcome:
    return InteractionOutcome(
        interaction_id=uuid4(), thread_id="t", kind="approval", status=status, action=action,
        data=data, decided_by=by, requested_at=NOW, resolved_at=NOW,
    )  # fmt: skip


ANA = {"type": "person", "identity": {"id": "ana@example.com", "display_name": "Ana"}}


@pytest.mark.parametrize(
    ("status", "action", "data", "by", "expected"),
    [
        ("resolved", "approve", {"reason": "ok"}, ANA, Decision(True)),
        ("resolved", "reject", {}, ANA, Decision(False, "Rejected by Ana; the tool call was not run.")),
        ("resolved", "reject", {"reason": " too much "}, ANA,
         Decision(False, "Rejected by Ana; the tool call was not run. Reason: too much")),
        ("cancelled", "cancel", {"reason": "dup"}, {"type": "requester", "identity": {"id": "bot"}},
         Decision(False, "The approval was cancelled by bot; the tool call was not run. Reason: dup")),
        ("timed_out", "timeout", {}, {"type": "timeout"},
         Decision(False, "Nobody approved this tool call in time; it was not run.")),
        ("timed_out", "approve", {}, {"type": "timeout"}, Decision(True)),  # on_timeout: approve
        ("resolved", "best_judgement", {"note": "you decide"}, ANA, Decision(True)),
    ],
)  # fmt: skip
def test_each_outcome_decides(
    status: str, action: str, data: dict[str, Any], by: dict[str, Any], expected: Decision
) -> None:
    assert decide(outcome(status, action, data, by)) == expected


def test_best_judgement_may_be_taken_as_a_rejection() -> None:
    decision = decide(outcome("resolved", "best_judgement", {"note": "you decide"}, ANA),
                      best_judgement="reject")  # fmt: skip
    assert decision == Decision(
        False, "Ana left it to your judgement; this tool call is not run without approval. "
        "Reason: you decide",
    )  # fmt: skip


def test_a_run_that_stopped_waiting_says_how_long_it_waited() -> None:
    assert not_answered(90) == Decision(False, "No answer within 90 s; the tool call was not run.")


def test_arguments_are_json_when_they_parse_and_text_otherwise() -> None:
    assert arguments_of('{"order": "A-1"}') == {"order": "A-1"}
    assert arguments_of("not json {") == "not json {"
    assert arguments_of(None) == {}


def test_without_the_extra_the_import_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m.startswith("hitl.integrations.openai_agents")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "agents", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'hitl\[openai-agents\]'"):
        importlib.import_module("hitl.integrations.openai_agents")
