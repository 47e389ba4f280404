"""The REST API end to end: a real broker, a real gateway on a real port, RabbitMQ and Redis.

Interactions are asked by a producer over AMQP (the SDK) or over HTTP, answered over HTTP, and
their outcomes arrive where producers wait for them.
"""

import asyncio
import uuid
from typing import Any

import httpx

from hitl.broker.service import BrokerService
from hitl.gateway.service import GatewayService
from hitl.sdk import HitlClient
from tests.helpers import eventually, raw_request
from tests.integration.gateway.conftest import MakeKey, gateway_settings, http_client

PROBLEM = "application/problem+json"


async def ask(hitl: HitlClient, kind: str = "approval", **fields: Any) -> uuid.UUID:
    fields.setdefault("thread_id", "t-1")
    fields.setdefault("prompt", "Ship it?")
    request = hitl.new_request(kind, **fields)
    await hitl.submit(request)
    return request.id


async def stored(http: httpx.AsyncClient, iid: uuid.UUID) -> dict[str, Any]:
    """The interaction once the broker stored it."""
    found: dict[str, Any] = {}

    async def there() -> bool:
        response = await http.get(f"/v1/interactions/{iid}")
        found.update(response.json())
        return response.status_code == 200

    await eventually(there)
    return found


async def test_answer_over_http_reaches_the_producer(
    alice: httpx.AsyncClient, client: HitlClient
) -> None:
    iid = await ask(client, labels={"team": "ops"})
    await stored(alice, iid)
    response = await alice.post(
        f"/v1/interactions/{iid}/responses", json={"action": "approve", "data": {"reason": "ok"}}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"] == "accepted"
    assert body["outcome"]["action"] == "approve"
    assert body["outcome"]["decided_by"]["identity"]["id"] == "alice"
    assert body["outcome"]["decided_by"]["channel"] == "http"
    outcome = await client.wait(iid, timeout=10)
    assert outcome.action == "approve"
    assert outcome.decided_by.identity is not None
    assert outcome.decided_by.identity.id == "alice"
    assert str(outcome.response_id) == body["response_id"]


async def test_detail_shows_request_status_and_history(
    alice: httpx.AsyncClient, client: HitlClient
) -> None:
    iid = await ask(client, kind="choice", options=["a", "b"], timeout_seconds=600)
    pending = await stored(alice, iid)
    assert pending["status"] == "pending"
    assert pending["request"]["options"] == ["a", "b"]
    assert pending["version"] >= 1
    assert set(pending["timers"]) == {"timeout"}
    assert pending["deadline"] is not None
    assert pending["actions"] == ["choose", "cancel", "best_judgement"]
    assert [h["event"] for h in pending["history"]][:1] == ["requested"]

    response = await alice.post(
        f"/v1/interactions/{iid}/responses", json={"action": "choose", "data": {"choice": "b"}}
    )
    assert response.status_code == 200, response.text
    done = (await alice.get(f"/v1/interactions/{iid}")).json()
    assert done["status"] == "resolved"
    assert done["outcome"]["data"]["value"] == "b"
    assert done["actions"] == [] and done["deadline"] is None
    responded = [h for h in done["history"] if h["event"] == "responded"]
    assert responded[0]["by"]["id"] == "alice"
    assert responded[0]["channel"] == "http"
    assert done["history"][-1]["event"] == "resolved"


async def test_a_second_answer_is_a_409_with_the_recorded_outcome(
    alice: httpx.AsyncClient, gateway: GatewayService, make_key: MakeKey, client: HitlClient
) -> None:
    iid = await ask(client)
    await stored(alice, iid)
    first = await alice.post(f"/v1/interactions/{iid}/responses", json={"action": "reject"})
    assert first.status_code == 200
    async with client_for(gateway, await make_key("bob", "respond")) as bob:
        late = await bob.post(f"/v1/interactions/{iid}/responses", json={"action": "approve"})
    assert late.status_code == 409
    assert late.headers["content-type"] == PROBLEM
    problem = late.json()
    assert problem["outcome"]["action"] == "reject"
    assert problem["decided_by"] == problem["outcome"]["decided_by"]
    assert problem["decided_by"]["identity"]["id"] == "alice"
    assert problem["decided_by"]["channel"] == "http"
    assert problem["resolved_at"] == problem["outcome"]["resolved_at"]
    assert "alice" in problem["detail"] and "http" in problem["detail"]


async def test_the_same_answer_again_is_one_answer(
    alice: httpx.AsyncClient, client: HitlClient
) -> None:
    iid = await ask(client)
    await stored(alice, iid)
    answer = {"action": "approve", "response_id": str(uuid.uuid4())}
    first, again = await asyncio.gather(
        *(alice.post(f"/v1/interactions/{iid}/responses", json=answer) for _ in range(2))
    )
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["outcome"] == again.json()["outcome"]
    history = (await alice.get(f"/v1/interactions/{iid}")).json()["history"]
    assert [h["event"] for h in history].count("responded") == 1


async def test_an_invalid_answer_is_a_422_with_the_brokers_path_and_nothing_changes(
    alice: httpx.AsyncClient, client: HitlClient
) -> None:
    iid = await ask(client, kind="choice", options=["red", "green"])
    before = await stored(alice, iid)
    response = await alice.post(
        f"/v1/interactions/{iid}/responses", json={"action": "choose", "data": {"choice": "blue"}}
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "invalid_response"
    assert problem["path"] == "data.choice"
    assert problem["allowed"] == ["1: red", "2: green"]
    assert problem["got"] == "blue"
    after = (await alice.get(f"/v1/interactions/{iid}")).json()
    assert (after["status"], after["version"]) == ("pending", before["version"])

    form = await ask(
        client,
        kind="form",
        fields=[
            {"name": "qty", "type": "integer", "required": True},
            {"name": "size", "type": "enum", "options": ["s", "m"], "required": True},
        ],
    )
    await stored(alice, form)
    response = await alice.post(
        f"/v1/interactions/{form}/responses",
        json={"action": "submit", "data": {"answers": {"qty": "many", "size": "xl"}}},
    )
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert {e["path"] for e in errors} == {"data.answers.qty", "data.answers.size"}
    assert next(e for e in errors if e["path"] == "data.answers.size")["allowed"] == ["s", "m"]


async def test_a_vote_is_a_202_until_the_quorum_decides(
    gateway: GatewayService, make_key: MakeKey, client: HitlClient
) -> None:
    iid = await ask(client, responders=["ann", "ben"], decision={"policy": "all_of"})
    async with (
        client_for(gateway, await make_key("ann", "read", "respond")) as ann,
        client_for(gateway, await make_key("ben", "respond")) as ben,
    ):
        await stored(ann, iid)
        vote = await ann.post(f"/v1/interactions/{iid}/responses", json={"action": "approve"})
        assert vote.status_code == 202, vote.text
        assert vote.json()["result"] == "recorded" and vote.json()["outcome"] is None
        decided = await ben.post(f"/v1/interactions/{iid}/responses", json={"action": "approve"})
        assert decided.status_code == 200, decided.text
        assert decided.json()["outcome"]["decided_by"]["type"] == "responders"
        votes = (await ann.get(f"/v1/interactions/{iid}")).json()["outcome"]["votes"]
        assert sorted(v["responder"]["id"] for v in votes) == ["ann", "ben"]


async def test_cancel_over_http(alice: httpx.AsyncClient, client: HitlClient) -> None:
    iid = await ask(client)
    await stored(alice, iid)
    response = await alice.post(f"/v1/interactions/{iid}/cancel", json={"reason": "not needed"})
    assert response.status_code == 200, response.text
    assert response.json()["outcome"]["status"] == "cancelled"
    assert response.json()["outcome"]["data"] == {"reason": "not needed"}
    outcome = await client.wait(iid, timeout=10)
    assert outcome.status == "cancelled"
    other = await ask(client)
    await stored(alice, other)
    bare = await alice.post(f"/v1/interactions/{other}/cancel")  # the body is optional
    assert bare.status_code == 200, bare.text


async def test_create_over_http_then_long_poll_for_the_outcome(
    alice: httpx.AsyncClient, gateway: GatewayService, make_key: MakeKey
) -> None:
    body = raw_request(thread_id="http-thread")
    del body["id"], body["reply_to"], body["requester"]
    created = await alice.post("/v1/interactions", json=body)
    assert created.status_code == 202, created.text
    iid = created.json()["id"]
    assert created.headers["location"] == f"/v1/interactions/{iid}"
    detail = await stored(alice, uuid.UUID(iid))
    assert detail["request"]["requester"]["id"] == "alice"
    assert detail["request"]["reply_to"] == "http"

    async with client_for(gateway, await make_key("bob", "respond")) as bob:

        async def answer_soon() -> httpx.Response:
            await asyncio.sleep(0.3)
            return await bob.post(f"/v1/interactions/{iid}/responses", json={"action": "approve"})

        again = {**body, "id": iid}
        waited, answered = await asyncio.gather(
            alice.post("/v1/interactions", json=again, params={"wait": 5}), answer_soon()
        )
    assert answered.status_code == 200
    assert waited.status_code == 201, waited.text  # the same request again: idempotent
    assert waited.json()["outcome"]["action"] == "approve"


async def test_create_with_wait_returns_the_outcome(alice: httpx.AsyncClient) -> None:
    body = raw_request(auto_approve=True)
    del body["requester"], body["reply_to"]
    created = await alice.post("/v1/interactions", json=body, params={"wait": 5})
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "resolved"
    assert created.json()["outcome"]["decided_by"]["type"] == "policy"


async def test_create_reusing_an_id_for_another_request_is_a_409(
    alice: httpx.AsyncClient,
) -> None:
    body = raw_request()
    created = await alice.post("/v1/interactions", json=body)
    assert created.status_code == 202
    await stored(alice, uuid.UUID(body["id"]))
    conflict = await alice.post("/v1/interactions", json={**body, "prompt": "Something else?"})
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "id_conflict"
    assert conflict.json()["path"] == "id"


async def test_create_is_validated_as_the_broker_does(alice: httpx.AsyncClient) -> None:
    bad = raw_request(kind="choice", options=[])
    response = await alice.post("/v1/interactions", json=bad)
    assert response.status_code == 422, response.text
    assert response.json()["path"] == "options"
    assert response.json()["code"] == "invalid_field"
    unknown_kind = await alice.post("/v1/interactions", json=raw_request(kind="poll"))
    assert unknown_kind.status_code == 422
    assert unknown_kind.json()["code"] == "unknown_kind"
    assert "approval" in unknown_kind.json()["allowed"]
    assert unknown_kind.json()["got"] == "poll"


async def test_listing_filters_and_pages(
    alice: httpx.AsyncClient, client: HitlClient, broker: BrokerService
) -> None:
    ids = [
        await ask(client, thread_id=f"page-{i % 2}", labels={"n": str(i), "env": "prod"})
        for i in range(7)
    ]
    choice = await ask(client, kind="choice", options=["x"], node_name="router")
    await stored(alice, choice)
    for iid in ids:
        await stored(alice, iid)

    seen: list[str] = []
    cursor = None
    params: dict[str, Any] = {
        "kind": "approval",
        "label": "env=prod",
        "limit": 3,
        "order": "oldest",
    }
    while True:
        page = await alice.get(
            "/v1/interactions", params={**params, "cursor": cursor} if cursor else params
        )
        assert page.status_code == 200, page.text
        seen += [item["id"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(i) for i in ids]

    newest = (await alice.get("/v1/interactions", params={"limit": 2})).json()["items"]
    assert [i["id"] for i in newest] == [str(choice), str(ids[-1])]
    item = newest[0]
    assert item["node_name"] == "router" and item["status"] == "pending"
    assert item["time_left_seconds"] is None and item["time_waiting_seconds"] >= 0
    assert item["actions"] == ["choose", "cancel", "best_judgement"]

    by_thread = await alice.get("/v1/interactions", params={"thread_id": "page-1"})
    assert {i["id"] for i in by_thread.json()["items"]} == {str(i) for i in ids[1::2]}
    by_label = await alice.get("/v1/interactions", params=[("label", "n=3"), ("label", "env=prod")])
    assert [i["id"] for i in by_label.json()["items"]] == [str(ids[3])]
    by_node = await alice.get("/v1/interactions", params={"node": "router"})
    assert [i["id"] for i in by_node.json()["items"]] == [str(choice)]
    by_requester = await alice.get("/v1/interactions", params={"requester": "nobody"})
    assert by_requester.json() == {"items": [], "next_cursor": None}

    await alice.post(f"/v1/interactions/{ids[0]}/responses", json={"action": "approve"})
    resolved = await alice.get("/v1/interactions", params={"status": "resolved"})
    assert [i["id"] for i in resolved.json()["items"]] == [str(ids[0])]
    assert resolved.json()["items"][0]["actions"] == []


async def test_waiting_for_me(
    gateway: GatewayService, make_key: MakeKey, client: HitlClient
) -> None:
    mine = await ask(client, responders=["carol"])
    for_group = await ask(client, responders=["group:finance"])
    anyone = await ask(client)
    not_mine = await ask(client, responders=["dave"])
    async with client_for(gateway, await make_key("carol", "read", groups=["finance"])) as carol:
        for iid in (mine, for_group, anyone, not_mine):
            await stored(carol, iid)
        page = await carol.get("/v1/interactions", params={"waiting_for": "me"})
    assert {i["id"] for i in page.json()["items"]} == {str(mine), str(for_group), str(anyone)}


async def test_thread_pending(alice: httpx.AsyncClient, client: HitlClient) -> None:
    first = await ask(
        client, thread_id="chat-9", kind="form", fields=[{"name": "x", "type": "string"}]
    )
    second = await ask(client, thread_id="chat-9")
    await ask(client, thread_id="chat-10")
    for iid in (first, second):
        await stored(alice, iid)
    thread = (await alice.get("/v1/threads/chat-9/pending")).json()
    assert thread["pending"] is True
    assert [i["id"] for i in thread["items"]] == [str(first), str(second)]
    await alice.post(f"/v1/interactions/{first}/cancel")
    await alice.post(f"/v1/interactions/{second}/cancel")
    assert (await alice.get("/v1/threads/chat-9/pending")).json() == {
        "thread_id": "chat-9",
        "pending": False,
        "items": [],
        "next_cursor": None,
    }


async def test_thread_pending_of_a_thread_id_with_slashes(
    alice: httpx.AsyncClient, client: HitlClient
) -> None:
    # Thread ids are any text (a workflow's "run/42/step"): percent-encoded, they are found.
    iid = await ask(client, thread_id="run/42/step")
    await stored(alice, iid)
    thread = (await alice.get("/v1/threads/run%2F42%2Fstep/pending")).json()
    assert thread["thread_id"] == "run/42/step"
    assert [i["id"] for i in thread["items"]] == [str(iid)]
    metrics = (await alice.get("/metrics")).text  # labelled by the template the API documents
    assert 'route="/v1/threads/{thread_id}/pending",status="200"' in metrics


async def test_thread_pending_of_a_thread_id_with_a_line_break(
    alice: httpx.AsyncClient, client: HitlClient
) -> None:
    # Any text, control characters too (schemathesis found a 404 here once).
    iid = await ask(client, thread_id="line\nbreak\x01")
    await stored(alice, iid)
    thread = (await alice.get("/v1/threads/line%0Abreak%01/pending")).json()
    assert thread["thread_id"] == "line\nbreak\x01"
    assert [i["id"] for i in thread["items"]] == [str(iid)]


async def test_no_receipt_in_time_is_a_504_that_says_how_to_check(
    namespace: str, make_key: MakeKey, client: HitlClient, broker: BrokerService
) -> None:
    impatient = GatewayService(gateway_settings(namespace, gateway_receipt_timeout_seconds=0.5))
    await impatient.start()
    try:
        async with client_for(impatient, await make_key("alice", "read", "respond")) as http:
            iid = await ask(client)
            await stored(http, iid)
            await broker.stop()  # nobody will answer: the answer waits in the broker's queue
            response = await http.post(
                f"/v1/interactions/{iid}/responses", json={"action": "approve"}
            )
    finally:
        await impatient.stop()
    assert response.status_code == 504
    problem = response.json()
    assert f"/v1/interactions/{iid}" in problem["detail"]
    assert problem["response_id"] in problem["detail"]


def client_for(gateway: GatewayService, token: str) -> httpx.AsyncClient:
    return http_client(gateway, token)
