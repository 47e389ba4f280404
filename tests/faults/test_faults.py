"""Faults a production broker meets: RabbitMQ closing its connection under it."""

import asyncio
import logging
import os
import shutil
import sys

import pytest

from hitl.broker.service import BrokerService
from hitl.errors import TransportError
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from tests.helpers import answer, eventually
from tests.servers import AMQP_URL, REDIS_URL

pytestmark = pytest.mark.slow


async def rabbitmqctl(*args: str) -> str:
    assert shutil.which("rabbitmqctl"), "rabbitmqctl is needed to cut connections from the server"
    proc = await asyncio.create_subprocess_exec(
        "rabbitmqctl", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    return out.decode()


async def connection_of(pid: int) -> str | None:
    listing = await rabbitmqctl("list_connections", "pid", "client_properties")
    for line in listing.splitlines():
        if '"hitl-broker ' in line and f':{pid}"' in line:
            return line.split()[0]
    return None


@pytest.mark.timeout(120)
async def test_broker_keeps_working_after_rabbitmq_closes_its_connection(
    settings: Settings, client: HitlClient, responder: Responder
) -> None:
    env = {
        **os.environ,
        "HITL_NAMESPACE": settings.namespace,
        "HITL_AMQP_URL": AMQP_URL,
        "HITL_REDIS_URL": REDIS_URL,
        "HITL_METRICS_PORT": "0",
    }
    broker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hitl.cli.main",
        "broker",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert broker.stderr is not None
        while b"broker ready" not in await asyncio.wait_for(broker.stderr.readline(), 30):
            pass
        drain = asyncio.create_task(broker.stderr.read())  # keep the pipe from filling up
        before = client.new_request("approval", thread_id="t", prompt="before the cut")
        asked = asyncio.create_task(client.ask(before, timeout=30))
        await asyncio.sleep(0.5)
        await responder.respond(answer(before.id, "approve"))
        assert (await asked).action == "approve"

        connection = await connection_of(broker.pid)
        assert connection, "the broker's connection is not listed"
        await rabbitmqctl("close_connection", connection, "fault test")

        # Sent while the broker may still be reconnecting: both wait in durable queues.
        after = client.new_request("approval", thread_id="t", prompt="after the cut")
        asked = asyncio.create_task(client.ask(after, timeout=60))
        await responder.respond(answer(after.id, "reject"), timeout=None)
        outcome = await asked
        assert outcome.action == "reject"
        drain.cancel()
    finally:
        broker.terminate()
        await broker.wait()


@pytest.mark.timeout(120)
async def test_a_producer_keeps_receiving_outcomes_after_rabbitmq_closes_its_connection(
    broker: BrokerService, responder: Responder, settings: Settings
) -> None:
    service = "cut-connection"  # its reply queue goes with the namespace (conftest)
    async with HitlClient.connect(AMQP_URL, service=service, namespace=settings.namespace) as hitl:
        first = hitl.new_request("approval", thread_id="t", prompt="before the cut")
        asked = asyncio.create_task(hitl.ask(first, timeout=30))
        await responder.respond(answer(first.id, "approve"), timeout=None)
        assert (await asked).action == "approve"

        listing = await rabbitmqctl("list_connections", "pid", "client_properties")
        [connection] = [
            line.split()[0] for line in listing.splitlines() if f'"hitl-client {service}"' in line
        ]
        await rabbitmqctl("close_connection", connection, "fault test")

        # The reply queue is consumed again once the client reconnects: the outcome arrives.
        second = hitl.new_request("approval", thread_id="t", prompt="after the cut")
        for _ in range(100):  # publishing fails while the connection is down
            try:
                await hitl.submit(second)
                break
            except TransportError:
                await asyncio.sleep(0.1)
        waiting = asyncio.create_task(hitl.wait(second.id, timeout=60))
        await responder.respond(answer(second.id, "reject"), timeout=None)
        assert (await waiting).action == "reject"


@pytest.mark.timeout(60)
async def test_the_broker_consumes_again_after_rabbitmq_cancels_its_consumer(
    broker: BrokerService,
    client: HitlClient,
    responder: Responder,
    amqp,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "hitl.adapters.amqp.consumer")
    channel = await amqp.channel()
    await channel.queue_delete(broker.names.requests_queue)  # RabbitMQ cancels the consumer
    await channel.close()
    await eventually(lambda: "re-attached" in caplog.text)  # declared, bound, consumed again
    assert await broker.not_ready() == []
    request = client.new_request("approval", thread_id="t", prompt="after the cancel")
    asked = asyncio.create_task(client.ask(request, timeout=20))
    await responder.respond(answer(request.id, "approve"), timeout=None)
    assert (await asked).action == "approve"
