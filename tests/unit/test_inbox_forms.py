"""The inbox's posted forms read as answers (hitl.gateway.inbox.answering): names map to the
answer's data, inputs are typed as the form says, blanks are left for the broker to judge."""

import uuid
from typing import Any

import pytest

from hitl.core.decoding import REQUEST_ADAPTER
from hitl.gateway.inbox.answering import (
    FieldError,
    NotThisForm,
    answer_from_form,
    field_errors,
)
from hitl_contract import InteractionRequest


def request(kind: str, **fields: Any) -> InteractionRequest:
    return REQUEST_ADAPTER.validate_python(
        {
            "kind": kind,
            "id": uuid.uuid4(),
            "thread_id": "t",
            "prompt": "?",
            "reply_to": "p",
            "requester": {"id": "agent"},
            **fields,
        }
    )


def posted(kind: str, action: str, **values: str | list[str]) -> dict[str, list[str]]:
    form = {"kind": [kind], "action": [action], "csrf": ["x"]}
    form.update({k: v if isinstance(v, list) else [v] for k, v in values.items()})
    return form


def test_a_form_of_another_kind_or_an_unknown_action_is_not_this_forms() -> None:
    approval = request("approval")
    with pytest.raises(NotThisForm, match="made for 'choice'"):
        answer_from_form(approval, posted("choice", "choose"))
    with pytest.raises(NotThisForm, match="'launch' is not one of"):
        answer_from_form(approval, posted("approval", "launch"))


def test_form_fields_are_typed_and_blanks_left_out() -> None:
    form = request(
        "form",
        fields=[
            {"name": "n", "type": "integer"},
            {"name": "x", "type": "number"},
            {"name": "b", "type": "boolean"},
            {"name": "s", "type": "string"},
            {"name": "t", "type": "text"},
            {"name": "bad", "type": "integer"},
        ],
    )
    answer = answer_from_form(
        form,
        posted(
            "form",
            "submit",
            **{
                "data.answers.n": "3",
                "data.answers.x": "2.5",
                "data.answers.b": "false",
                "data.answers.s": " ",
                "data.answers.t": "a\r\nb",
                "data.answers.bad": "many",
            },
        ),
    )
    assert answer.data == {"answers": {"n": 3, "x": 2.5, "b": False, "t": "a\nb", "bad": "many"}}


def test_choices_clarify_and_batch_read_their_inputs() -> None:
    several = request("choice", options=["a", "b", "c"], multiple=True, allow_other=True)
    got = answer_from_form(
        several,
        posted(
            "choice",
            "choose",
            **{"data.choices": ["1", "3"], "data.other": "d", "data.justification": ""},
        ),
    )
    assert got.data == {"choices": [1, 3], "other": "d"}
    clarify = request(
        "clarify",
        questions=[
            {"key": "level", "question": "?", "options": ["x", "y"]},
            {"question": "Free?"},
            {"key": "own", "question": "?", "options": ["p"]},
        ],
    )
    got = answer_from_form(
        clarify,
        posted(
            "clarify",
            "answer",
            **{
                "data.answers.level": "2",
                "data.answers.2": "text",
                "data.answers.own": "other",
                "data.answers.own.other": "mine",
            },
        ),
    )
    assert got.data == {"answers": {"level": 2, "2": "text", "own": "mine"}}
    batch = request("batch", items=[{"id": "r.1", "title": "A"}, {"id": "r-2", "title": "B"}])
    got = answer_from_form(
        batch,
        posted(
            "batch",
            "decide",
            **{
                "data.all": "approve",
                "data.decisions.r.1": "",
                "data.decisions.r-2": "reject",
                "data.notes.r-2": "why",
            },
        ),
    )
    assert got.data == {"all": "approve", "decisions": {"r-2": "reject"}, "notes": {"r-2": "why"}}


def test_universal_actions_and_text_kinds() -> None:
    edit = request("edit", content="x")
    assert answer_from_form(edit, posted("edit", "cancel", **{"data.reason": "no"})).data == {
        "reason": "no"
    }
    assert answer_from_form(edit, posted("edit", "best_judgement")).data == {}
    got = answer_from_form(
        edit, posted("edit", "edit", **{"data.edited": "", "data.changes": "one\r\n\r\ntwo "})
    )
    assert got.data == {"edited": "", "changes": ["one", "two"]}
    text = request("text_input")
    assert answer_from_form(text, posted("text_input", "respond")).data == {"text": ""}


def test_the_brokers_errors_become_input_errors() -> None:
    listed = {
        "errors": [
            {"path": "data.choices[1]", "message": "bad", "allowed": ["1: a"]},
            {"path": "data.answers.n", "message": "required"},
        ]
    }
    assert field_errors(listed, None) == [
        FieldError("data.choices", "bad (allowed: 1: a)"),
        FieldError("data.answers.n", "required"),
    ]
    assert field_errors({"path": "data.feedback"}, "needs feedback") == [
        FieldError("data.feedback", "needs feedback")
    ]
