"""A broker and gateway replicas on the real servers, API keys, and HTTP clients for them."""

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from hitl.adapters.redis.apikeys import RedisApiKeys
from hitl.adapters.redis.keys import Keys
from hitl.broker.service import BrokerService
from hitl.core.apikeys import mint
from hitl.gateway.service import GatewayService
from hitl.settings import Settings
from hitl_contract import Identity
from tests.servers import test_settings

MakeKey = Callable[..., Awaitable[str]]


def gateway_settings(namespace: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "gateway_port": 0,
        "gateway_key_cache_seconds": 0.2,
        "gateway_receipt_timeout_seconds": 5.0,
        "gateway_max_wait_seconds": 5.0,
    }
    return test_settings(namespace, **(values | overrides))


@pytest.fixture
def settings(namespace: str) -> Settings:
    return gateway_settings(namespace)


@pytest.fixture
async def gateway(settings: Settings, broker: BrokerService) -> AsyncIterator[GatewayService]:
    service = GatewayService(settings)
    await service.start()
    yield service
    await service.stop()


@pytest.fixture
async def make_key(settings: Settings, redis: Redis) -> MakeKey:
    """``await make_key("alice", "read", "respond", groups=[...])``: a stored key's token."""
    records = RedisApiKeys(redis, Keys(settings.namespace, settings.shards))

    async def make(identity: str, *scopes: str, groups: list[str] | None = None) -> str:
        token, record = mint(
            Identity(id=identity, groups=groups or []), scopes or ("read",), time.time()
        )
        await records.add(record)
        return token

    return make


def http_client(service: GatewayService, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{service.port}", headers=headers, timeout=15
    )


@pytest.fixture
async def alice(gateway: GatewayService, make_key: MakeKey) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a key for alice: read, respond and request."""
    async with http_client(gateway, await make_key("alice", "read", "respond", "request")) as http:
        yield http
