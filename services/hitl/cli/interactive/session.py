"""``hitl respond ID`` without an action: show the request's panel, ask the person as its kind
wants (``flows``), and send the answer. A refused answer is asked again with the broker's
message; if someone else decides while the person types, they are told who, and nothing is
sent."""

import sys
from collections.abc import Awaitable, Callable, Sequence
from uuid import UUID

import click

from hitl.cli import targets
from hitl.cli.backends.port import Backend
from hitl.cli.common import backend, out
from hitl.cli.errors import AlreadyDecided, Refused, Unknown, Usage
from hitl.cli.interactive import flows, panels
from hitl.cli.interactive.prompter import Prompter, TerminalPrompter
from hitl.cli.render import already, receipt
from hitl.gateway.models import AnswerResult, InteractionSummary
from hitl_contract import InteractionOutcome, InteractionRequest

MAX_TRIES = 5


def interactive_available() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


async def run_interactive(
    ctx: click.Context,
    target: str,
    *,
    pick: UUID | None,
    who: str | None,
    timeout: float,
    prompter: Prompter | None = None,
) -> int:
    asker = prompter or TerminalPrompter()
    async with backend(ctx, who, timeout) as b:
        iid = await targets.resolve(b, target, pick, thread_chooser(asker))
        return await converse(b, target, iid, asker)


async def converse(b: Backend, target: str, iid: UUID, prompter: Prompter) -> int:
    detail = await b.detail(iid)
    if detail is None:
        raise Unknown(await targets.unknown(b, target))
    if detail.outcome is not None:
        raise AlreadyDecided(detail.outcome)
    if detail.status != "pending":
        raise Usage(f"{iid} is {detail.status}; nothing to answer")
    panels.show(detail.request)
    answer = await flows.ask(detail.request, prompter)

    async def meanwhile() -> InteractionOutcome | None:
        now = await b.detail(iid)
        return None if now is None else now.outcome

    try:
        result = await send_answer(b, iid, detail.request, answer, prompter, meanwhile)
    except DecidedMeanwhile as exc:
        out.print(f"decided meanwhile, nothing sent: {already(exc.outcome)}", markup=False)
        raise click.exceptions.Exit(AlreadyDecided.exit_code) from None
    out.print(receipt(result), markup=False)
    return 0


class DecidedMeanwhile(AlreadyDecided):
    """Someone else decided while the person typed: their answer was not sent."""


async def send_answer(
    b: Backend,
    iid: UUID,
    request: InteractionRequest,
    answer: flows.Answer,
    prompter: Prompter,
    meanwhile: Callable[[], Awaitable[InteractionOutcome | None]],
) -> AnswerResult:
    """Send ``answer``; one the broker refuses is asked again with its message (``flows.fix``).
    Before each send, ``meanwhile`` says whether the interaction was decided elsewhere: then
    ``DecidedMeanwhile``, and nothing is sent (the broker would refuse it too)."""
    for _ in range(MAX_TRIES):
        outcome = await meanwhile()
        if outcome is not None:
            raise DecidedMeanwhile(outcome)
        try:
            return await b.answer(iid, answer.action, answer.data)
        except Refused as exc:
            prompter.say(f"the broker refused it: {exc}")
            answer = await flows.fix(request, answer, exc.detail, prompter)
    raise Usage(f"gave up after {MAX_TRIES} refused answers")


def thread_chooser(prompter: Prompter) -> targets.Pick:
    async def choose(items: Sequence[InteractionSummary]) -> InteractionSummary:
        labels = [f"{i.kind}: {' '.join(i.prompt.split())[:60]} ({i.id})" for i in items]
        got = await prompter.select("This thread has several pending; which one?", labels)
        assert isinstance(got, int)
        return items[got]

    return choose
