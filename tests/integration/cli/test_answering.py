"""``hitl resume`` / ``respond`` / ``cancel`` as seed 001 writes them, in both modes: a thread
resolves to its pending interaction, the receipt says what became of the answer, and every
kind of bad input is one line with its documented exit code."""

import uuid

import orjson

from hitl.sdk import HitlClient
from tests.integration.cli.conftest import Asker, Cli


async def test_resume_a_thread_then_a_second_click(
    cli: Cli, ask: Asker, client: HitlClient
) -> None:
    request = await ask(thread_id="thread_12345")
    run = await cli(
        "resume",
        "thread_12345",
        "reject",
        "--data",
        '{"reason": "Budget exceeds allocated amount"}',
    )
    assert run.code == 0, run.err
    assert run.out.startswith(f"accepted: resolved (reject) by person alice via {cli.channel} at ")
    outcome = await client.wait(request.id, timeout=10)
    assert outcome.data == {"reason": "Budget exceeds allocated amount"}

    again = await cli("resume", str(request.id), "approve")
    assert again.code == 3, again.err
    assert again.out.startswith(
        f"already resolved: resolved (reject) by person alice via {cli.channel} at "
    )
    as_json = await cli("resume", str(request.id), "approve", "--json")
    assert as_json.code == 3
    receipt = orjson.loads(as_json.out)
    assert receipt["result"] == "already_resolved"
    assert receipt["outcome"]["decided_by"]["identity"]["id"] == "alice"


async def test_seed_001_commands_for_each_kind(cli: Cli, ask: Asker) -> None:
    edit = await ask("edit", thread_id="t-edit", content="The system has detected an anomaly")
    choice = await ask("choice", thread_id="t-choice", options=["Production", "Staging", "Dev"])
    text = await ask("text_input", thread_id="t-text")
    for thread, action, data in (
        ("t-edit", "edit", '{"edited": "An anomaly needs attention", "changes": ["urgency"]}'),
        ("t-choice", "choose", '{"choice": 2, "justification": "Staging first"}'),
        ("t-text", "respond", '{"text": "Add social login"}'),
    ):
        run = await cli("resume", thread, action, "--data", data, "--json")
        assert run.code == 0, run.err
        receipt = orjson.loads(run.out)
        assert receipt["result"] == "accepted" and receipt["outcome"]["action"] == action
    shown = orjson.loads((await cli("show", str(choice.id), "--json")).out)
    assert shown["outcome"]["data"]["value"] == "Staging"
    assert {edit.id, text.id}  # asked and answered above


async def test_bad_input_is_one_line_and_its_exit_code(cli: Cli, ask: Asker) -> None:
    request = await ask(thread_id="t-bad")
    iid = str(request.id)

    malformed = await cli("resume", iid, "approve", "--data", '{"reason": oops}')
    assert malformed.code == 2
    assert malformed.err == (
        "hitl: --data is not valid JSON: Expecting value at line 1 column 12 "
        """(near '{"reason": oops}')\n"""
    )
    not_object = await cli("resume", iid, "approve", "--data", "[1]")
    assert not_object.code == 2 and "--data must be a JSON object" in not_object.err

    wrong_action = await cli("resume", iid, "choose")
    assert wrong_action.code == 4
    [line] = wrong_action.err.splitlines()
    assert line == (
        "hitl: refused at action: approval does not accept this action; "
        "allowed: approve, reject, cancel, best_judgement; sent: choose"
    )

    unknown = str(uuid.uuid4())
    missing = await cli("resume", unknown, "approve")
    assert missing.code == 5
    assert missing.err == f"hitl: no interaction {unknown} (`hitl pending` lists what is)\n"

    typo = iid[:9] + ("0" if iid[9] != "0" else "1") + iid[10:]
    near = await cli("respond", typo, "approve")
    assert near.code == 5
    assert f"no interaction {typo}; did you mean {iid} (approval, thread t-bad)?" in near.err

    prefix = await cli("resume", iid[:8], "approve")
    assert prefix.code == 5 and f"did you mean {iid} (approval, thread t-bad)?" in prefix.err

    nothing = await cli("resume", "t-nothing", "approve")
    assert nothing.code == 5
    assert "no interaction or thread 't-nothing' is pending" in nothing.err

    no_action = await cli("resume", iid)  # not at a terminal: no interactive fallback
    assert no_action.code == 2 and "ACTION is missing" in no_action.err

    shown = orjson.loads((await cli("show", iid, "--json")).out)
    assert shown["status"] == "pending"  # none of it changed the interaction
    assert [h["event"] for h in shown["history"]][-1] == "refused"


async def test_a_thread_with_several_pending_wants_an_id(cli: Cli, ask: Asker) -> None:
    first = await ask(thread_id="t-two", prompt="First?")
    second = await ask(thread_id="t-two", prompt="Second?")
    run = await cli("resume", "t-two", "approve")
    assert run.code == 2
    assert "thread 't-two' has 2 pending interactions; name one with --id" in run.err
    assert str(first.id) in run.err and str(second.id) in run.err
    stray = await cli("resume", "t-two", "approve", "--id", str(uuid.uuid4()))
    assert stray.code == 5 and "is not pending in thread 't-two'" in stray.err
    picked = await cli("resume", "t-two", "approve", "--id", str(second.id))
    assert picked.code == 0 and picked.out.startswith("accepted: resolved (approve)")
    left = orjson.loads((await cli("pending", "--thread", "t-two", "--json")).out)
    assert [i["id"] for i in left["items"]] == [str(first.id)]


async def test_cancel_and_not_allowed(cli: Cli, ask: Asker) -> None:
    mine = await ask(thread_id="t-cancel")
    run = await cli("cancel", "t-cancel", "--reason", "v2.4 was withdrawn")
    assert run.code == 0, run.err
    assert run.out.startswith("accepted: cancelled (cancel) by person alice")

    theirs = await ask(thread_id="t-bob", responders=["bob"])
    refused = await cli("resume", "t-bob", "approve")
    assert refused.code == 6
    [line] = refused.err.splitlines()
    assert "alice" in line and ("not among the responders" in line or "may not answer" in line)
    shown = orjson.loads((await cli("show", str(theirs.id), "--json")).out)
    assert shown["status"] == "pending"
    assert mine.id != theirs.id
