"""hitl under the Redis ACL user ``hitl access redis`` prints: a broker and a gateway run
interactions (asked, answered over AMQP and over HTTP, timed out, listed, shown, counted) with
only the namespace's keys and hitl's commands, and anything else is refused. The user is
created on the shared Redis under a unique name and deleted after."""

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import NoPermissionError

from hitl.adapters.redis.apikeys import RedisApiKeys
from hitl.adapters.redis.keys import Keys
from hitl.broker.service import BrokerService
from hitl.cli.main import main
from hitl.core.access import redis_acl_setuser
from hitl.core.apikeys import mint
from hitl.errors import ConfigError
from hitl.gateway.service import GatewayService
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from hitl_contract import Identity, ReceiptResult
from tests.helpers import answer
from tests.servers import AMQP_URL, REDIS_URL

pytestmark = pytest.mark.slow


@pytest.fixture
async def acl_settings(settings: Settings, redis: Redis) -> AsyncIterator[Settings]:
    """The test's settings with a Redis URL of an ACL user of its own."""
    user, password = f"hitl-test-{uuid.uuid4().hex[:10]}", secrets.token_hex(16)
    await redis.execute_command(*redis_acl_setuser(user, f">{password}", settings.namespace))
    try:
        url = REDIS_URL.replace("redis://", f"redis://{user}:{password}@", 1)
        yield settings.model_copy(update={"redis_url": url})
    finally:
        await redis.execute_command("ACL", "DELUSER", user)


async def test_a_broker_and_a_gateway_run_under_the_acl_user(acl_settings: Settings) -> None:
    s = acl_settings
    broker, gateway = BrokerService(s), GatewayService(s.model_copy(update={"gateway_port": 0}))
    await broker.start()
    try:
        await gateway.start()
        restricted: Redis = Redis.from_url(s.redis_url)
        token, record = mint(Identity(id="ana@example.com"), ("read", "respond"), time.time())
        await RedisApiKeys(restricted, Keys(s.namespace, s.shards)).add(record)
        async with (
            HitlClient.connect(AMQP_URL, service="producer", namespace=s.namespace) as client,
            Responder.connect(AMQP_URL, namespace=s.namespace) as responder,
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{gateway.port}",
                headers={"Authorization": f"Bearer {token}"},
            ) as http,
        ):
            first = client.new_request("approval", thread_id="acl-1", prompt="One?")
            second = client.new_request("approval", thread_id="acl-2", prompt="Two?")
            late = client.new_request(
                "approval", thread_id="acl-3", prompt="Three?", timeout_seconds=0.5
            )
            asked = [asyncio.create_task(client.ask(r, timeout=20)) for r in (first, second, late)]
            await _until_pending(http, 3)
            receipt = await responder.respond(answer(first.id, "approve"))
            assert receipt is not None and receipt.result == ReceiptResult.ACCEPTED
            reply = await http.post(
                f"/v1/interactions/{second.id}/responses", json={"action": "reject"}
            )
            assert reply.status_code == 200, reply.text
            outcomes = await asyncio.gather(*asked)
            assert [o.status for o in outcomes] == ["resolved", "resolved", "timed_out"]
            shown = await http.get(f"/v1/interactions/{second.id}")
            assert shown.status_code == 200 and shown.json()["history"]
            assert (await http.get("/v1/stats")).status_code == 200
        with pytest.raises(NoPermissionError):
            await restricted.get("another-namespace:key")  # not its keys
        with pytest.raises(NoPermissionError):
            await restricted.execute_command("FLUSHDB")  # not its commands
        with pytest.raises(NoPermissionError):
            await restricted.keys(f"{s.namespace}:*")
        await restricted.aclose()
        assert not await broker.not_ready() and not await gateway.host.not_ready()
    finally:
        await gateway.stop()
        await broker.stop()


async def _until_pending(http: httpx.AsyncClient, count: int) -> None:
    for _ in range(200):
        listed = await http.get("/v1/interactions", params={"status": "pending"})
        if listed.status_code == 200 and len(listed.json()["items"]) == count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never {count} pending")


async def test_a_wrong_redis_password_fails_the_start_at_once_naming_the_setting(
    acl_settings: Settings,
) -> None:
    url = acl_settings.redis_url.replace("@", "x@", 1)  # the password, changed
    s = acl_settings.model_copy(update={"redis_url": url, "startup_attempts": 30})
    with pytest.raises(ConfigError, match=r"^HITL_REDIS_URL: Redis at .* refused the login"):
        await BrokerService(s).start()


def test_a_person_with_a_wrong_redis_password_is_told_which_setting(
    acl_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HITL_NAMESPACE", acl_settings.namespace)
    monkeypatch.setenv("HITL_REDIS_URL", acl_settings.redis_url.replace("@", "x@", 1))
    assert main(["pending"]) == 2  # a setting to fix, not a server to wait for
    said = capsys.readouterr().err
    assert said.startswith("hitl: HITL_REDIS_URL: Redis at redis://hitl-test-")
    assert "refused the login" in said and ":***@" in said
