"""``trusted`` builds exactly what ``model_construct`` builds, for every model the core makes."""

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from hitl.core.decoding import REQUEST_ADAPTER
from hitl.core.trusted import trusted
from hitl_contract import (
    DecidedBy,
    Identity,
    InteractionOutcome,
    LifecycleEvent,
    LifecycleEventName,
    Notification,
    NotifyReason,
    OutcomeStatus,
    Vote,
)
from tests.helpers import raw_request

NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
IID = uuid.uuid4()
CASES: list[tuple[type[BaseModel], dict[str, object]]] = [
    (LifecycleEvent, {"event": LifecycleEventName.REQUESTED, "at": NOW}),
    (
        LifecycleEvent,
        {"event": LifecycleEventName.NOTIFIED, "event_id": "x", "at": NOW, "route": "ops"},
    ),
    (
        Notification,
        {
            "interaction_id": IID,
            "reason": NotifyReason.REQUESTED,
            "route": "default",
            "attempt": 1,
            "request": REQUEST_ADAPTER.validate_python(raw_request()),
        },
    ),
    (
        InteractionOutcome,
        {
            "interaction_id": IID,
            "thread_id": "t",
            "kind": "approval",
            "status": OutcomeStatus.RESOLVED,
            "action": "approve",
            "data": {"a": [1]},
            "decided_by": DecidedBy(type="timeout"),
            "requested_at": NOW,
            "resolved_at": NOW,
        },
    ),
    (
        Vote,
        {"responder": Identity(id="a"), "channel": "c", "action": "approve", "at": NOW},
    ),
]


@pytest.mark.parametrize(("model", "values"), CASES)
def test_trusted_is_model_construct(model: type[BaseModel], values: dict[str, object]) -> None:
    fast, slow = trusted(model, **values), model.model_construct(**values)
    assert fast == slow
    assert fast.model_fields_set == slow.model_fields_set
    assert list(fast.__dict__.items()) == list(slow.__dict__.items())
    assert fast.model_dump_json() == slow.model_dump_json()


def test_mutable_defaults_are_not_shared() -> None:
    first = trusted(InteractionOutcome, **dict(CASES[3][1]))
    second = trusted(InteractionOutcome, **dict(CASES[3][1]))
    first.votes.append(trusted(Vote, **dict(CASES[4][1])))
    assert second.votes == []
