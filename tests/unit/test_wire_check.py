"""The contract check the tests apply to every message they receive catches what it must: a
body that breaks its schema, a wrong message id, a dead-letter header that is not JSON text
(the Python repr that ``x-hitl-error-got`` once carried), an unknown source."""

import uuid
from datetime import UTC, datetime

import orjson
import pytest

from hitl.ports import Envelope
from hitl_contract import DecidedBy, Identity, InteractionOutcome, OutcomeStatus
from hitl_contract.wire import OUTCOME_TYPE, encode_model
from tests import wire_check


def outcome_body() -> bytes:
    now = datetime.now(UTC)
    return encode_model(
        InteractionOutcome(
            interaction_id=uuid.uuid4(),
            thread_id="t",
            kind="approval",
            status=OutcomeStatus.RESOLVED,
            action="approve",
            decided_by=DecidedBy(type="person", identity=Identity(id="ana")),
            requested_at=now,
            resolved_at=now,
        )
    )


def dead_letter(**overrides: str) -> dict[str, str]:
    headers = {
        "x-hitl-error-code": "invalid_field",
        "x-hitl-error-message": "Field required",
        "x-hitl-error-path": "prompt",
        "x-hitl-error-allowed": "null",
        "x-hitl-error-got": "null",
        "x-hitl-source": "requests",
        "x-original-exchange": "hitl.requests",
        "x-original-routing-key": "approval",
        "x-hitl-rejected-at": datetime.now(UTC).isoformat(),
    }
    return {**headers, **overrides}


def violations_of(envelope: Envelope) -> list[str]:
    wire_check.take()
    wire_check.check_envelope(envelope, where="test")
    return wire_check.take()


def test_a_conforming_outcome_passes() -> None:
    assert violations_of(Envelope("x", "r", outcome_body(), OUTCOME_TYPE, "outcome:1")) == []


def test_an_outcome_missing_a_field_fails_its_schema() -> None:
    body = orjson.loads(outcome_body())
    del body["status"]
    found = violations_of(Envelope("x", "r", orjson.dumps(body), OUTCOME_TYPE, "outcome:1"))
    assert len(found) == 1 and "'status' is a required property" in found[0]


def test_a_wrong_message_id_is_caught() -> None:
    found = violations_of(Envelope("x", "r", outcome_body(), OUTCOME_TYPE, "result:1"))
    assert found == ["test: hitl.outcome message_id 'result:1' not outcome:..."]


@pytest.mark.parametrize(
    ("header", "value", "says"),
    [
        ("x-hitl-error-got", "{'kind': 'approval'}", "not JSON text"),  # the old repr
        ("x-hitl-error-allowed", '"approve"', "neither null nor an array"),
        ("x-hitl-source", "elsewhere", "x-hitl-source"),
        ("x-hitl-error-code", "oops", "x-hitl-error-code"),
        ("x-hitl-rejected-at", "yesterday", "x-hitl-rejected-at"),
    ],
)
def test_a_dead_letter_header_off_the_contract_is_caught(
    header: str, value: str, says: str
) -> None:
    envelope = Envelope(
        "hitl.dlx", "requests", b"{}", "hitl.request", "m", None, dead_letter(**{header: value})
    )
    found = violations_of(envelope)
    assert len(found) == 1 and says in found[0]


def test_a_conforming_dead_letter_passes() -> None:
    envelope = Envelope("hitl.dlx", "requests", b"{}", "hitl.request", "m", None, dead_letter())
    assert violations_of(envelope) == []
