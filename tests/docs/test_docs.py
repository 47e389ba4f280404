"""Examples in the docs run, and the docs name every setting."""

import asyncio
import os
import re
import sys
import tomllib
from pathlib import Path

import pytest
from aio_pika.abc import AbstractIncomingMessage

from hitl.broker.service import BrokerService
from hitl.sdk import Responder
from hitl.settings import Settings
from hitl_contract import Notification
from tests.helpers import answer
from tests.servers import AMQP_URL

ROOT = Path(__file__).resolve().parents[2]


def fenced(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(), flags=re.DOTALL)


async def test_readme_python_example_asks_and_resumes(
    broker: BrokerService, responder: Responder, settings: Settings, capture
) -> None:
    [example] = fenced(ROOT / "README.md", "python")
    async with capture(broker.names.notifications) as notes:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            example,
            env={**os.environ, "HITL_NAMESPACE": settings.namespace, "HITL_AMQP_URL": AMQP_URL},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        messages: list[AbstractIncomingMessage] = await notes.wait_for(lambda m: len(m) == 1, 30)
        note = Notification.model_validate_json(messages[0].body)
        assert note.request.prompt == "Pay 500 EUR to ACME Corp?"
        await responder.respond(answer(note.interaction_id, "approve", {"reason": "known vendor"}))
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert out.decode().strip() == "resolved approve {'reason': 'known vendor'} {'step': 'pay'}"


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`HITL_{name.upper()}`" not in text]
    assert not missing, f"docs/configuration.md does not describe {missing}"


@pytest.mark.parametrize("example", fenced(ROOT / "docs" / "configuration.md", "toml"))
def test_configuration_examples_load(
    example: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "hitl.toml"
    config.write_text(example)
    monkeypatch.setenv("HITL_CONFIG", str(config))
    loaded = Settings().model_dump(mode="json")
    for key, value in tomllib.loads(example).items():
        if isinstance(value, list):
            assert [{k: r[k] for k in v} for r, v in zip(loaded[key], value, strict=True)] == value
        else:
            assert loaded[key] == value


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(
        r"<!-- test-command -->\n```bash\n(.*?)\n```\n<!-- /test-command -->",
        readme,
        flags=re.DOTALL,
    )
    assert block is not None, "README lost its marked test command"
    assert "test-command" in (ROOT / ".ci" / "run").read_text()


async def test_the_readme_first_command_leaves_nothing_running(settings: Settings) -> None:
    """README's first command runs a broker and the demo and ends them both: nothing of its
    process group is left (the earlier `(hitl broker &)` left a broker logging in the
    person's terminal)."""
    first = fenced(ROOT / "README.md", "bash")[0].strip()
    setup, _, command = first.rpartition(" && ")
    assert setup == "pip install uv && uv sync --frozen", first
    assert command == "uv run hitl demo --auto --with-broker", first
    env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}
    for name, value in settings.model_dump(mode="json").items():
        if value is not None and not isinstance(value, list | dict):
            env[f"HITL_{name.upper()}"] = str(value)
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        command.replace("uv run hitl ", f"{sys.executable} -m hitl.cli.main "),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group: whatever it starts is in it
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert "outcome: resolved (approve) decided by person" in out.decode()
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)  # no process of the group is left
