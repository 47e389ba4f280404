"""How each kind is answered at a terminal (``hitl.cli.interactive.flows``), with a scripted
person instead of a terminal: which questions, what empty input means, and the answer that
goes to the broker; and the "did you mean" of an unknown id."""

import time
import uuid
from collections import deque
from collections.abc import Sequence

import pytest
from pydantic import TypeAdapter

from hitl.cli.interactive import flows, panels
from hitl.cli.targets import suggestions
from hitl.core.machine import open_interaction
from hitl.gateway import views
from hitl_contract import ErrorCode, ErrorDetail, InteractionRequest

REQUESTS: TypeAdapter[InteractionRequest] = TypeAdapter(InteractionRequest)


class Person:
    """Answers each question with the next scripted reply: an option index or "Other" text for
    choices, a line for text prompts ("" takes the default)."""

    def __init__(self, *replies: int | str) -> None:
        self.replies = deque(replies)
        self.asked: list[str] = []
        self.told: list[str] = []

    async def select(
        self, message: str, options: Sequence[str], *, other: bool = False
    ) -> int | str:
        self.asked.append(message)
        reply = self.replies.popleft()
        assert (isinstance(reply, str) and other) or (
            isinstance(reply, int) and reply < len(options)
        )
        return reply

    async def text(self, message: str, *, default: str = "") -> str:
        self.asked.append(message)
        reply = self.replies.popleft()
        assert isinstance(reply, str)
        return reply or default

    async def edit(self, content: str) -> str:
        reply = self.replies.popleft()
        assert isinstance(reply, str)
        return reply

    def say(self, message: str) -> None:
        self.told.append(message)


def request(kind: str, **fields: object) -> InteractionRequest:
    body = {
        "kind": kind,
        "id": str(uuid.uuid4()),
        "thread_id": "t-1",
        "prompt": "Question?",
        "reply_to": "test",
        "requester": {"id": "agent"},
        **fields,
    }
    return REQUESTS.validate_python(body)


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(panels, "question", lambda *a: None)


async def test_review_kinds_take_the_first_action_on_empty_input() -> None:
    person = Person("")
    answer = await flows.ask(request("confirmation", summary="Plan", path="a/b"), person)
    assert (answer.action, answer.data) == ("proceed", {})
    assert person.asked == ["Proceed? (proceed/revise/cancel) "]


async def test_an_unknown_typed_action_is_asked_again_then_feedback_is_required() -> None:
    person = Person("later", "refine", "", "More examples")
    answer = await flows.ask(request("validation", report="FAILED", passed=False), person)
    assert (answer.action, answer.data) == ("refine", {"feedback": "More examples"})
    assert person.told[0] == "'later' is not one of proceed, refine, cancel"
    assert person.told[1].startswith("an answer is needed")


async def test_multiple_choice_takes_numbers_and_other() -> None:
    choice = request(
        "choice", options=["a", "b", "c"], multiple=True, max_selections=2, allow_other=True
    )
    person = Person("1,x", "4", "1, 3", "d (new)", "")
    answer = await flows.ask(choice, person)
    assert answer.data == {"choices": [1, 3], "other": "d (new)"}
    assert person.told == ["give numbers from 1 to 3, e.g. 1,3"] * 2


async def test_batch_all_at_once_and_conversation_end() -> None:
    batch = request("batch", items=[{"id": "r-1", "title": "x"}, {"id": "r-2", "title": "y"}])
    answer = await flows.ask(batch, Person(1, 1))
    assert (answer.action, answer.data) == ("decide", {"all": "reject"})
    talk = await flows.ask(request("conversation"), Person(1))
    assert (talk.action, talk.data) == ("end", {})


async def test_text_fields_and_clarify_options_by_number() -> None:
    text = request(
        "text_input", fields=[{"name": "summary"}, {"name": "impact", "required": False}]
    )
    answer = await flows.ask(text, Person("Latency spike", ""))
    assert answer.data == {"summary": "Latency spike"}
    clarify = request(
        "clarify",
        questions=[
            {"key": "level", "question": "Level?", "options": ["beginner", "advanced"]},
            {"question": "Anything else?"},
        ],
    )
    answer = await flows.ask(clarify, Person(1, "No"))
    assert answer.data == {"answers": {"level": 2, "2": "No"}}


async def test_a_refused_form_asks_again_only_the_fields_at_fault() -> None:
    form = request(
        "form",
        fields=[
            {"name": "service", "type": "string", "required": True},
            {"name": "replicas", "type": "integer", "maximum": 20},
            {"name": "launch", "type": "date"},
        ],
    )
    person = Person("payments", "50", "soon", "2026-12-01")
    first = await flows.ask(form, person)
    assert first.data == {
        "answers": {"service": "payments", "replicas": 50, "launch": "2026-12-01"}
    }
    assert person.told == ["launch: 'soon' is not a date (YYYY-MM-DD)"]
    refusal = ErrorDetail(
        code=ErrorCode.INVALID_RESPONSE,
        message="1 field is not valid",
        details=[
            ErrorDetail(
                code=ErrorCode.INVALID_RESPONSE,
                message="must be at most 20",
                path="data.answers.replicas",
            )
        ],
    )
    again = Person("")  # empty input keeps what was typed before, shown as the default
    fixed = await flows.fix(form, first, refusal, again)
    assert again.told == ["replicas: must be at most 20"]
    assert again.asked == ["replicas (integer, …-20, optional): "]
    assert fixed.data == {
        "answers": {"service": "payments", "launch": "2026-12-01", "replicas": 50}
    }


def test_did_you_mean_by_prefix_by_first_characters_and_by_thread() -> None:
    r = request("approval")
    state = open_interaction(r, time.time(), "default").state
    pending = [views.summary(state, time.time())]
    iid = str(r.id)
    assert suggestions(iid[:6], pending) == [f"{iid} (approval, thread t-1)"]
    assert suggestions(iid[:30] + "ffffff", pending) == [f"{iid} (approval, thread t-1)"]
    assert suggestions("t-", pending) == []  # too short to mean a thread
    assert suggestions("t-1", pending) == [f"thread t-1 (approval {iid})"]
    assert suggestions("nothing-like-it", pending) == []
