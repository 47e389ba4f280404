"""API keys on every endpoint: no key, a bad or revoked one, a missing scope, a responder the
request does not allow. Each is refused with a problem, and nothing changes."""

import asyncio
import uuid

import httpx
import pytest
from redis.asyncio import Redis

from hitl.adapters.redis.apikeys import RedisApiKeys
from hitl.adapters.redis.keys import Keys
from hitl.gateway.app import openapi_document
from hitl.gateway.service import GatewayService
from hitl.sdk import HitlClient
from hitl.settings import Settings
from tests.helpers import raw_request
from tests.integration.gateway.conftest import MakeKey, http_client
from tests.integration.gateway.test_api import ask, stored

ENDPOINTS = [
    ("GET", "/v1/interactions", None, "read"),
    ("GET", "/v1/interactions/{id}", None, "read"),
    ("GET", "/v1/threads/t-1/pending", None, "read"),
    ("POST", "/v1/interactions/{id}/responses", {"action": "approve"}, "respond"),
    ("POST", "/v1/interactions/{id}/cancel", {}, "respond"),
    ("POST", "/v1/interactions/{id}/claim", {"ttl_seconds": 60}, "respond"),
    ("DELETE", "/v1/interactions/{id}/claim", None, "respond"),
    ("POST", "/v1/interactions", raw_request(), "request"),
    ("GET", "/v1/events", None, "read"),
    ("GET", "/v1/stats", None, "read"),
]


def test_every_v1_operation_is_tried() -> None:
    published = {
        (method.upper(), path)
        for path, operations in openapi_document()["paths"].items()
        for method in operations
        # signed with a webhook receiver's secret instead of a key: test_signed_answers.py
        if path.startswith("/v1/") and not path.startswith("/v1/webhooks/")
    }
    tried = {
        (method, path.replace("{id}", "{interaction_id}").replace("t-1", "{thread_id}"))
        for method, path, *_ in ENDPOINTS
    }
    assert published == tried


@pytest.fixture
async def pending(alice: httpx.AsyncClient, client: HitlClient) -> uuid.UUID:
    iid = await ask(client, responders=["alice", "group:ops"])
    await stored(alice, iid)
    return iid


async def unchanged(http: httpx.AsyncClient, iid: uuid.UUID) -> None:
    detail = (await http.get(f"/v1/interactions/{iid}")).json()
    assert (detail["status"], detail["version"]) == ("pending", 1)
    assert [h["event"] for h in detail["history"]] == ["requested", "notified"]


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS)
async def test_without_a_valid_key_every_endpoint_is_a_401(
    gateway: GatewayService,
    alice: httpx.AsyncClient,
    pending: uuid.UUID,
    method: str,
    path: str,
    body: object,
    scope: str,
) -> None:
    url = path.format(id=pending)
    for headers in (
        {},
        {"Authorization": "Bearer hitl_0123456789ab_" + "A" * 43},
        {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
        {"X-API-Key": "not-a-key"},
    ):
        async with http_client(gateway) as anonymous:
            response = await anonymous.request(method, url, json=body, headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")
    await unchanged(alice, pending)


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS)
async def test_a_key_without_the_scope_is_a_403(
    gateway: GatewayService,
    make_key: MakeKey,
    alice: httpx.AsyncClient,
    pending: uuid.UUID,
    method: str,
    path: str,
    body: object,
    scope: str,
) -> None:
    others = [s for s in ("read", "respond", "request") if s != scope]
    async with http_client(gateway, await make_key("alice", *others)) as http:
        response = await http.request(method, path.format(id=pending), json=body)
    assert response.status_code == 403, response.text
    assert response.json()["allowed"] == [scope, "admin"]
    await unchanged(alice, pending)


async def test_an_admin_key_may_do_everything(
    gateway: GatewayService, make_key: MakeKey, pending: uuid.UUID
) -> None:
    async with http_client(gateway, await make_key("alice", "admin")) as admin:
        assert (await admin.get(f"/v1/interactions/{pending}")).status_code == 200
        answered = await admin.post(
            f"/v1/interactions/{pending}/responses", json={"action": "approve"}
        )
    assert answered.status_code == 200, answered.text


async def test_a_responder_the_request_does_not_allow_is_a_403_and_nothing_changes(
    gateway: GatewayService, make_key: MakeKey, alice: httpx.AsyncClient, pending: uuid.UUID
) -> None:
    async with http_client(gateway, await make_key("mallory", "read", "respond")) as mallory:
        for path, body in (
            (f"/v1/interactions/{pending}/responses", {"action": "approve"}),
            (f"/v1/interactions/{pending}/cancel", {"reason": "mine now"}),
            (f"/v1/interactions/{pending}/claim", {"ttl_seconds": 60}),
        ):
            response = await mallory.post(path, json=body)
            assert response.status_code == 403, response.text
            problem = response.json()
            assert problem["code"] == "not_allowed"
            assert problem["got"] == "mallory"
            assert problem["allowed"] == ["alice", "group:ops"]
    await unchanged(alice, pending)
    async with http_client(gateway, await make_key("olga", "respond", groups=["ops"])) as olga:
        by_group = await olga.post(f"/v1/interactions/{pending}/cancel")
    assert by_group.status_code == 200, by_group.text


async def test_the_identity_comes_from_the_key_never_the_body(
    alice: httpx.AsyncClient, pending: uuid.UUID
) -> None:
    response = await alice.post(
        f"/v1/interactions/{pending}/responses",
        json={"action": "approve", "responder": {"id": "ceo"}},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "responder"
    await unchanged(alice, pending)

    body = raw_request(requester={"id": "ceo"})
    created = await alice.post("/v1/interactions", json=body)
    assert created.status_code == 202, created.text
    detail = await stored(alice, uuid.UUID(body["id"]))
    assert detail["request"]["requester"]["id"] == "alice"


async def test_a_revoked_key_stops_working_within_the_cache_period(
    gateway: GatewayService, settings: Settings, make_key: MakeKey, redis: Redis
) -> None:
    token = await make_key("alice", "read")
    async with http_client(gateway, token) as http:
        assert (await http.get("/v1/interactions")).status_code == 200
        key_id = token.split("_")[1]
        assert await RedisApiKeys(redis, Keys(settings.namespace, settings.shards)).revoke(key_id)
        await asyncio.sleep(settings.gateway_key_cache_seconds + 0.05)
        response = await http.get("/v1/interactions")
    assert response.status_code == 401
    assert response.json()["title"] == "Unknown or revoked API key"


async def test_x_api_key_works_too(gateway: GatewayService, make_key: MakeKey) -> None:
    token = await make_key("alice", "read")
    async with http_client(gateway) as http:
        response = await http.get("/v1/interactions", headers={"X-API-Key": token})
    assert response.status_code == 200
