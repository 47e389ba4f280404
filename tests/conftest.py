"""Fixtures shared by every test group, and the group markers.

A test's folder says its kind, and marks it so the groups run on their own:
``pytest tests/unit`` or ``pytest -m unit`` (pure logic and in-memory twins, seconds),
``-m integration`` (the real RabbitMQ and Redis), ``-m faults`` (connections cut, processes
killed), ``-m docs`` (the examples in the docs), ``-m bench`` (the benchmark harness), ``-m deploy``
(the image, compose.yaml, the helm chart, alert rules and dashboard, validated offline),
``-m browser`` (the web inbox in Debian's Chromium, driven by Playwright).
"""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from redis.asyncio import Redis

from hitl.broker.service import BrokerService
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from tests import wire_check
from tests.servers import AMQP_URL, REDIS_URL, REPLY_SERVICES, delete_namespace, test_settings

GROUPS = ("unit", "integration", "faults", "docs", "bench", "deploy", "browser")
_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        group = Path(item.path).relative_to(_HERE).parts[0]
        if group not in GROUPS:
            raise pytest.UsageError(
                f"{item.nodeid}: tests live in one of tests/{{{','.join(GROUPS)}}}/"
            )
        item.add_marker(group)


@pytest.fixture(autouse=True)
def _messages_fit_the_contract() -> Iterator[None]:
    """Fails a test that received a message differing from schemas/json or docs/contract.md
    (recorded by ``tests.wire_check`` wherever the tests receive messages)."""
    wire_check.take()
    yield
    found = wire_check.take()
    assert not found, "messages that break the published contract:\n" + "\n".join(found)


@pytest.fixture(autouse=True)
def _no_personal_login(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The ``hitl`` commands a test runs never find the login (``hitl login``) or gateway
    settings of whoever runs the tests: they go straight to the servers unless a test says."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    monkeypatch.delenv("HITL_GATEWAY_URL", raising=False)
    monkeypatch.delenv("HITL_GATEWAY_KEY", raising=False)


@pytest.fixture
async def namespace() -> AsyncIterator[str]:
    """A fresh namespace; torn down last, so its queues, exchanges and keys go after the
    broker and clients that used them."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    await delete_namespace(name, extra_queues=REPLY_SERVICES)


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
            wire_check.check(message, where=f"{exchange} ({binding})")
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
