"""Fixtures for tests against the real RabbitMQ and Redis.

Every test gets its own namespace (exchange, queue and key prefix), so tests can run repeatedly
and in parallel; everything the namespace created is deleted afterwards.
"""

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from redis.asyncio import Redis

from hitl.adapters.amqp.topology import Names
from hitl.broker.service import BrokerService
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from hitl_bench.cleanup import delete_amqp, delete_keys

AMQP_URL = os.environ.get("HITL_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("HITL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def namespace() -> AsyncIterator[str]:
    """A fresh namespace; torn down last, so its queues, exchanges and keys go after the
    broker and clients that used them."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    await delete_namespace(name, extra_queues=REPLY_SERVICES)


def test_settings(namespace: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "amqp_url": AMQP_URL,
        "redis_url": REDIS_URL,
        "namespace": namespace,
        "poll_interval_seconds": 0.05,
        "metrics_port": 0,
        "shutdown_grace_seconds": 5,
        "startup_attempts": 3,
        "outbox_lease_seconds": 1.0,
        "claim_lease_seconds": 2.0,
        "early_answer_hold_seconds": 0.5,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


test_settings.__test__ = False  # type: ignore[attr-defined]  # a factory, not a test


@pytest.fixture
def settings(namespace: str) -> Settings:
    return test_settings(namespace)


@pytest.fixture
async def amqp() -> AsyncIterator[AbstractRobustConnection]:
    connection = await aio_pika.connect_robust(AMQP_URL)
    yield connection
    await connection.close()


@pytest.fixture
async def redis() -> AsyncIterator["Redis"]:
    client: Redis = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


REPLY_SERVICES = (
    "producer",
    "hitl-demo",
    "raw-producer",
    "restarted",
    "bench",
    "billing",
    "cut-connection",
)


async def delete_namespace(namespace: str, extra_queues: tuple[str, ...] = ()) -> None:
    names = Names(namespace)
    queues = (
        names.requests_queue,
        names.responses_queue,
        names.dead_letter_queue,
        *(names.reply_queue(s) for s in extra_queues),
    )
    await delete_amqp(AMQP_URL, queues, (*names.exchanges, names.dead_letter))
    client: Redis = Redis.from_url(REDIS_URL)
    try:
        await delete_keys(client, f"{namespace}:")
    finally:
        await client.aclose()


@pytest.fixture
async def broker(settings: Settings) -> AsyncIterator[BrokerService]:
    service = BrokerService(settings)
    await service.start()
    yield service
    await service.stop()


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[HitlClient]:
    async with HitlClient.connect(
        AMQP_URL, service="producer", namespace=settings.namespace
    ) as hitl:
        yield hitl


@pytest.fixture
async def responder(settings: Settings) -> AsyncIterator[Responder]:
    async with Responder.connect(AMQP_URL, namespace=settings.namespace) as r:
        yield r


@dataclass
class Capture:
    """Messages that arrived on an exchange, for asserting on what the broker published."""

    messages: list[AbstractIncomingMessage] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(
        self, predicate: Callable[[list[AbstractIncomingMessage]], bool], timeout: float = 10.0
    ) -> list[AbstractIncomingMessage]:
        async def until() -> None:
            while not predicate(self.messages):
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(until(), timeout)
        return self.messages


@pytest.fixture
async def capture(
    amqp: AbstractRobustConnection,
) -> AsyncIterator[Callable[[str, str], "contextlib.AbstractAsyncContextManager[Capture]"]]:
    """``async with capture(exchange, binding) as cap:`` collects what is published there."""
    channel = await amqp.channel()

    @contextlib.asynccontextmanager
    async def open_capture(exchange: str, binding: str = "#") -> AsyncIterator[Capture]:
        cap = Capture()
        await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, binding)

        async def on_message(message: AbstractIncomingMessage) -> None:
            cap.messages.append(message)
            cap.arrived.set()

        tag = await queue.consume(on_message, no_ack=True)
        try:
            yield cap
        finally:
            with contextlib.suppress(Exception):
                await queue.cancel(tag)

    yield open_capture
    with contextlib.suppress(Exception):
        await channel.close()
