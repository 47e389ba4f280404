"""Where ``hitl`` goes and what it says when it cannot: a gateway that is down or refuses the
key, servers that do not answer (one line naming the URL and the setting, without a minute of
retries), ``hitl login`` keeping the gateway and key (0600), and ``--hold`` for machines."""

import os
import stat
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis

from hitl.broker.service import BrokerService
from hitl.gateway.service import GatewayService
from hitl.sdk import HitlClient
from hitl.settings import Settings
from tests.integration.cli.conftest import PERSON, Asker, Cli, mint_key, server_env

NOWHERE_REDIS = "redis://127.0.0.1:1/0"
NOWHERE_AMQP = "amqp://guest:secret@127.0.0.1:1/"


@pytest.fixture
async def gateway(settings: Settings, broker: BrokerService) -> AsyncIterator[GatewayService]:
    service = GatewayService(settings)
    await service.start()
    yield service
    await service.stop()


def through(gateway: GatewayService, key: str, settings: Settings) -> dict[str, str]:
    env = server_env(settings) | {"HITL_REDIS_URL": NOWHERE_REDIS, "HITL_AMQP_URL": NOWHERE_AMQP}
    return env | {"HITL_GATEWAY_URL": f"http://127.0.0.1:{gateway.port}", "HITL_GATEWAY_KEY": key}


async def test_a_gateway_that_refuses_the_key_or_is_down(
    direct_cli: Cli, gateway: GatewayService, settings: Settings, redis: Redis, ask: Asker
) -> None:
    request = await ask(thread_id="t-gw")
    wrong = through(gateway, "hitl_000000000000_nope", settings)
    run = await direct_cli("pending", env=wrong)
    assert run.code == 6
    [line] = run.err.splitlines()
    assert line.startswith(f"hitl: the gateway at http://127.0.0.1:{gateway.port} refused the key")
    assert "HITL_GATEWAY_KEY" in line

    reader = through(gateway, await mint_key(settings, redis, PERSON, "read"), settings)
    assert (await direct_cli("pending", env=reader)).code == 0
    forbidden = await direct_cli("resume", "t-gw", "approve", env=reader)
    assert forbidden.code == 6 and len(forbidden.err.splitlines()) == 1
    assert "respond" in forbidden.err

    down = reader | {"HITL_GATEWAY_URL": "http://127.0.0.1:1"}
    unreachable = await direct_cli("resume", str(request.id), "approve", env=down)
    assert unreachable.code == 7
    [line] = unreachable.err.splitlines()
    assert line.startswith("hitl: cannot reach the gateway at http://127.0.0.1:1 (")
    assert line.endswith("check HITL_GATEWAY_URL and that `hitl gateway` is running")

    no_key = {k: v for k, v in reader.items() if k != "HITL_GATEWAY_KEY"}
    assert (await direct_cli("pending", env=no_key)).code == 2

    hold = await direct_cli("respond", str(uuid.uuid4()), "approve", "--hold", env=reader)
    assert hold.code == 2 and "--hold works straight on the servers only" in hold.err


async def test_servers_that_do_not_answer_are_one_line(direct_cli: Cli, ask: Asker) -> None:
    request = await ask(thread_id="t-down")
    no_redis = await direct_cli("pending", env=direct_cli.env | {"HITL_REDIS_URL": NOWHERE_REDIS})
    assert no_redis.code == 7
    assert no_redis.err.startswith("hitl: cannot reach Redis at redis://127.0.0.1:1/0 (")
    assert no_redis.err.endswith("check HITL_REDIS_URL and that Redis is running\n")
    assert len(no_redis.err.splitlines()) == 1  # no retry lines

    no_amqp = await direct_cli(
        "resume", "t-down", "approve", env=direct_cli.env | {"HITL_AMQP_URL": NOWHERE_AMQP}
    )
    assert no_amqp.code == 7
    [line] = no_amqp.err.splitlines()
    assert line.startswith("hitl: cannot reach RabbitMQ at amqp://guest:***@127.0.0.1:1/ (")
    assert "check HITL_AMQP_URL" in line and "secret" not in line
    assert (await direct_cli("show", str(request.id), "--json")).code == 0


async def test_hold_answers_a_request_yet_to_come(direct_cli: Cli, client: HitlClient) -> None:
    request = client.new_request("approval", thread_id="t-early", prompt="Early?")
    held = await direct_cli("respond", str(request.id), "approve", "--hold")
    assert held.code == 0, held.err
    assert held.out.startswith(f"held: no interaction {request.id} yet")
    await client.submit(request)
    outcome = await client.wait(request.id, timeout=10)
    assert outcome.action == "approve" and outcome.decided_by.identity is not None
    assert outcome.decided_by.identity.id == PERSON


async def test_login_keeps_the_gateway_for_later_commands(
    direct_cli: Cli, gateway: GatewayService, settings: Settings, redis: Redis, ask: Asker
) -> None:
    url = f"http://127.0.0.1:{gateway.port}"
    servers_down = server_env(settings) | {
        "HITL_REDIS_URL": NOWHERE_REDIS,
        "HITL_AMQP_URL": NOWHERE_AMQP,
    }
    refused = await direct_cli(
        "login", "--url", url, "--key", "hitl_000000000000_no", env=servers_down
    )
    assert refused.code == 6
    stored = Path(os.environ["XDG_CONFIG_HOME"]) / "hitl" / "credentials.json"
    assert not stored.exists()

    key = await mint_key(settings, redis, PERSON, "read", "respond")
    run = await direct_cli("login", "--url", url, "--key", key, env=servers_down)
    assert run.code == 0, run.err
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert orjson.loads(stored.read_bytes()) == {"url": url, "key": key}

    request = await ask(thread_id="t-login")
    answered = await direct_cli("resume", "t-login", "approve", env=servers_down)
    assert answered.code == 0, answered.err
    assert "by person alice via http" in answered.out  # through the gateway, as the key

    direct = await direct_cli("--direct", "show", str(request.id), env=servers_down)
    assert direct.code == 7 and "HITL_REDIS_URL" in direct.err

    assert (await direct_cli("logout", env=servers_down)).code == 0
    assert not stored.exists()
    after = await direct_cli("show", str(request.id), env=servers_down)
    assert after.code == 7 and "HITL_REDIS_URL" in after.err
