"""``hitl resume THREAD_OR_ID ACTION [--data JSON]`` (seed 001), ``hitl respond ID [ACTION]``
(interactive without an action, seed 002) and ``hitl cancel``: answer as a person, and print
the receipt: accepted, recorded, already resolved with the recorded outcome, or the refusal."""

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

import click

from hitl.cli import targets
from hitl.cli.backends.port import Backend
from hitl.cli.common import backend, examples, out, parse_data, print_json, run
from hitl.cli.errors import AlreadyDecided, Unknown, Usage
from hitl.cli.render import already, receipt
from hitl.gateway.models import AnswerResult
from hitl_contract import JsonObject

ACTIONS = (
    "approve, reject, edit, choose, respond, proceed, revise, refine, cancel or best_judgement "
    "(and submit, answer, decide for forms, clarify questions, batches)"
)
EXIT_NOTE = (
    "Exit codes: 0 accepted (or recorded, held), 2 bad usage or --data, 3 already resolved, "
    "4 refused, 5 unknown id or nothing pending, 6 not allowed, 7 a server did not answer, "
    "8 claimed by someone else."
)
F = TypeVar("F", bound=Callable[..., Any])


def _answering(f: F) -> F:
    """The options every answering command takes."""
    for option in reversed(
        (
            click.option(
                "--id",
                "pick",
                type=click.UUID,
                help="The interaction, when the thread has several pending.",
            ),
            click.option(
                "--as",
                "who",
                help="Answer as this identity (default: $USER); straight on the servers only: "
                "through the gateway you are the API key's identity.",
            ),
            click.option(
                "--timeout",
                type=float,
                default=10.0,
                show_default=True,
                help="Seconds to wait for the broker's receipt (straight on the servers).",
            ),
            click.option("--json", "as_json", is_flag=True, help="Print the receipt as JSON only."),
        )
    ):
        f = option(f)
    return f


def _data(f: F) -> F:
    f = click.option(
        "--hold",
        is_flag=True,
        help="Send even when no such interaction exists yet: the broker holds the answer for "
        "its request (HITL_EARLY_ANSWER_HOLD_SECONDS). For machines that answer before they "
        "ask; without it an unknown id is an error. Straight on the servers only.",
    )(f)
    return click.option(
        "--data",
        "-d",
        "data_text",
        metavar="JSON",
        help="The answer's fields as a JSON object (docs/kinds.md).",
    )(f)


def register(app: click.Group) -> None:
    app.add_command(resume)
    app.add_command(respond)
    app.add_command(cancel)


@click.command(
    help=f"Answer the interaction a thread waits on (or one by id) and print the receipt. "
    f"ACTION: {ACTIONS}. Without ACTION at a terminal, asks interactively as `hitl respond`.",
    epilog=examples(
        "hitl resume thread_12345 approve",
        "hitl resume thread_12345 reject --data "
        """'{"reason": "Budget exceeds allocated amount"}'""",
        "hitl resume thread_12345 edit --data "
        """'{"edited": "...", "changes": ["Added urgency indicator"]}'""",
        "hitl resume thread_12345 choose --data "
        """'{"choice": 2, "justification": "Staging first"}'""",
        """hitl resume thread_12345 respond --data '{"text": "Add social login"}'""",
        "hitl resume thread_12345 approve --id 0b6e2c1a-...   (a thread with several pending)",
        notes=EXIT_NOTE,
    ),
)
@click.argument("target", metavar="THREAD_OR_ID")
@click.argument("action", metavar="[ACTION]", required=False)
@_data
@_answering
@click.pass_context
def resume(ctx: click.Context, /, target: str, action: str | None, **options: Any) -> None:
    answer(ctx, target, action, **options)


@click.command(
    help="Answer an interaction. Without ACTION, interactively: a panel for its kind, arrow-key "
    "choices, questions one at a time, form fields re-asked until valid, $EDITOR for edits, "
    "batch items one by one or all at once. With ACTION, as `hitl resume`.",
    epilog=examples(
        "hitl respond 0b6e2c1a-4f0e-4c7e-9d2b-6a1f3e5d7c9b",
        "hitl respond 0b6e2c1a-4f0e-4c7e-9d2b-6a1f3e5d7c9b approve "
        """--data '{"reason": "Within budget"}'""",
        notes=EXIT_NOTE,
    ),
)
@click.argument("target", metavar="ID")
@click.argument("action", metavar="[ACTION]", required=False)
@_data
@_answering
@click.pass_context
def respond(ctx: click.Context, /, target: str, action: str | None, **options: Any) -> None:
    answer(ctx, target, action, **options)


@click.command(
    help="Withdraw a pending interaction: its producer gets a cancelled outcome.",
    epilog=examples(
        "hitl cancel 0b6e2c1a-4f0e-4c7e-9d2b-6a1f3e5d7c9b --reason 'v2.4 was withdrawn'",
        "hitl cancel thread_12345",
        notes=EXIT_NOTE,
    ),
)
@click.argument("target", metavar="THREAD_OR_ID")
@click.option("--reason", help="Why, for the record.")
@_answering
@click.pass_context
def cancel(ctx: click.Context, /, target: str, reason: str | None, **options: Any) -> None:
    data: JsonObject = {"reason": reason} if reason else {}
    answer(ctx, target, "cancel", data_text=None, hold=False, given=data, **options)


def answer(
    ctx: click.Context,
    target: str,
    action: str | None,
    *,
    data_text: str | None,
    pick: UUID | None = None,
    who: str | None = None,
    hold: bool = False,
    timeout: float = 10.0,
    as_json: bool = False,
    given: JsonObject | None = None,
) -> None:
    from hitl.cli.interactive.prompter import TerminalPrompter
    from hitl.cli.interactive.session import (
        interactive_available,
        run_interactive,
        thread_chooser,
    )

    data = parse_data(data_text) if data_text is not None else dict(given or {})
    if action is None and data_text is not None:
        raise Usage("--data needs an ACTION (e.g. approve); without one, hitl asks you")
    if action is None and not interactive_available():
        raise Usage(
            "ACTION is missing: give one (e.g. approve, or reject --data '{...}'), or run at a "
            "terminal to answer interactively"
        )

    async def send() -> int:
        async with backend(ctx, who, timeout) as b:
            # At a terminal, a thread with several pending asks which; else --id says.
            chooser = thread_chooser(TerminalPrompter()) if interactive_available() else None
            iid = await targets.resolve(b, target, pick, chooser)
            result = await _send(b, target, iid, action, data, hold)
        show(result, as_json)
        return 0

    try:
        if action is None:
            run(run_interactive(ctx, target, pick=pick, who=who, timeout=timeout))
        else:
            run(send())
    except AlreadyDecided as exc:
        show_already(exc, as_json)
        raise click.exceptions.Exit(exc.exit_code) from None


async def _send(
    b: Backend, target: str, iid: UUID, action: str | None, data: JsonObject, hold: bool
) -> AnswerResult:
    assert action is not None
    try:
        return await b.answer(iid, action, data, hold=hold)
    except Unknown as exc:
        raise Unknown(await targets.unknown(b, target)) from exc


def show(result: AnswerResult, json: bool) -> None:
    if json:
        print_json(result)
    else:
        out.print(receipt(result), markup=False)


def show_already(exc: AlreadyDecided, json: bool) -> None:
    if json:
        print_json({"result": "already_resolved", "outcome": exc.outcome.model_dump(mode="json")})
    else:
        out.print(already(exc.outcome), markup=False)
