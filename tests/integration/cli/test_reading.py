"""``hitl pending``, ``show``, ``watch`` and ``stats`` in both modes: filters, order, pages
with a cursor, ISO times, ``--json`` printing machine-readable output only."""

import asyncio
import os
import re

import orjson

from hitl.sdk import HitlClient
from tests.integration.cli.conftest import Asker, Cli, python_hitl

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


async def test_pending_filters_sorts_and_pages(cli: Cli, ask: Asker) -> None:
    first = await ask(thread_id="t-a", labels={"env": "production"}, prompt="Deploy A?")
    second = await ask(thread_id="t-b", labels={"env": "production"}, prompt="Deploy B?")
    form = await ask(
        "form", thread_id="t-c", prompt="Register", fields=[{"name": "service", "type": "string"}]
    )

    table = await cli("pending")
    assert table.code == 0
    assert table.out.splitlines()[0].split() == [
        "ID", "KIND", "STATUS", "THREAD", "WAITING", "TIME", "LEFT", "PROMPT"
    ]  # fmt: skip
    assert [line.split()[0] for line in table.out.splitlines()[1:]] == [
        str(first.id), str(second.id), str(form.id)
    ]  # fmt: skip

    only = orjson.loads((await cli("pending", "--kind", "form", "--json")).out)
    assert [i["id"] for i in only["items"]] == [str(form.id)]
    labelled = await cli("pending", "--label", "env=production", "--sort", "newest", "--json")
    assert [i["id"] for i in orjson.loads(labelled.out)["items"]] == [str(second.id), str(first.id)]

    page = await cli("pending", "--label", "env=production", "--limit", "1")
    assert str(first.id) in page.out and str(second.id) not in page.out
    cursor = re.fullmatch(r"more: add --cursor (\S+)\n", page.err)
    assert cursor, page.err
    rest = await cli("pending", "--label", "env=production", "--limit", "1", "--cursor", cursor[1])
    assert str(second.id) in rest.out and str(first.id) not in rest.out
    mixed = await cli("pending", "--kind", "form", "--cursor", cursor[1])
    assert mixed.code == 2 and "cursor" in mixed.err

    bad_label = await cli("pending", "--label", "production")
    assert bad_label.code == 2 and "is not KEY=VALUE" in bad_label.err
    bad_kind = await cli("pending", "--kind", "approvel")
    assert bad_kind.code == 2 and "approval" in bad_kind.err


async def test_show_for_people_and_for_machines(cli: Cli, ask: Asker, client: HitlClient) -> None:
    request = await ask(thread_id="t-show", timeout_seconds=3600)
    assert (await cli("resume", "t-show", "approve", "--data", '{"reason": "ok"}')).code == 0
    await client.wait(request.id, timeout=10)

    shown = await cli("show", str(request.id))
    assert shown.code == 0
    text = shown.out
    assert re.search(rf"requested +{ISO} \(\S+ ago\)", text), text
    assert re.search(
        rf"outcome +resolved \(approve\) by person alice via {cli.channel} at {ISO} after \S+",
        text,
    ), text
    events = [line.split()[2] for line in text.splitlines() if re.match(ISO, line)]
    assert events == ["requested", "notified", "responded", "resolved"], text

    by_thread = await cli("show", "t-show")  # a thread names its pending one: none is left
    assert by_thread.code == 5 and "no interaction or thread 't-show' is pending" in by_thread.err
    by_id = orjson.loads((await cli("show", str(request.id), "--json")).out)
    assert by_id["status"] == "resolved"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", by_id["requested_at"])
    assert by_id["history"][-1]["decided_by"] == "person"


async def test_watch_follows_lifecycle_events(cli: Cli, ask: Asker) -> None:
    env = {**cli.env, "PYTHONUNBUFFERED": "1"}
    process = await asyncio.create_subprocess_exec(
        *python_hitl(),
        "watch",
        "--thread",
        "t-watch",
        "--event",
        "requested",
        "--event",
        "resolved",
        "--count",
        "2",
        "--json",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        ready = await asyncio.wait_for(process.stderr.readline(), 30)
        assert ready.decode().startswith("watching lifecycle events of "), ready
        await ask(thread_id="t-other")  # filtered out
        request = await ask(thread_id="t-watch")
        assert (await cli("resume", "t-watch", "reject")).code == 0
        out, _ = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0
    events = [orjson.loads(line) for line in out.decode().splitlines()]
    assert [(e["event"], e["interaction_id"]) for e in events] == [
        ("requested", str(request.id)),
        ("resolved", str(request.id)),
    ]
    assert events[1]["outcome"]["action"] == "reject"
    assert os.environ.get("HITL_GATEWAY_URL") is None  # the test's own environment is untouched


async def test_stats(cli: Cli, ask: Asker) -> None:
    await ask(thread_id="t-stats")
    report = await cli("stats", "--window", "1h", "--json")
    assert report.code == 0, report.err
    assert orjson.loads(report.out)["total"]["pending"] >= 1
    table = await cli("stats", "--window", "1h")
    assert table.out.startswith("from ") and "BOTTLENECKS" in table.out
    bad = await cli("stats", "--window", "6w")
    assert bad.code == 2 and "window" in bad.err
