"""hitl.integrations.chat's pure pieces and its gate on the in-memory store: a thread is
blocked from the moment its form is asked until the conversation went on with the outcome;
the broker's field errors read as form fields; the catalogue picks the person's language."""

import pytest

from hitl.adapters.memory import MemoryStore
from hitl.core.decoding import REQUEST_ADAPTER
from hitl.core.machine import answer, open_interaction
from hitl.integrations.chat import Catalogue, FieldError, ThreadGate, field_errors
from hitl_contract import ErrorDetail, HumanResponse, Identity, InteractionRequest
from tests.helpers import raw_request
from tests.store_cases import T0

FORM = {"kind": "form", "fields": [{"name": "service", "type": "string", "required": True}]}


def form(thread: str) -> InteractionRequest:
    return REQUEST_ADAPTER.validate_python(raw_request(thread_id=thread, **FORM))


async def test_a_thread_waits_from_the_ask_until_the_outcome_was_taken() -> None:
    store = MemoryStore()
    gate = ThreadGate(store)
    request = form("chat-1")
    assert await gate.pending("chat-1") == []

    gate.asking(request)  # published, not stored yet
    assert await gate.pending("chat-1") == [request]
    opened = open_interaction(request, T0, "default")
    await store.create(opened, [])
    assert [r.id for r in await gate.pending("chat-1")] == [request.id]  # once, not twice
    assert await gate.pending("chat-2") == []

    response = HumanResponse(
        interaction_id=request.id, action="cancel", data={}, responder=Identity(id="ana"),
        channel="chat",
    )  # fmt: skip
    decided = answer(opened.state, response, T0 + 1)
    await store.commit(decided, opened.state.version, [], T0 + 1)
    assert await gate.blocked("chat-1")  # decided, but the chat has not gone on yet
    gate.settled(request.id)
    assert not await gate.blocked("chat-1")


async def test_a_form_pending_in_the_store_blocks_a_gate_that_never_asked_it() -> None:
    store = MemoryStore()
    request = form("chat-1")
    await store.create(open_interaction(request, T0, "default"), [])
    assert await ThreadGate(store).blocked("chat-1")


def test_field_errors_name_the_form_fields() -> None:
    error = ErrorDetail(
        code="invalid_response", message="2 fields", path="data.answers",
        details=[
            ErrorDetail(code="invalid_response", message="required", path="data.answers.service"),
            ErrorDetail(code="invalid_response", message="too big", path="data.answers.tags[2]"),
        ],
    )  # fmt: skip
    assert field_errors(error) == [FieldError("service", "required"), FieldError("tags", "too big")]
    action = ErrorDetail(code="invalid_response", message="no such action", path="action")
    assert field_errors(action) == [FieldError(None, "no such action")]


def test_the_catalogue_picks_the_persons_language_and_falls_back() -> None:
    catalogue = Catalogue(
        {"en": {"hi": "Hello {name}", "bye": "Bye"}, "de": {"hi": "Hallo {name}"}}
    )
    assert catalogue.locale("de-AT,en;q=0.5") == "de"
    assert catalogue.locale("fr, en;q=0.1") == "en"
    assert catalogue.locale(None) == "en"
    assert catalogue.text("de", "hi", name="Ana") == "Hallo Ana"
    assert catalogue.text("de", "bye") == "Bye"  # a key German lacks: English
    with pytest.raises(ValueError, match="default locale 'fr'"):
        Catalogue({"en": {}}, default="fr")
