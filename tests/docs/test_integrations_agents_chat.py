"""docs/integrations.md, the OpenAI Agents SDK and chat sections: each program is under twenty
lines besides its imports and runs as shown against a broker, RabbitMQ and Redis: the agent's
refund rejected with ``hitl resume`` and the model reading why; the chat's routes blocking a
thread with a pending form, refusing a bad form field by field and taking a good one."""

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from hitl.broker.service import BrokerService
from hitl.integrations.chat import Catalogue, ChatAnswers, ThreadGate
from hitl.runtime.stores import open_reads
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from tests.helpers import eventually
from tests.servers import AMQP_URL, REDIS_URL

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "integrations.md"
TEXTS = Catalogue.from_dir(ROOT / "examples" / "chat" / "messages")


def block(marker: str) -> str:
    found = re.search(
        rf"<!-- {marker} -->\n```python\n(.*?)```\n<!-- /{marker} -->", DOC.read_text(), re.DOTALL
    )
    assert found, f"no {marker} block in {DOC}"
    return found.group(1)


@pytest.mark.parametrize("marker", ["openai-agents-example", "chat-example"])
def test_the_program_is_under_twenty_lines_besides_its_imports(marker: str) -> None:
    lines = [line for line in block(marker).splitlines() if line.strip()]
    code = [line for line in lines if not re.match(r"(from \S+ )?import ", line)]
    assert len(code) < 20, "\n".join(code)


def shown_session() -> tuple[str, str]:
    """The section's ``hitl resume`` line and what it says refunds.py prints."""
    section = DOC.read_text().split("<!-- /openai-agents-example -->", 1)[1]
    session = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert session is not None
    resume = re.search(r"^(hitl resume .*)$", session.group(1), re.M)
    prints = re.search(r"^# refunds\.py prints: (.*)$", session.group(1), re.M)
    assert resume is not None and prints is not None
    return resume.group(1), prints.group(1)


@pytest.mark.slow
async def test_the_agent_asks_and_the_model_reads_the_rejection(
    broker: BrokerService, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "refunds.py").write_text(block("openai-agents-example"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}
    env |= {"HITL_AMQP_URL": AMQP_URL, "HITL_REDIS_URL": REDIS_URL,
            "HITL_NAMESPACE": settings.namespace, "HITL_METRICS_PORT": "0"}  # fmt: skip
    program = await asyncio.create_subprocess_exec(
        sys.executable, "refunds.py", env=env, cwd=tmp_path, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    resume, prints = shown_session()
    try:
        async with open_reads(settings) as reads:
            gate = ThreadGate(reads)

            async def asked() -> bool:
                return len(await gate.pending("ticket-1042")) == 1

            await eventually(asked, timeout=60)
        answer = await asyncio.create_subprocess_exec(
            "bash", "-c", resume.replace("hitl ", f"{sys.executable} -m hitl.cli.main ", 1),
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        said, _ = await asyncio.wait_for(answer.communicate(), 60)
        assert answer.returncode == 0, said.decode()
        out, _ = await asyncio.wait_for(program.communicate(), 60)
    finally:
        if program.returncode is None:
            program.kill()
            await program.wait()
    assert program.returncode == 0, out.decode()
    assert out.decode().strip().splitlines()[-1] == prints


@pytest.fixture
async def chat_app(
    broker: BrokerService, settings: Settings, responder: Responder
) -> AsyncIterator[tuple[httpx.AsyncClient, ThreadGate]]:
    routes: dict[str, Any] = {}
    exec(compile(block("chat-example"), "chat_routes.py", "exec"), routes)
    app = FastAPI()
    async with open_reads(settings) as reads:
        gate = ThreadGate(reads)
        routes["add_routes"](app, gate, ChatAnswers(responder), TEXTS)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://chat") as http:
            yield http, gate


async def test_the_chat_routes_block_refuse_field_by_field_and_take_the_form(
    chat_app: tuple[httpx.AsyncClient, ThreadGate], client: HitlClient
) -> None:
    http, gate = chat_app
    assert (await http.post("/threads/t-1/messages", json={"text": "hi"})).status_code == 200
    fields = [{"name": "service", "type": "string", "required": True},
              {"name": "replicas", "type": "integer", "maximum": 20}]  # fmt: skip
    request = client.new_request("form", thread_id="t-1", prompt="Details?", fields=fields)
    gate.asking(request)
    await client.submit(request)

    blocked = await http.post(
        "/threads/t-1/messages", json={"text": "hi"}, headers={"Accept-Language": "de"}
    )
    assert blocked.status_code == 409
    assert blocked.json()["detail"] == TEXTS.text("de", "pending_interaction")
    refused = await http.post("/threads/t-1/form", json={"replicas": 50}, headers={"user": "ana"})
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json()["detail"]} == {"service", "replicas"}
    taken = await http.post("/threads/t-1/form", json={"service": "web"}, headers={"user": "ana"})
    assert taken.status_code == 200
    assert taken.json() == {"result": "accepted"}
    outcome = await client.wait(request.id, timeout=30)
    assert outcome.action == "submit"
    assert outcome.data["answers"]["service"] == "web"
    assert outcome.decided_by.identity is not None
    assert outcome.decided_by.identity.id == "ana"
    gate.settled(request.id)
    assert (await http.post("/threads/t-1/messages", json={"text": "hi"})).status_code == 200
