"""The answer lane (``hitl.gateway.answer_lane``) answers ``POST /v1/interactions/{id}/
responses`` exactly as the FastAPI route does: for every kind of request, good and bad, the
same status, content type, extra headers and body, and the same metrics. Two apps on one
context, one with the lane and one without, in process (an in-memory store, a broker link
whose receipt depends on the answer's action)."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry

from hitl.adapters.memory.apikeys import MemoryApiKeys
from hitl.adapters.memory.store import MemoryStore
from hitl.core.apikeys import mint
from hitl.core.decoding import decode_request
from hitl.core.machine import open_interaction
from hitl.errors import TransportError
from hitl.gateway.app import create_app
from hitl.gateway.deps import GatewayContext
from hitl.gateway.keys import CachedApiKeys
from hitl.settings import Settings
from hitl_contract import (
    DecidedBy,
    ErrorCode,
    ErrorDetail,
    HumanResponse,
    Identity,
    InteractionOutcome,
    InteractionRequest,
    ReceiptResult,
    ResponseReceipt,
)
from tests.helpers import raw_request

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LIMIT = 4096


class ByAction:
    """Receipts chosen by the answer's action: approve decides, vote is recorded, bad is
    refused with field errors, late is already resolved, slow times out, down and boom
    fail."""

    async def answer(self, response: HumanResponse, timeout: float) -> ResponseReceipt:
        action = response.action
        if action == "slow":
            raise TimeoutError
        if action == "down":
            raise TransportError("RabbitMQ is down")
        if action == "boom":
            raise RuntimeError("a bug")
        outcome = InteractionOutcome(
            interaction_id=response.interaction_id,
            thread_id="t",
            kind="approval",
            status="resolved",
            action="approve",
            data=response.data,
            decided_by=DecidedBy(type="person", identity=response.responder, channel="http"),
            response_id=response.response_id,
            requested_at=NOW,
            resolved_at=NOW,
        )
        error = ErrorDetail(
            code=ErrorCode.INVALID_FIELD,
            message="data.reason: too short",
            path="data.reason",
            allowed=["1..100 characters"],
            got="",
            details=[ErrorDetail(code=ErrorCode.INVALID_FIELD, message="x", path="data.x")],
        )
        result, with_outcome, with_error = {
            "approve": (ReceiptResult.ACCEPTED, True, False),
            "vote": (ReceiptResult.RECORDED, False, False),
            "early": (ReceiptResult.HELD, False, False),
            "late": (ReceiptResult.ALREADY_RESOLVED, True, False),
            "gone": (ReceiptResult.UNKNOWN_INTERACTION, False, False),
            "bad": (ReceiptResult.REJECTED, False, True),
            "odd": (ReceiptResult.REJECTED, False, False),
        }[action]
        receipt = ResponseReceipt(
            interaction_id=response.interaction_id,
            response_id=response.response_id,
            result=result,
            outcome=outcome if with_outcome else None,
            error=error if with_error else None,
        )
        return ResponseReceipt.model_validate_json(receipt.model_dump_json())  # as received

    async def request(self, request: InteractionRequest) -> None:
        raise NotImplementedError


class Apps:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.records = MemoryApiKeys()
        settings = Settings(namespace=f"lane-{uuid.uuid4().hex[:8]}", gateway_max_body_bytes=LIMIT)
        context = GatewayContext(
            settings=settings,
            reads=self.store,
            keys=CachedApiKeys(self.records, cache_seconds=60),
            hub=None,  # type: ignore[arg-type]  # answers do not use it
            clock=NOW.timestamp,
            broker=ByAction(),
        )
        self.registries = {lane: CollectorRegistry() for lane in (True, False)}
        self.clients = {
            lane: httpx.AsyncClient(
                transport=httpx.ASGITransport(
                    app=create_app(context, registry=self.registries[lane], answer_lane=lane),
                    raise_app_exceptions=False,  # Starlette raises again after its 500
                ),
                base_url="http://gateway",
            )
            for lane in (True, False)
        }

    async def key(self, identity: str, *scopes: str) -> str:
        token, record = mint(Identity(id=identity), scopes, NOW.timestamp())
        await self.records.add(record)
        return token

    async def pending(self, **overrides: Any) -> uuid.UUID:
        request = decode_request(orjson.dumps(raw_request(**overrides)), 1 << 20)
        await self.store.create(open_interaction(request, NOW.timestamp(), "default"), [])
        return request.id

    async def both(self, path: str, **kwargs: Any) -> tuple[httpx.Response, httpx.Response]:
        lane = await self.clients[True].post(path, **kwargs)
        plain = await self.clients[False].post(path, **kwargs)
        return lane, plain

    def requests(self, lane: bool, status: str) -> float:
        value = self.registries[lane].get_sample_value(
            "hitl_http_requests_total",
            {
                "route": "/v1/interactions/{interaction_id}/responses",
                "method": "POST",
                "status": status,
            },
        )
        return value or 0.0


@pytest.fixture
async def apps() -> AsyncIterator[Apps]:
    apps = Apps()
    yield apps
    for client in apps.clients.values():
        await client.aclose()


def _same(lane: httpx.Response, plain: httpx.Response, *, generated_id: bool = False) -> None:
    assert lane.status_code == plain.status_code, (lane.text, plain.text)
    assert lane.headers.get("content-type") == plain.headers.get("content-type")
    for header in ("www-authenticate", "retry-after"):
        assert lane.headers.get(header) == plain.headers.get(header)
    lane_body, plain_body = lane.json(), plain.json()
    if lane.status_code == 500:  # each names its own error id
        assert lane_body.pop("error_id") != plain_body.pop("error_id")
        lane_body.pop("detail"), plain_body.pop("detail")
    if generated_id:  # each made its own response id
        for body in (lane_body, plain_body):
            uuid.UUID(body.pop("response_id"))
            uuid.UUID(body["outcome"].pop("response_id"))
    assert lane_body == plain_body
    if lane.status_code < 300 and not generated_id:
        assert lane.content == plain.content  # byte for byte


def _answer(action: str = "approve", **more: Any) -> dict[str, Any]:
    return {"action": action, "data": {"reason": "ok"}, "response_id": str(uuid.uuid4()), **more}


async def test_the_lane_answers_every_case_as_the_route_does(apps: Apps) -> None:
    bob = await apps.key("bob", "respond")
    reader = await apps.key("rita", "read")
    iid = await apps.pending()
    only_carol = await apps.pending(responders=["carol"])
    url = f"/v1/interactions/{iid}/responses"
    bearer = {"Authorization": f"Bearer {bob}"}
    cases: list[tuple[str, dict[str, Any]]] = []
    for action in ("approve", "vote", "early", "late", "gone", "bad", "odd", "slow", "down"):
        cases.append((url, {"json": _answer(action), "headers": bearer}))
    cases += [
        (url, {"json": _answer(), "headers": {"X-API-Key": bob}}),
        (url, {"json": {"action": "approve"}, "headers": bearer}),  # no response_id, no data
        (url, {"json": _answer(), "headers": {}}),  # no key
        (url, {"json": _answer(), "headers": {"Authorization": "Bearer hitl_nope_nope"}}),
        (url, {"json": _answer(), "headers": {"Authorization": f"Bearer {reader}"}}),  # scope
        (url, {"json": _answer(), "headers": {"Authorization": f"Basic {bob}"}}),
        (f"/v1/interactions/{uuid.uuid4()}/responses", {"json": _answer(), "headers": bearer}),
        (f"/v1/interactions/{only_carol}/responses", {"json": _answer(), "headers": bearer}),
        (url, {"json": {"action": 5, "data": [], "extra": 1}, "headers": bearer}),
        (url, {"json": {"action": "", "response_id": "x"}, "headers": bearer}),
        (url, {"json": {"action": "a" * 65}, "headers": bearer}),
        (url, {"json": None, "headers": bearer}),
        (url, {"json": [1, 2], "headers": bearer}),
        (url, {"json": "approve", "headers": bearer}),
        (url, {"json": _answer(), "headers": {}}),
        (url, {"json": _answer(data={"big": "x" * LIMIT}), "headers": bearer}),  # 413
    ]
    raw = [b"", b"{", b'{"action": }', b"\xff\xfe", b"[1, 2", b"\xc3\x28", b'{"action": NaN}']
    raw += [b'{"action": "approve", "data": {"n": 123456789012345678901234567890}}']
    for content in raw:
        for headers in (bearer, {}):
            json_headers = {**headers, "Content-Type": "application/json"}
            cases.append((url, {"content": content, "headers": json_headers}))
    cases += [
        (url, {"content": b'{"action": "approve"}', "headers": bearer}),  # no content type
        (url, {"content": b"action=approve", "headers": {**bearer, "Content-Type": "text/plain"}}),
        (
            url,
            {
                "content": b'{"action": "approve"}',
                "headers": {**bearer, "Content-Type": "application/json; charset=utf-8"},
            },
        ),
    ]
    for path, kwargs in cases:
        lane, plain = await apps.both(path, **kwargs)
        sent = kwargs["content"] if "content" in kwargs else orjson.dumps(kwargs["json"])
        generated = lane.status_code < 300 and b"response_id" not in sent
        _same(lane, plain, generated_id=generated)
    for status in ("200", "202", "400", "401", "403", "404", "409", "422", "503"):
        assert apps.requests(True, status) == apps.requests(False, status) > 0, status
    # A body refused before routing (413, 415) is the answer route's on the lane; FastAPI's
    # middleware has not matched a route yet, so it counts them as unmatched.
    for status in ("413", "415"):
        assert apps.requests(True, status) > 0 and apps.requests(False, status) == 0
    assert apps.requests(True, "504") == apps.requests(False, "504") == 1


async def test_an_unexpected_error_is_a_500_naming_only_an_error_id(apps: Apps) -> None:
    bob = await apps.key("bob", "respond")
    iid = await apps.pending()
    lane, plain = await apps.both(
        f"/v1/interactions/{iid}/responses",
        json=_answer("boom"),
        headers={"Authorization": f"Bearer {bob}"},
    )
    _same(lane, plain)
    assert lane.status_code == 500 and "a bug" not in lane.text
    assert apps.requests(True, "500") == 1


async def test_other_paths_and_methods_go_on_to_fastapi(apps: Apps) -> None:
    bob = await apps.key("bob", "respond")
    iid = await apps.pending()
    headers = {"Authorization": f"Bearer {bob}"}
    client = apps.clients[True]
    malformed = await client.post(
        "/v1/interactions/not-a-uuid/responses", json=_answer(), headers=headers
    )
    assert malformed.status_code == 400 and malformed.json()["path"] == "interaction_id"
    undashed = f"/v1/interactions/{iid.hex}/responses"
    assert (
        await client.post(undashed, json=_answer(), headers=headers)
    ).status_code == 200  # a UUID without dashes: FastAPI's route takes it
    wrong_method = await client.put(f"/v1/interactions/{iid}/responses", json=_answer())
    assert wrong_method.status_code == 405
