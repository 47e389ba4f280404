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
