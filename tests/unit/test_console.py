"""The operator console's logic without a terminal: what the board shows (numbers, reminders,
settled ones, finding by number or id), when an answer in progress may be abandoned, the
terminal channel handing notifications and outcomes to the screen, and a half-typed answer
dropped (never sent) when its interaction is decided elsewhere."""

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import pytest

from hitl.cli.console.asking import Interruptible
from hitl.cli.console.board import Arrival, Board
from hitl.cli.console.screen import ConsoleScreen
from hitl.cli.main import main
from hitl.core.routing.config import TerminalReceiver, WebhookReceiver
from hitl.errors import Retryable, TransportError
from hitl.gateway.models import AnswerResult
from hitl.notifiers.channels.terminal import TerminalChannel
from hitl_contract import (
    ApprovalRequest,
    DecidedBy,
    Identity,
    InteractionOutcome,
    JsonObject,
    Notification,
    NotifyReason,
)

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def note(reason: NotifyReason = NotifyReason.REQUESTED, iid: UUID | None = None) -> Notification:
    request = ApprovalRequest(
        kind="approval", id=iid or uuid.uuid4(), thread_id="t-1", prompt="Pay 500 EUR?",
        reply_to="test", requester=Identity(id="agent"),
    )  # fmt: skip
    return Notification(
        interaction_id=request.id, reason=reason, route="default", attempt=1, request=request
    )


def decided(iid: UUID, who: str = "bob", channel: str = "slack:ops") -> InteractionOutcome:
    return InteractionOutcome(
        interaction_id=iid, thread_id="t-1", kind="approval", status="resolved",
        action="approve", decided_by=DecidedBy(type="person", identity=Identity(id=who),
                                               channel=channel),
        requested_at=NOW, resolved_at=NOW,
    )  # fmt: skip


def test_requests_are_numbered_as_they_arrive_and_reminders_are_not_new() -> None:
    board = Board()
    first, second = note(), note()
    assert board.arrive("ops", first)[0] == Arrival.NEW
    arrival, item = board.arrive("ops", second)
    assert (arrival, item.number) == (Arrival.NEW, 2)
    assert board.arrive("ops", first)[0] == Arrival.SAME  # redelivered: shown already
    reminder = note(NotifyReason.REMINDER, first.interaction_id)
    assert board.arrive("ops", reminder)[0] == Arrival.AGAIN
    assert [i.number for i in board.waiting()] == [1, 2]


def test_a_settled_request_leaves_the_list_once_and_is_not_shown_again() -> None:
    board = Board()
    shown = note()
    board.arrive("ops", shown)
    outcome = decided(shown.interaction_id)
    item = board.settle(outcome)
    assert item is not None and item.outcome == outcome
    assert board.settle(outcome) is None  # told twice: said once
    assert board.settle(decided(uuid.uuid4())) is None  # never shown here
    assert board.waiting() == []
    assert board.arrive("ops", note(NotifyReason.REMINDER, shown.interaction_id))[0] == (
        Arrival.LATE
    )


def test_only_the_latest_settled_requests_are_remembered() -> None:
    board = Board(keep_settled=2)
    notes = [note() for _ in range(4)]
    for shown in notes:
        board.arrive("ops", shown)
    for shown in notes[:3]:
        board.settle(decided(shown.interaction_id))
    assert [i.number for i in board.items.values()] == [2, 3, 4]  # #1 forgotten, #4 waits
    assert board.find("1") == "no request #1 here; waiting: #4"
    assert board.arrive("ops", note())[1].number == 5  # numbers are never given twice


def test_a_request_is_found_by_number_or_the_start_of_its_id() -> None:
    board = Board()
    a = note(iid=UUID("aaaa1111-0000-4000-8000-000000000001"))
    b = note(iid=UUID("aaaa2222-0000-4000-8000-000000000002"))
    board.arrive("ops", a)
    board.arrive("ops", b)
    found = board.find("2")
    assert not isinstance(found, str) and found.id == b.interaction_id
    found = board.find("#1")
    assert not isinstance(found, str) and found.id == a.interaction_id
    found = board.find("AAAA2")
    assert not isinstance(found, str) and found.number == 2
    assert board.find("7") == "no request #7 here; waiting: #1, #2"
    assert board.find("aaaa") == "'aaaa' starts 2 ids: #1, #2"
    assert board.find("zz") == "'zz' is not a number or id shown here; waiting: #1, #2"


class Person:
    """Answers from a script; ``None`` waits until cancelled (someone typing slowly)."""

    def __init__(self, *replies: int | str | None) -> None:
        self.replies = list(replies)
        self.told: list[str] = []
        self.stuck = asyncio.Event()  # set once it waits for ever

    async def _next(self) -> int | str:
        reply = self.replies.pop(0)
        if reply is None:
            self.stuck.set()
            await asyncio.Event().wait()
        assert reply is not None
        return reply

    async def select(
        self, message: str, options: Sequence[str], *, other: bool = False
    ) -> int | str:
        return await self._next()

    async def text(self, message: str, *, default: str = "") -> str:
        return str(await self._next())

    async def edit(self, content: str) -> str:
        return str(await self._next())

    def say(self, message: str) -> None:
        self.told.append(message)


async def test_only_a_question_being_asked_may_be_interrupted() -> None:
    person = Person(0, None, "edited")
    asking = Interruptible(person)
    assert await asking.select("Your decision:", ["approve"]) == 0
    assert not asking.asking
    typing = asyncio.create_task(asking.text("Reason: "))
    await person.stuck.wait()
    assert asking.asking
    typing.cancel()
    await asyncio.wait([typing])
    assert not asking.asking
    assert await asking.edit("draft") == "edited"  # the editor owns the terminal


class Screen:
    def __init__(self) -> None:
        self.taking = True
        self.shown: list[tuple[str, Notification]] = []
        self.settled: list[tuple[str, InteractionOutcome]] = []

    def show(self, receiver: str, notification: Notification) -> None:
        self.shown.append((receiver, notification))

    def settle(self, receiver: str, outcome: InteractionOutcome) -> None:
        self.settled.append((receiver, outcome))


async def test_the_terminal_channel_hands_requests_and_outcomes_to_the_screen() -> None:
    screen = Screen()
    channel = TerminalChannel(screen, where="console vm/42")
    receiver = TerminalReceiver(type="terminal", name="ops-console")
    shown = note()
    sent = await channel.send(receiver, shown)
    assert sent.reference == "console vm/42"
    assert screen.shown == [("ops-console", shown)]
    await channel.update(receiver, sent, decided(shown.interaction_id))
    assert [r for r, _ in screen.settled] == ["ops-console"]

    screen.taking = False  # closing: tried again later, by the framework
    with pytest.raises(Retryable, match="the console serving ops-console is closing"):
        await channel.send(receiver, note())
    webhook = WebhookReceiver(type="webhook", name="hook", url="https://example.com/h")
    with pytest.raises(TypeError):
        await channel.send(webhook, note())


class Backend:
    """Answers nothing: records what was sent, then fails with ``failure``."""

    where = "nowhere"

    def __init__(
        self,
        outcome: InteractionOutcome | None = None,
        failure: Exception | None = None,
    ) -> None:
        self.sent: list[tuple[UUID, str, JsonObject]] = []
        self.outcome = outcome
        self.failure = failure or AssertionError("nothing should be sent")

    async def detail(self, interaction_id: UUID) -> object:
        return type("Detail", (), {"outcome": self.outcome})()

    async def answer(
        self, interaction_id: UUID, action: str, data: JsonObject, *, hold: bool = False
    ) -> AnswerResult:
        self.sent.append((interaction_id, action, data))
        raise self.failure


async def test_decided_elsewhere_while_typing_the_answer_is_dropped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    backend = Backend()
    person = Person(0, None)  # approve, then a reason never finished
    screen = ConsoleScreen(backend, lambda: person)  # type: ignore[arg-type]
    shown = note()
    screen.show("ops-console", shown)
    stopping = asyncio.Event()
    answering = asyncio.create_task(screen._answer("1", stopping))
    await person.stuck.wait()  # typing the reason
    screen.settle("ops-console", decided(shown.interaction_id))
    await answering
    said = capsys.readouterr().out
    assert "#1 settled: approved by bob via slack:ops at 2026-12-02 09:00 UTC" in said
    assert "#1: your answer was abandoned, nothing sent (decided elsewhere)" in said
    assert backend.sent == []


async def test_decided_before_sending_nothing_is_sent(capsys: pytest.CaptureFixture[str]) -> None:
    shown = note()
    backend = Backend(decided(shown.interaction_id, "carol", "cli"))  # heard of by a read only
    person = Person(1, "too late")  # reject, with a reason
    screen = ConsoleScreen(backend, lambda: person)  # type: ignore[arg-type]
    screen.show("ops-console", shown)
    await screen._answer("1", asyncio.Event())
    said = capsys.readouterr().out
    assert "#1 was decided meanwhile, nothing sent: already resolved: resolved (approve)" in said
    assert backend.sent == []


def test_the_console_needs_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["console"]) == 2  # pytest's stdin is no terminal
    assert "hitl console is for a terminal" in capsys.readouterr().err


async def test_an_answer_that_cannot_be_sent_is_said_and_the_console_goes_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    backend = Backend(failure=TransportError("RabbitMQ at 127.0.0.1:5672 did not answer"))
    screen = ConsoleScreen(backend, lambda: Person(0, ""))  # type: ignore[arg-type]
    shown = note()
    screen.show("ops-console", shown)
    await screen._answer("1", asyncio.Event())
    said = capsys.readouterr().out
    assert "#1: not sent: RabbitMQ at 127.0.0.1:5672 did not answer" in said
    assert backend.sent == [(shown.interaction_id, "approve", {})]
    assert [i.number for i in screen.board.waiting()] == [1]  # it still waits
