"""The ``hitl`` command as a person uses it: pending, show, respond, demo."""

import asyncio
import os
import re
import sys
import uuid

import orjson
import pytest

from hitl.broker.service import BrokerService
from hitl.cli.samples import SAMPLES
from hitl.sdk import HitlClient
from hitl.settings import Settings
from tests.helpers import eventually
from tests.servers import AMQP_URL, REDIS_URL


def cli_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "HITL_NAMESPACE": settings.namespace,
        "HITL_AMQP_URL": AMQP_URL,
        "HITL_REDIS_URL": REDIS_URL,
        "HITL_METRICS_PORT": "0",
        "HITL_POLL_INTERVAL_SECONDS": "0.05",
    }


async def hitl(settings: Settings, *args: str, timeout: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hitl.cli.main",
        *args,
        env=cli_env(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_pending_show_respond(
    broker: BrokerService, client: HitlClient, settings: Settings
) -> None:
    request = client.new_request(
        "approval", thread_id="cli-thread", prompt="Deploy v2 to prod?", timeout_seconds=3600
    )
    await client.submit(request)
    await eventually(
        lambda: (
            broker.metrics.registry.get_sample_value("hitl_requests_total", {"kind": "approval"})
            == 1
        )
    )

    code, out, _ = await hitl(settings, "pending")
    assert code == 0
    assert str(request.id) in out and "Deploy v2 to prod?" in out and "cli-thread" in out

    code, out, _ = await hitl(settings, "pending", "--json")
    [row] = orjson.loads(out)["items"]
    assert row["id"] == str(request.id) and row["status"] == "pending"

    code, out, _ = await hitl(settings, "show", str(request.id), "--json")
    shown = orjson.loads(out)
    assert (
        code == 0 and shown["status"] == "pending" and shown["request"]["prompt"] == request.prompt
    )

    code, _, err = await hitl(settings, "respond", str(request.id), "approve", "--data", "{bad")
    assert code == 2 and "--data is not valid JSON" in err

    code, _, err = await hitl(settings, "respond", str(request.id), "choose")
    assert code == 4 and "at action" in err and "approve" in err

    code, out, _ = await hitl(
        settings,
        "respond",
        str(request.id),
        "reject",
        "--data",
        '{"reason": "Budget exceeds allocated amount"}',
        "--as",
        "carol",
    )
    assert code == 0 and "accepted: resolved (reject)" in out

    code, out, _ = await hitl(settings, "respond", str(request.id), "approve")
    assert code == 3 and "already resolved: resolved (reject) by person carol" in out

    outcome = await client.wait(request.id, timeout=10)
    assert outcome.data == {"reason": "Budget exceeds allocated amount"}

    code, out, _ = await hitl(settings, "show", str(request.id), "--json")
    shown = orjson.loads(out)
    assert shown["requested_at"].endswith("Z")
    steps = [(h["event"], (h["by"] or {}).get("id"), h["action"]) for h in shown["history"]]
    assert steps[2:] == [
        ("refused", shown["history"][2]["by"]["id"], "choose"),
        ("responded", "carol", "reject"),
        ("resolved", "carol", "reject"),
        ("late", shown["history"][5]["by"]["id"], "approve"),
    ]
    assert shown["history"][2]["error"]["path"] == "action"
    assert shown["history"][4]["channel"] == "cli"

    code, out, _ = await hitl(settings, "pending")
    assert out.strip() == "no pending interactions"
    code, _, err = await hitl(settings, "show", str(uuid.uuid4()))
    assert code == 5 and "no interaction" in err


async def test_demo_auto_runs_unattended(settings: Settings) -> None:
    code, out, err = await hitl(settings, "demo", "--auto")
    assert code == 0, err
    assert "running one inside the demo" in out
    assert "outcome: resolved (approve) decided by person" in out


async def test_demo_waits_for_a_person_who_answers_with_the_printed_command(
    broker: BrokerService, settings: Settings
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hitl.cli.main",
        "demo",
        env=cli_env(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    printed = ""
    while "hitl respond" not in printed:
        printed += (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    command = re.search(r"hitl resume (demo-\S+) approve", printed)
    assert command is not None, printed
    assert "running one inside the demo" not in printed  # a broker was already consuming
    code, out, _ = await hitl(settings, "resume", command.group(1), "approve")
    assert code == 0, out
    rest, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err
    assert "outcome: resolved (approve)" in rest.decode()


async def test_invalid_settings_are_reported(settings: Settings) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hitl.cli.main",
        "pending",
        env={**cli_env(settings), "HITL_PREFETCH": "lots"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    assert proc.returncode == 2 and "HITL_PREFETCH='lots' is not valid" in err.decode()


@pytest.mark.parametrize("kind", sorted(SAMPLES))
async def test_demo_runs_every_kind_unattended(kind: str, settings: Settings) -> None:
    code, out, err = await hitl(settings, "demo", "--kind", kind, "--auto")
    assert code == 0, err
    action = SAMPLES[kind][1]
    assert f"outcome: resolved ({action}) decided by person" in out
