"""What operators rely on: /metrics, /healthz, /readyz, and logs that carry the interaction."""

import asyncio
import json
import logging

import pytest

from hitl.broker.service import BrokerService
from hitl.observability.logs import ContextFilter, JsonFormatter, interaction_context
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from tests.helpers import answer
from tests.servers import test_settings


async def http_get(port: int, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    raw = (await reader.read()).decode()
    writer.close()
    head, _, body = raw.partition("\r\n\r\n")
    return int(head.split()[1]), body


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_metrics_and_readiness_endpoints(
    namespace: str, client: HitlClient, responder: Responder
) -> None:
    settings = test_settings(namespace, metrics_port=free_port())
    broker = BrokerService(settings)
    await broker.start()
    try:
        assert broker.ops is not None
        assert await http_get(broker.ops.port, "/healthz") == (200, "ok\n")
        status, body = await http_get(broker.ops.port, "/readyz")
        assert status == 200, body
        lines = body.splitlines()
        assert lines[0] == "ready"
        for component in ("redis", "rabbitmq", "deadline poller", "consumer of "):
            assert any(line.startswith(component) and line.endswith(": ok") for line in lines)
        request = client.new_request("approval", thread_id="t", prompt="ok?")
        asked = asyncio.create_task(client.ask(request, timeout=10))
        while not broker.metrics.registry.get_sample_value(
            "hitl_requests_total", {"kind": "approval"}
        ):
            await asyncio.sleep(0.02)
        await responder.respond(answer(request.id, "approve"))
        await asked
        status, body = await http_get(broker.ops.port, "/metrics")
        assert status == 200
        assert 'hitl_requests_total{kind="approval"} 1.0' in body
        assert 'hitl_outcomes_total{action="approve",kind="approval",status="resolved"} 1.0' in body
        assert (
            'hitl_time_to_resolution_seconds_count{kind="approval",status="resolved"} 1.0' in body
        )
        assert "hitl_pending_interactions" in body
        assert "hitl_handler_duration_seconds_bucket" in body
        await broker.host._channels[0].close()  # the consumers' channel lost: no longer ready
        status, body = await http_get(broker.ops.port, "/readyz")
        assert status == 503
        assert body.splitlines()[0] == "not ready"
        assert "channel 1 (consume): closed" in body.splitlines()
    finally:
        await broker.stop()


def test_json_logs_carry_interaction_and_thread(caplog: pytest.LogCaptureFixture) -> None:
    record = logging.LogRecord(
        "hitl.test", logging.INFO, __file__, 1, "resolved: %s", ("ok",), None
    )
    with interaction_context("abc-123", "run-9"):
        ContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert (line["interaction_id"], line["thread_id"], line["message"]) == (
        "abc-123",
        "run-9",
        "resolved: ok",
    )


def test_settings_from_environment_and_toml(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "hitl.toml"
    config.write_text('namespace = "from-file"\nprefetch = 32\n')
    monkeypatch.setenv("HITL_CONFIG", str(config))
    monkeypatch.setenv("HITL_PREFETCH", "64")
    settings = Settings()
    assert settings.namespace == "from-file"  # the file fills what the environment leaves
    assert settings.prefetch == 64  # the environment wins over the file
    monkeypatch.setenv("HITL_QUEUE_TYPE", "stream")
    with pytest.raises(ValueError, match="queue_type"):
        Settings()
