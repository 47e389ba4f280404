"""The ``hitl`` command against the real servers, in both of its modes: through a real gateway
with an API key (``gateway``) and straight on RabbitMQ and Redis (``direct``). The person is
alice either way: her key's identity, or her login name."""

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis

from hitl.adapters.redis.apikeys import RedisApiKeys
from hitl.adapters.redis.keys import Keys
from hitl.broker.service import BrokerService
from hitl.cli.main import main
from hitl.core.apikeys import mint
from hitl.gateway.service import GatewayService
from hitl.runtime.stores import redis_store
from hitl.sdk import HitlClient
from hitl.settings import Settings
from hitl_contract import Identity, InteractionRequest
from tests.helpers import eventually
from tests.integration.gateway.conftest import gateway_settings

PERSON = "alice"


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def settings(namespace: str) -> Settings:
    return gateway_settings(namespace)


def server_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}
    for name, value in settings.model_dump(mode="json").items():
        if value is not None and not isinstance(value, list | dict):
            env[f"HITL_{name.upper()}"] = str(value)
    return env


async def mint_key(settings: Settings, redis: Redis, who: str, *scopes: str) -> str:
    token, record = mint(Identity(id=who), scopes, time.time())
    await RedisApiKeys(redis, Keys(settings.namespace, settings.shards)).add(record)
    return token


@pytest.fixture(params=["direct", "gateway"])
async def mode_env(
    request: pytest.FixtureRequest, settings: Settings, broker: BrokerService, redis: Redis
) -> AsyncIterator[dict[str, str]]:
    """The environment of a person's shell in each mode."""
    env = server_env(settings) | {"LOGNAME": PERSON, "USER": PERSON}
    if request.param == "direct":
        yield env
        return
    service = GatewayService(settings)
    await service.start()
    env["HITL_GATEWAY_URL"] = f"http://127.0.0.1:{service.port}"
    env["HITL_GATEWAY_KEY"] = await mint_key(settings, redis, PERSON, "read", "respond")
    # Through the gateway a person needs no server: these would fail if they were used.
    env["HITL_AMQP_URL"] = "amqp://nobody:nothing@127.0.0.1:1/"
    env["HITL_REDIS_URL"] = "redis://127.0.0.1:1/0"
    yield env
    await service.stop()


class Cli:
    """Runs ``hitl`` in this process (in a thread, beside the servers' event loop) with an
    environment, and captures what it prints."""

    def __init__(
        self,
        env: dict[str, str],
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        self.env = env
        self._monkeypatch = monkeypatch
        self._capsys = capsys

    @property
    def mode(self) -> str:
        return "gateway" if "HITL_GATEWAY_URL" in self.env else "direct"

    @property
    def channel(self) -> str:
        return "http" if self.mode == "gateway" else "cli"

    async def __call__(self, *args: str, env: dict[str, str] | None = None) -> Run:
        self._capsys.readouterr()
        with self._monkeypatch.context() as m:
            for name in [k for k in os.environ if k.startswith("HITL_")]:
                m.delenv(name)
            for name, value in (env or self.env).items():
                m.setenv(name, value)
            code = await asyncio.to_thread(_main, list(args))
        out, err = self._capsys.readouterr()
        return Run(code, out, err)


def _main(args: list[str]) -> int:
    try:
        return main(args)
    except SystemExit as exc:  # a usage error
        return int(exc.code or 0)


@pytest.fixture
def cli(
    mode_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    return Cli(mode_env, monkeypatch, capsys)


@pytest.fixture
def direct_cli(
    settings: Settings,
    broker: BrokerService,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    return Cli(server_env(settings) | {"LOGNAME": PERSON, "USER": PERSON}, monkeypatch, capsys)


class Asker:
    """Asks through the SDK and returns once the broker holds the request as pending."""

    def __init__(self, client: HitlClient, settings: Settings, redis: Redis) -> None:
        self._client = client
        self._reads = redis_store(redis, settings)

    async def __call__(self, kind: str = "approval", **fields: Any) -> InteractionRequest:
        fields.setdefault("prompt", "Please review and approve this budget proposal.")
        fields.setdefault("thread_id", f"thread-{uuid.uuid4().hex[:8]}")
        request = self._client.new_request(kind, **fields)
        await self._client.submit(request)

        async def stored() -> bool:
            return await self._reads.load(request.id) is not None

        await eventually(stored)
        return request


@pytest.fixture
def ask(client: HitlClient, settings: Settings, redis: Redis) -> Asker:
    return Asker(client, settings, redis)


def python_hitl() -> list[str]:
    return [sys.executable, "-m", "hitl.cli.main"]
