"""`hitl notifier webhook` end to end: a broker routes by a routing file, the notifier delivers
to webhook receivers on loopback (signed per Standard Webhooks), records every attempt in the
interaction's history, falls back, disables a receiver that answered 410, dead-letters what no
receiver took, keeps delivering to the others while one hangs, and tells every receiver shown
once the interaction is decided."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

import orjson
import pytest
from standardwebhooks import Webhook

from hitl.broker.service import BrokerService
from hitl.cli.main import main
from hitl.errors import ConfigError
from hitl.notifiers.channels.webhook import WebhookChannel
from hitl.notifiers.service import NotifierService
from hitl.runtime.stores import redis_store
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from tests.helpers import answer, dead_letters, eventually
from tests.servers import test_settings
from tests.webhooks import SECRET, Answer, RecordingServer, hang, status

pytestmark = pytest.mark.slow


def routing(ops: str, flaky: str, slow: str, gone: str) -> str:
    def hook(name: str, url: str, timeout: str = "2s") -> str:
        return (f"  - {{name: {name}, type: webhook, url: '{url}', allow_private: true, "
                f"timeout: {timeout}, secret: {{env: HITL_TEST_HOOK_SECRET}}}}\n")  # fmt: skip

    return (
        "receivers:\n"
        + hook("ops", ops) + hook("flaky", flaky) + hook("slow", slow, "20s") + hook("gone", gone)
        + "route:\n  receivers: [ops]\n  routes:\n"
        "    - {matchers: [team=flaky], receivers: [flaky], fallback: ops}\n"
        "    - {matchers: [team=slow], receivers: [slow]}\n"
        "    - {matchers: [team=gone], receivers: [gone]}\n"
    )  # fmt: skip


@contextlib.asynccontextmanager
async def serving(default: Answer | None = None) -> AsyncIterator[RecordingServer]:
    """A receiver on loopback answering every request with ``default`` (204)."""
    server = RecordingServer(default=default or status(204))
    await server.start()
    try:
        yield server
    finally:
        await server.close()


class Stack:
    def __init__(self, broker, notifier, servers, settings) -> None:
        self.broker: BrokerService = broker
        self.notifier: NotifierService = notifier
        self.ops, self.flaky, self.slow, self.gone = servers
        self.settings: Settings = settings


@pytest.fixture
async def stack(
    namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Stack]:
    monkeypatch.setenv("HITL_TEST_HOOK_SECRET", SECRET)
    async with (
        serving() as ops,
        serving(status(503)) as flaky,
        serving(hang) as slow,
        serving(status(410)) as gone,
    ):
        path = tmp_path / "routing.yaml"
        path.write_text(routing(ops.url, flaky.url, slow.url, gone.url))
        settings = test_settings(
            namespace, routing_file=str(path), notifier_attempts=2,
            notifier_retry_cap_seconds=0.05,
        )  # fmt: skip
        broker = BrokerService(settings)
        notifier = NotifierService(settings, WebhookChannel())
        await broker.start()
        await notifier.start()
        try:
            yield Stack(broker, notifier, (ops, flaky, slow, gone), settings)
        finally:
            await notifier.stop()
            await broker.stop()


def bodies(server: RecordingServer) -> list[dict]:
    return [orjson.loads(r.body) for r in server.received]


async def ask(client: HitlClient, team: str | None = None) -> UUID:
    request = client.new_request(
        "approval", thread_id="t", prompt="Ship it?", labels={"team": team} if team else {}
    )
    await client.submit(request)
    return request.id


async def history(stack: Stack, iid: UUID) -> list[tuple[str, str | None, str | None]]:
    store = redis_store(await stack.broker.host.redis(), stack.settings)
    return [(h.event, h.receiver, h.detail) for h in await store.history(iid)]


async def test_a_receiver_gets_a_signed_request_then_the_outcome(
    stack: Stack, client: HitlClient, responder: Responder
) -> None:
    iid = await ask(client)
    await eventually(lambda: len(stack.ops.received) == 1)
    [request] = stack.ops.received
    verified = Webhook(SECRET).verify(request.body, request.headers)
    assert verified["type"] == "interaction.requested"
    assert verified["notification"]["interaction_id"] == str(iid)
    assert verified["notification"]["route"] == "ops"
    await eventually(lambda: _has(stack, iid, ("delivered", "ops", "HTTP 204")))

    await responder.respond(answer(iid, "approve", {"reason": "fine"}))
    await eventually(lambda: len(stack.ops.received) == 2)
    settled = Webhook(SECRET).verify(stack.ops.received[1].body, stack.ops.received[1].headers)
    assert settled["type"] == "interaction.settled"
    assert settled["outcome"]["action"] == "approve"
    await eventually(lambda: _has(stack, iid, ("updated", "ops", "settled: resolved (approve)")))


async def _has(stack: Stack, iid: UUID, entry: tuple[str, str | None, str | None]) -> bool:
    return entry in await history(stack, iid)


async def test_a_failing_receiver_is_retried_then_its_fallback_is_used(
    stack: Stack, client: HitlClient
) -> None:
    iid = await ask(client, "flaky")
    await eventually(lambda: len(stack.ops.received) == 1)
    assert len(stack.flaky.received) == 2  # notifier_attempts
    assert bodies(stack.ops)[0]["notification"]["route"] == "ops"
    steps = await history(stack, iid)
    deliveries = [s for s in steps if s[1] is not None]
    assert [(e, r) for e, r, _ in deliveries[:3]] == [
        ("delivery_failed", "flaky"),
        ("delivery_failed", "flaky"),
        ("fell_back", "flaky"),
    ]
    assert deliveries[2][2] is not None and deliveries[2][2].startswith("to ops: ")
    assert "503" in deliveries[2][2]
    await eventually(lambda: _has(stack, iid, ("delivered", "ops", "HTTP 204")))


async def test_a_hanging_receiver_does_not_hold_up_the_others(
    stack: Stack, client: HitlClient
) -> None:
    await ask(client, "slow")
    await eventually(lambda: len(stack.slow.received) == 1)
    for _ in range(5):
        await ask(client)
    await eventually(lambda: len(stack.ops.received) == 5, timeout=5)
    assert len(stack.slow.received) == 1  # still waiting on its first answer


async def test_gone_disables_the_receiver_and_what_nobody_takes_is_dead_lettered(
    stack: Stack, client: HitlClient, amqp, capsys
) -> None:
    iid = await ask(client, "gone")
    [dead] = await dead_letters(amqp, stack.settings.namespace, 1)
    assert dead.headers["x-hitl-source"] == "delivery"
    assert dead.headers["x-hitl-error-code"] == "undeliverable"
    assert "HTTP 410" in dead.headers["x-hitl-error-message"]
    assert orjson.loads(dead.body)["interaction_id"] == str(iid)
    assert len(stack.gone.received) == 1  # 410 is not retried
    await eventually(lambda: _has_event(stack, iid, "undelivered"))

    async def cli(*args: str) -> int:
        return await asyncio.to_thread(main, list(args))

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HITL_NAMESPACE", stack.settings.namespace)
        assert await cli("receivers", "disabled", "--json") == 0
        assert "HTTP 410" in orjson.loads(capsys.readouterr().out)["gone"]
        assert await cli("receivers", "enable", "gone") == 0
        assert await cli("receivers", "enable", "gone") == 1


async def _has_event(stack: Stack, iid: UUID, event: str) -> bool:
    return any(e == event for e, _, _ in await history(stack, iid))


async def test_the_notifier_needs_a_routing_file(namespace: str) -> None:
    service = NotifierService(test_settings(namespace), WebhookChannel())
    with pytest.raises(ConfigError, match="HITL_ROUTING_FILE"):
        await service.start()


async def test_a_fallback_that_fails_too_is_dead_lettered_not_handed_back(
    namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: HitlClient, amqp
) -> None:
    # Two receivers each other's fallback (b's route names a, the root names b): when both
    # fail, the notification goes to the dead-letter queue once, instead of going round.
    monkeypatch.setenv("HITL_TEST_HOOK_SECRET", SECRET)
    async with serving(status(503)) as a, serving(status(503)) as b:
        path = tmp_path / "routing.yaml"
        path.write_text(
            "receivers:\n"
            f"  - {{name: a, type: webhook, url: '{a.url}', allow_private: true}}\n"
            f"  - {{name: b, type: webhook, url: '{b.url}', allow_private: true}}\n"
            "route:\n  receivers: [a]\n  fallback: b\n  routes:\n"
            "    - {matchers: [team=b], receivers: [b], fallback: a}\n"
        )
        settings = test_settings(
            namespace, routing_file=str(path), notifier_attempts=2,
            notifier_retry_cap_seconds=0.01,
        )  # fmt: skip
        broker = BrokerService(settings)
        notifier = NotifierService(settings, WebhookChannel())
        await broker.start()
        await notifier.start()
        try:
            await ask(client, "b")
            [dead] = await dead_letters(amqp, namespace, 1)
            assert dead.headers["x-hitl-error-code"] == "undeliverable"
            await asyncio.sleep(0.5)
            assert (len(b.received), len(a.received)) == (2, 2)
        finally:
            await notifier.stop()
            await broker.stop()
