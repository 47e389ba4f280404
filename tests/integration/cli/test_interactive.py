"""The interactive ``hitl respond ID`` (seed 002) driven in a pseudo-terminal with pexpect, as a
person types: arrow keys, Enter, lines of text, an editor. Each dialogue ends with the receipt
and the producer's outcome."""

import asyncio
import io
import sys
from collections.abc import Sequence
from pathlib import Path

import pexpect

from hitl.sdk import HitlClient
from tests.integration.cli.conftest import Asker, Cli

DOWN = "\x1b[B"
ENTER = "\r"
Step = tuple[str, str]  # (what the terminal shows, regex; what the person types)


def talk(env: dict[str, str], args: Sequence[str], steps: Sequence[Step], end: str) -> str:
    """Run ``hitl`` in a pseudo-terminal through ``steps``; everything it showed."""
    child = pexpect.spawn(
        sys.executable,
        ["-m", "hitl.cli.main", *args],
        env=env | {"PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm", "COLUMNS": "120"},
        dimensions=(50, 120),
        encoding="utf-8",
        timeout=30,
    )
    child.logfile_read = io.StringIO()
    try:
        for shown, typed in steps:
            child.expect(shown)
            child.send(typed)
        child.expect(end)
        child.expect(pexpect.EOF)
    except (pexpect.TIMEOUT, pexpect.EOF) as exc:
        raise AssertionError(f"the terminal showed:\n{child.logfile_read.getvalue()}") from exc
    finally:
        child.close()
    assert child.exitstatus is not None
    return f"{child.logfile_read.getvalue()}\nexit {child.exitstatus}"


async def dialogue(cli: Cli, target: str, steps: Sequence[Step], end: str) -> str:
    return await asyncio.to_thread(talk, cli.env, ["respond", target], steps, end)


async def test_approval_with_arrow_keys(cli: Cli, ask: Asker, client: HitlClient) -> None:
    request = await ask(context={"proposal_amount": 50000})
    said = await dialogue(
        cli,
        str(request.id),
        [("Your decision:", DOWN + ENTER), ("Reason", "Budget exceeds allocated amount\r")],
        rf"accepted: resolved \(reject\) by person alice via {cli.channel}",
    )
    assert said.endswith("exit 0")
    outcome = await client.wait(request.id, timeout=10)
    assert outcome.data == {"reason": "Budget exceeds allocated amount"}


async def test_choice_with_other(cli: Cli, ask: Asker, client: HitlClient) -> None:
    request = await ask(
        "choice", prompt="Which region?", options=["eu-west-1", "us-east-1"], allow_other=True
    )
    await dialogue(
        cli,
        str(request.id),
        [
            (r"Other \(type my own\)", DOWN + DOWN + ENTER),
            ("Your answer:", "eu-central-2 (new)\r"),
            ("Justification", ENTER),
        ],
        r"accepted: resolved \(choose\)",
    )
    outcome = await client.wait(request.id, timeout=10)
    assert outcome.data["other"] == "eu-central-2 (new)"


async def test_form_field_asked_again_with_the_brokers_message(
    cli: Cli, ask: Asker, client: HitlClient
) -> None:
    request = await ask(
        "form",
        prompt="Register the new service.",
        fields=[
            {"name": "service", "type": "string", "required": True, "max_length": 64},
            {"name": "replicas", "type": "integer", "minimum": 1, "maximum": 20, "default": 2},
            {"name": "tier", "type": "enum", "options": ["gold", "silver"], "required": True},
        ],
    )
    said = await dialogue(
        cli,
        str(request.id),
        [
            ("service", "payments\r"),
            (r"replicas \(integer, 1-20, optional\) \[2\]", "many\r"),  # not a number: asked again
            ("is not a whole number", "50\r"),  # a number the broker refuses
            ("tier", DOWN + ENTER),
            (r"the broker refused it: refused at data\.answers\.replicas: must be at most 20", ""),
            (r"replicas: must be at most 20", ""),  # the field asked again with that message
            (r"replicas \(integer, 1-20, optional\) \[50\]", "3\r"),
        ],
        r"accepted: resolved \(submit\)",
    )
    after = said[said.index("the broker refused it") :]
    assert "service (string" not in after  # only the field at fault was asked again
    outcome = await client.wait(request.id, timeout=10)
    assert outcome.data == {"answers": {"service": "payments", "replicas": 3, "tier": "silver"}}


async def test_clarify_markdown_list_one_question_at_a_time(
    cli: Cli, ask: Asker, client: HitlClient
) -> None:
    request = await ask(
        "clarify",
        prompt="A few questions before I start.",
        questions="1. What level of detail should this skill cover?\n2. Should it include exercises?",
    )
    said = await dialogue(
        cli,
        str(request.id),
        [
            ("Question 1/2", ""),
            ("Your answer:", "Intermediate, with practical examples\r"),
            ("Question 2/2", ""),
            ("Your answer:", "yes\r"),
        ],
        r"accepted: resolved \(answer\)",
    )
    assert said.index("What level of detail") < said.index("Should it include exercises")
    outcome = await client.wait(request.id, timeout=10)
    assert outcome.data == {"answers": {"1": "Intermediate, with practical examples", "2": "yes"}}


async def test_preview_refine_with_feedback(cli: Cli, ask: Asker, client: HitlClient) -> None:
    request = await ask(
        "preview",
        prompt="Looks good?",
        content="## Overview\nPython async/await provides...",
        highlights=["Clear explanations of async/await"],
        potential_issues=["Could add more error handling examples"],
    )
    said = await dialogue(
        cli,
        str(request.id),
        [
            (r"Looks good\? \(proceed/refine/cancel\) \[proceed\]", "maybe\r"),
            ("'maybe' is not one of proceed, refine, cancel", "refine\r"),
            ("What should be improved", "Add a troubleshooting section\r"),
        ],
        r"accepted: resolved \(refine\)",
    )
    assert "Content Preview" in said and "Clear explanations of async/await" in said
    assert "Could add more error handling examples" in said
    outcome = await client.wait(request.id, timeout=10)
    assert outcome.data == {"feedback": "Add a troubleshooting section"}


async def test_confirmation_takes_proceed_on_empty_input(
    direct_cli: Cli, ask: Asker, client: HitlClient
) -> None:
    request = await ask(
        "confirmation",
        prompt="Proceed with this plan?",
        summary="Skill: Python async programming",
        path="technical_skills/python/async",
    )
    said = await dialogue(
        direct_cli, str(request.id), [(r"\[proceed\]", ENTER)], r"accepted: resolved \(proceed\)"
    )
    assert "Understanding Summary" in said and "technical_skills/python/async" in said
    assert (await client.wait(request.id, timeout=10)).action == "proceed"


async def test_batch_one_by_one(direct_cli: Cli, ask: Asker, client: HitlClient) -> None:
    request = await ask(
        "batch",
        prompt="Please review this batch of refunds:",
        items=[{"id": "r-1", "title": "Refund 20 EUR"}, {"id": "r-2", "title": "Refund 900 EUR"}],
    )
    await dialogue(
        direct_cli,
        str(request.id),
        [
            ("2 items:", ENTER),  # one by one
            (r"\[1/2\] Refund 20 EUR", ENTER),  # approve
            ("Note", ENTER),
            (r"\[2/2\] Refund 900 EUR", DOWN + ENTER),  # reject
            ("Note", "Needs a manager\r"),
        ],
        r"accepted: resolved \(decide\)",
    )
    outcome = await client.wait(request.id, timeout=10)
    assert outcome.data["decisions"] == {"r-1": "approve", "r-2": "reject"}
    assert outcome.data["notes"] == {"r-2": "Needs a manager"}


async def test_edit_in_the_editor(
    direct_cli: Cli, ask: Asker, client: HitlClient, tmp_path: Path
) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text(
        "#!/bin/sh\nsed -i 's/detected an anomaly/found an anomaly that needs you/' \"$1\"\n"
    )
    editor.chmod(0o755)
    request = await ask(
        "edit", prompt="Edit this alert.", content="The system has detected an anomaly"
    )
    env = direct_cli.env | {"EDITOR": str(editor), "VISUAL": str(editor)}
    await asyncio.to_thread(
        talk,
        env,
        ["respond", str(request.id)],
        [("Changes made", "Added urgency\r")],
        r"accepted: resolved \(edit\)",
    )
    outcome = await client.wait(request.id, timeout=10)
    assert outcome.data == {
        "edited": "The system has found an anomaly that needs you",
        "changes": ["Added urgency"],
    }


async def test_told_who_decided_while_typing(direct_cli: Cli, ask: Asker) -> None:
    request = await ask(prompt="Deploy on Friday?")
    child = await asyncio.to_thread(
        pexpect.spawn,
        sys.executable,
        ["-m", "hitl.cli.main", "respond", str(request.id)],
        env=direct_cli.env | {"PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm"},
        dimensions=(50, 120),
        encoding="utf-8",
        timeout=30,
    )
    try:
        await asyncio.to_thread(child.expect, "Your decision:")
        other = await direct_cli("resume", str(request.id), "reject", "--as", "bob")
        assert other.code == 0
        child.send(ENTER)
        await asyncio.to_thread(child.expect, "Reason")
        child.send("ok\r")
        await asyncio.to_thread(
            child.expect,
            r"decided meanwhile, nothing sent: already resolved: resolved \(reject\) by person bob",
        )
        await asyncio.to_thread(child.expect, pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 3


async def test_resume_at_a_terminal_asks_which_of_a_threads_pending(
    direct_cli: Cli, ask: Asker, client: HitlClient
) -> None:
    await ask(thread_id="t-pick", prompt="Deploy the API?")
    second = await ask(thread_id="t-pick", prompt="Deploy the workers?")
    said = await asyncio.to_thread(
        talk,
        direct_cli.env,
        ["resume", "t-pick", "approve"],
        [("several pending; which one", DOWN + ENTER)],
        r"accepted: resolved \(approve\)",
    )
    assert "Deploy the API?" in said and said.endswith("exit 0")
    assert (await client.wait(second.id, timeout=10)).action == "approve"


async def test_ctrl_c_sends_nothing_and_exits_130(direct_cli: Cli, ask: Asker) -> None:
    request = await ask(thread_id="t-interrupt")
    said = await asyncio.to_thread(
        talk,
        direct_cli.env,
        ["respond", str(request.id)],
        [("Your decision:", "\x03")],
        "hitl: interrupted",
    )
    assert said.endswith("exit 130")
    shown = await direct_cli("show", str(request.id), "--json")
    assert '"status":"pending"' in shown.out.replace(" ", "")
