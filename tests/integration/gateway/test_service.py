"""The gateway as a process: replicas side by side, readiness, metrics, graceful shutdown, and
``hitl gateway`` / ``hitl keys`` as real commands."""

import asyncio
import os
import signal
import socket
import sys
import uuid

import httpx
import pytest

from hitl.broker.service import BrokerService
from hitl.cli.main import main
from hitl.gateway.service import GatewayService
from hitl.sdk import HitlClient
from hitl.settings import Settings
from tests.helpers import eventually
from tests.integration.gateway.conftest import MakeKey, http_client
from tests.integration.gateway.test_api import ask, stored


async def test_two_replicas_answer_and_read_each_others_work(
    settings: Settings, broker: BrokerService, make_key: MakeKey, client: HitlClient
) -> None:
    one, two = GatewayService(settings), GatewayService(settings)
    await one.start()
    await two.start()
    try:
        token = await make_key("alice", "read", "respond")
        async with http_client(one, token) as via_one, http_client(two, token) as via_two:
            ids = [await ask(client) for _ in range(6)]
            for iid in ids:
                await stored(via_two, iid)
            # Answers through both at once: each replica gets the receipts of its own.
            answers = await asyncio.gather(
                *(
                    (via_one if n % 2 else via_two).post(
                        f"/v1/interactions/{iid}/responses", json={"action": "approve"}
                    )
                    for n, iid in enumerate(ids)
                )
            )
            assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
            for iid in ids:  # read through the other replica
                detail = (await via_one.get(f"/v1/interactions/{iid}")).json()
                assert detail["status"] == "resolved"
            late = await via_one.post(
                f"/v1/interactions/{ids[0]}/responses", json={"action": "reject"}
            )
            assert late.status_code == 409
    finally:
        await two.stop()
        await one.stop()
    for iid in ids:
        assert (await client.wait(iid, timeout=10)).action == "approve"


async def test_readiness_and_metrics(
    gateway: GatewayService, alice: httpx.AsyncClient, client: HitlClient
) -> None:
    ready = await alice.get("/readyz")
    assert ready.status_code == 200, ready.text
    components = ready.json()["components"]
    assert {"rabbitmq", "redis", "http server"} <= set(components)
    assert any(
        name.startswith("consumer of ") and ".gateway.receipts." in name for name in components
    )
    assert (await alice.get("/healthz")).json() == {"status": "ok"}

    iid = await ask(client)
    await stored(alice, iid)
    await alice.get(f"/v1/interactions/{uuid.uuid4()}")
    text = (await alice.get("/metrics")).text
    assert (
        'hitl_http_requests_total{method="GET",route="/v1/interactions/{interaction_id}",'
        'status="200"}' in text
    )
    assert 'route="/v1/interactions/{interaction_id}",status="404"' in text
    assert "hitl_http_request_duration_seconds_bucket" in text
    assert 'hitl_ready{role="gateway"} 1.0' in text

    gateway.host.stopping.set()  # what SIGTERM does first: not ready any more
    stopping = await alice.get("/readyz")
    assert stopping.status_code == 503
    assert stopping.json()["components"]["stopping"] == "shutting down"


async def test_in_flight_requests_finish_on_shutdown(
    settings: Settings, broker: BrokerService, make_key: MakeKey
) -> None:
    gateway = GatewayService(settings)
    await gateway.start()
    port = gateway.port
    async with http_client(gateway, await make_key("alice", "read", "request")) as http:
        body = {"kind": "approval", "thread_id": "t", "prompt": "p", "id": str(uuid.uuid4())}
        assert (await http.post("/v1/interactions", json=body)).status_code == 202
        await stored(http, uuid.UUID(body["id"]))
        # A long-poll in flight when the stop begins: it is answered, not cut off.
        polling = asyncio.create_task(http.post("/v1/interactions", json=body, params={"wait": 4}))
        await asyncio.sleep(0.3)
        await gateway.stop()
        polled = await polling
    assert polled.status_code == 202, polled.text
    assert polled.json()["status"] == "pending"
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as late:
            await late.get("/healthz")


def test_keys_cli_create_list_revoke(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in settings.model_dump(mode="json").items():
        if value is not None and not isinstance(value, list | dict):
            monkeypatch.setenv(f"HITL_{name.upper()}", str(value))
    assert (
        main(
            [
                "keys",
                "create",
                "--identity",
                "ann@example.com",
                "--group",
                "ops",
                "--scope",
                "read",
                "--scope",
                "respond",
                "--name",
                "laptop",
            ]
        )
        == 0
    )
    token = capsys.readouterr().out.strip()
    assert token.startswith("hitl_")
    key_id = token.split("_")[1]
    assert main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert key_id in listing and "ann@example.com" in listing and "read,respond" in listing
    assert token.split("_", 2)[2] not in listing
    assert main(["keys", "list", "--json"]) == 0
    listed = capsys.readouterr().out
    assert '"secret_sha256"' not in listed and '"groups":["ops"]' in listed
    assert main(["keys", "revoke", key_id]) == 0
    assert main(["keys", "revoke", key_id]) == 5  # no such key: the unknown-id exit code
    assert "no API key" in capsys.readouterr().err
    assert main(["keys", "list"]) == 0
    assert "no API keys" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["keys", "create", "--identity", "x", "--scope", "write"])


@pytest.mark.slow
async def test_hitl_gateway_runs_as_a_process_and_exits_0_on_sigterm(
    settings: Settings, broker: BrokerService, make_key: MakeKey
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ}
    for name, value in settings.model_dump(mode="json").items():
        if value is not None and not isinstance(value, list | dict):
            env[f"HITL_{name.upper()}"] = str(value)
    env["HITL_GATEWAY_PORT"] = str(port)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hitl.cli.main",
        "gateway",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        token = await make_key("alice", "read")
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": token}
        ) as http:

            async def up() -> bool:
                try:
                    return (await http.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(up, timeout=20)
            assert (await http.get("/v1/interactions")).status_code == 200
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 20)
        assert process.returncode == 0, output.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
