"""Bad input on every endpoint: a problem+json that names the field at fault, no state change,
and the gateway keeps serving."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from hitl.adapters.redis.reads import RedisReads
from hitl.sdk import HitlClient
from hitl.settings import Settings
from tests.helpers import raw_request
from tests.integration.gateway.test_api import ask, stored

PROBLEM = "application/problem+json"
BODY_PATHS = ["/v1/interactions/{id}/responses", "/v1/interactions/{id}/cancel", "/v1/interactions"]


@pytest.fixture
async def pending(alice: httpx.AsyncClient, client: HitlClient) -> AsyncIterator[uuid.UUID]:
    """An interaction that must come through every test unchanged."""
    iid = await ask(client)
    await stored(alice, iid)
    yield iid
    detail = (await alice.get(f"/v1/interactions/{iid}")).json()
    assert (detail["status"], detail["version"]) == ("pending", 1)
    assert [h["event"] for h in detail["history"]] == ["requested", "notified"]
    assert (await alice.get("/v1/interactions")).status_code == 200
    assert (await alice.get("/readyz")).status_code == 200


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"].startswith("https://") and body["title"]
    return body


@pytest.mark.parametrize("path", BODY_PATHS)
async def test_malformed_json_is_a_400(
    alice: httpx.AsyncClient, pending: uuid.UUID, path: str
) -> None:
    for text in (b"{", b'{"action": }', b"\xff\xfe", b"[1, 2"):
        response = await alice.post(
            path.format(id=pending), content=text, headers={"Content-Type": "application/json"}
        )
        body = problem(response, 400)
        assert body["code"] == "malformed_json"
        assert body["path"] == "body"


async def test_wrong_types_and_unknown_fields_are_422s_naming_each_field(
    alice: httpx.AsyncClient, pending: uuid.UUID
) -> None:
    answer = f"/v1/interactions/{pending}/responses"
    body = problem(await alice.post(answer, json={"action": 5, "data": [], "extra": 1}), 422)
    assert {e["path"] for e in body["errors"]} == {"action", "data", "extra"}
    assert all(e["location"] == "body" for e in body["errors"])
    assert body["path"] in ("action", "data", "extra")

    body = problem(await alice.post(answer, json={"data": {}}), 422)
    assert body["errors"][0] == {
        "location": "body",
        "path": "action",
        "message": "Field required",
        "type": "missing",
    }
    body = problem(await alice.post(answer, json={"action": "approve", "response_id": "x"}), 422)
    assert body["errors"][0]["path"] == "response_id"
    assert body["errors"][0]["got"] == "x"
    body = problem(await alice.post(answer, json=["approve"]), 422)

    cancel = f"/v1/interactions/{pending}/cancel"
    body = problem(await alice.post(cancel, json={"reason": 1, "why": "x"}), 422)
    assert {e["path"] for e in body["errors"]} == {"reason", "why"}

    create = problem(await alice.post("/v1/interactions", json={**raw_request(), "colour": 1}), 422)
    assert create["path"] == "colour"
    create = problem(await alice.post("/v1/interactions", json=[raw_request()]), 422)
    assert "JSON object" in create["detail"]
    create = problem(
        await alice.post("/v1/interactions", json=raw_request(timeout_seconds="soon")), 422
    )
    assert (create["path"], create["got"]) == ("timeout_seconds", "soon")


@pytest.mark.parametrize("path", BODY_PATHS)
async def test_oversize_bodies_are_413s_before_parsing(
    alice: httpx.AsyncClient, settings: Settings, pending: uuid.UUID, path: str
) -> None:
    big = b'{"action": "approve", "data": {"x": "' + b"y" * settings.max_payload_bytes + b'"}}'
    declared = await alice.post(
        path.format(id=pending), content=big, headers={"Content-Type": "application/json"}
    )
    assert problem(declared, 413)["allowed"] == [f"<= {settings.max_payload_bytes} bytes"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    chunked = await alice.post(
        path.format(id=pending), content=chunks(), headers={"Content-Type": "application/json"}
    )
    problem(chunked, 413)


@pytest.mark.parametrize("path", BODY_PATHS)
async def test_a_body_that_is_not_json_is_a_415(
    alice: httpx.AsyncClient, pending: uuid.UUID, path: str
) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {}
        response = await alice.post(
            path.format(id=pending), content=b"action=approve", headers=headers
        )
        assert problem(response, 415)["allowed"] == ["application/json"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "garbage!"}, "cursor"),
        ({"cursor": "eyJ2IjoxfQ"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "done"}, "status"),
        ({"kind": "poll"}, "kind"),
        ({"order": "random"}, "order"),
        ({"label": "no-equals"}, "label"),
        ({"waiting_for": "bob"}, "waiting_for"),
    ],
)
async def test_bad_listing_parameters_are_400s_naming_the_parameter(
    alice: httpx.AsyncClient, pending: uuid.UUID, params: dict[str, Any], field: str
) -> None:
    body = problem(await alice.get("/v1/interactions", params=params), 400)
    assert body["path"].split("[")[0] == field, body


async def test_a_cursor_from_another_listing_is_a_400(
    alice: httpx.AsyncClient, client: HitlClient, pending: uuid.UUID
) -> None:
    await stored(alice, await ask(client))
    first = (await alice.get("/v1/interactions", params={"limit": 1})).json()
    cursor = first["next_cursor"]
    assert cursor is not None
    for params in ({"kind": "choice"}, {"order": "oldest"}, {"label": "a=b"}):
        body = problem(
            await alice.get("/v1/interactions", params={**params, "cursor": cursor}), 400
        )
        assert body["path"] == "cursor"
    thread = await alice.get("/v1/threads/t-1/pending", params={"cursor": cursor})
    assert problem(thread, 400)["path"] == "cursor"


async def test_unknown_and_malformed_ids(alice: httpx.AsyncClient, pending: uuid.UUID) -> None:
    unknown = uuid.uuid4()
    for method, path, body in (
        ("GET", f"/v1/interactions/{unknown}", None),
        ("POST", f"/v1/interactions/{unknown}/responses", {"action": "approve"}),
        ("POST", f"/v1/interactions/{unknown}/cancel", {}),
    ):
        found = problem(await alice.request(method, path, json=body), 404)
        assert (found["code"], found["got"]) == ("unknown_interaction", str(unknown))
        malformed = await alice.request(method, path.replace(str(unknown), "not-a-uuid"), json=body)
        assert problem(malformed, 400)["path"] == "interaction_id"


async def test_unknown_routes_and_methods(alice: httpx.AsyncClient, pending: uuid.UUID) -> None:
    problem(await alice.get("/v1/nothing-here"), 404)
    problem(await alice.delete(f"/v1/interactions/{pending}"), 405)


async def test_internal_errors_say_nothing_of_the_internals(
    alice: httpx.AsyncClient,
    pending: uuid.UUID,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*_: object) -> None:
        raise RuntimeError("secret connection string amqp://admin:hunter2@db")

    monkeypatch.setattr(RedisReads, "query", broken)
    with caplog.at_level("ERROR"):
        response = await alice.get("/v1/interactions")
    body = problem(response, 500)
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    assert body["error_id"] in caplog.text and "hunter2" in caplog.text
    monkeypatch.undo()
