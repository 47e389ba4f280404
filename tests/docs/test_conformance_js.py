"""docs/examples/conformance.mjs, a conformance client that knows hitl only from docs/contract.md
and schemas/json, finds nothing a real broker does against them.

It asks a request of every kind and answers it, sends bad requests and bad answers, and checks
every message it receives (schema of its AMQP type, properties, lifecycle events, dead-letter
headers). A failure shows its report: each violation with the message, the field and what the
contract says.
"""

import asyncio
import contextlib
from pathlib import Path

import aio_pika
import aiormq
import pytest

from hitl.broker.service import BrokerService
from tests.docs.node import EXAMPLES, node, node_env
from tests.servers import AMQP_URL

SERVICE = "conformance"  # the client declares <ns>.reply.conformance and deletes it when done
BUDGET_SECONDS = 60  # the client stops by itself after this long


async def queue_exists(name: str) -> bool:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        try:
            await channel.declare_queue(name, passive=True)
        except aiormq.exceptions.ChannelNotFoundEntity:
            return False
        await channel.queue_delete(name)  # the client left it behind: not for the next test
        return True
    finally:
        with contextlib.suppress(Exception):
            await connection.close()


async def test_conformance_client_finds_no_violation(
    broker: BrokerService, namespace: str, node_modules: Path
) -> None:
    proc = await asyncio.create_subprocess_exec(
        str(node()),
        str(EXAMPLES / "conformance.mjs"),
        env=node_env(
            HITL_AMQP_URL=AMQP_URL,
            HITL_NAMESPACE=namespace,
            HITL_SERVICE=SERVICE,
            HITL_CONFORMANCE_SECONDS=str(BUDGET_SECONDS),
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), BUDGET_SECONDS + 15)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        pytest.fail(
            f"conformance.mjs did not stop by itself within {BUDGET_SECONDS} s:\n"
            f"{out.decode()}{err.decode()}",
            pytrace=False,
        )
    report = out.decode() + err.decode()
    left_behind = await queue_exists(f"{namespace}.reply.{SERVICE}")
    if proc.returncode != 0:
        pytest.fail(
            f"conformance.mjs (exit {proc.returncode}) against the broker:\n{report}", pytrace=False
        )
    assert "every check passed" in report, report
    assert not left_behind, f"conformance.mjs left its reply queue behind:\n{report}"
