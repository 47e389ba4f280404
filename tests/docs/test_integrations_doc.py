"""docs/integrations.md: the LangGraph program runs as shown, in under twenty lines besides its
imports: it asks and exits, a person answers with ``hitl resume``, and the resumer started
afterwards resumes the thread in the checkpointer."""

import asyncio
import importlib
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import pytest

from hitl.broker.service import BrokerService
from hitl.integrations.langgraph import parked_queue
from hitl.settings import Settings
from hitl_contract.wire import Names
from tests.servers import AMQP_URL, REDIS_URL

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "integrations.md"


def block(marker: str) -> str:
    found = re.search(
        rf"<!-- {marker} -->\n```python\n(.*?)```\n<!-- /{marker} -->", DOC.read_text(), re.DOTALL
    )
    assert found, f"no {marker} block in {DOC}"
    return found.group(1)


def test_the_langgraph_program_is_under_twenty_lines_besides_its_imports() -> None:
    lines = [line for line in block("langgraph-example").splitlines() if line.strip()]
    code = [line for line in lines if not re.match(r"(from \S+ )?import ", line)]
    assert len(code) < 20, "\n".join(code)


async def run(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, env=env, cwd=cwd, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode is not None
    return process.returncode, out.decode()


@pytest.fixture
async def payments_queues(settings: Settings) -> AsyncIterator[None]:
    """The program's reply queue and the resumer's parked queue, which the namespace's
    teardown does not know, go too."""
    yield
    names = Names(settings.namespace)
    connection = await aio_pika.connect(AMQP_URL)
    async with connection, connection.channel() as channel:
        for queue in (names.reply_queue("payments"), parked_queue(names, "payments")):
            await channel.queue_delete(queue)


@pytest.mark.slow
@pytest.mark.usefixtures("payments_queues")
async def test_the_langgraph_program_asks_exits_and_is_resumed(
    broker: BrokerService, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "payments.py").write_text(block("langgraph-example"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}
    env |= {
        "HITL_AMQP_URL": AMQP_URL,
        "HITL_REDIS_URL": REDIS_URL,
        "HITL_NAMESPACE": settings.namespace,
        "HITL_METRICS_PORT": "0",
    }
    code, out = await run(env, tmp_path, "payments.py", "pay-1")
    assert code == 0, out
    assert "'amount': 500" in out
    assert "__interrupt__" in out
    code, out = await run(env, tmp_path, "-m", "hitl.cli.main", "resume", "pay-1", "approve")
    assert code == 0, out
    resumer = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hitl.cli.main", "langgraph", "resume",
        "--graph", "payments:open_graph", "--service", "payments",
        env=env, cwd=tmp_path, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert resumer.stderr is not None
    log = []
    try:
        async with asyncio.timeout(90):
            async for line in resumer.stderr:
                log.append(line.decode())
                if "resumed thread 'pay-1'" in log[-1]:
                    break
    finally:
        resumer.terminate()
        rest, _ = await asyncio.wait_for(resumer.communicate(), 30)
    log.append(rest.decode() if rest else "")
    assert any("(resolved approve); asked next: nothing" in line for line in log), "".join(log)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    payments = importlib.import_module("payments")
    try:
        async with payments.open_graph() as graph:
            state = await graph.aget_state({"configurable": {"thread_id": "pay-1"}})
    finally:
        sys.modules.pop("payments", None)
    assert state.values == {"amount": 500, "approved": True}
    assert state.next == ()  # the graph finished
