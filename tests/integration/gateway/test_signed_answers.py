"""Answers a webhook receiver posts back, signed with its secret (Standard Webhooks), on a
real gateway and broker: taken as the named responder's through channel webhook:<receiver>;
forged, stale, replayed, unsigned and ill-fitting requests refused with nothing changed."""

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest
from standardwebhooks import Webhook

from hitl.broker.service import BrokerService
from hitl.errors import TransportError
from hitl.gateway.service import GatewayService
from hitl.sdk import HitlClient
from hitl.settings import Settings
from tests.integration.gateway.conftest import gateway_settings, http_client
from tests.webhooks import NEXT_SECRET, SECRET

ROUTING = """\
receivers:
  - {name: bot, type: webhook, url: "https://bot.example.com/hook",
     secrets: [{env: HITL_TEST_BOT_SECRET}, {env: HITL_TEST_BOT_NEXT}]}
  - {name: unsigned, type: webhook, url: "https://other.example.com/hook"}
route:
  receivers: [bot]
"""


@pytest.fixture
def settings(namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("HITL_TEST_BOT_SECRET", SECRET)
    monkeypatch.setenv("HITL_TEST_BOT_NEXT", NEXT_SECRET)
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING)
    return gateway_settings(namespace, routing_file=str(path))


@pytest.fixture
async def http(gateway: GatewayService) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(gateway) as client:
        yield client


def signed(body: dict, secret: str = SECRET, *, webhook_id: str | None = None,
           at: float | None = None) -> tuple[bytes, dict[str, str]]:  # fmt: skip
    data = orjson.dumps(body)
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    stamp = datetime.fromtimestamp(at or time.time(), UTC)
    signature = Webhook(secret).sign(webhook_id, stamp, data.decode())
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
    return data, headers


async def ask(client: HitlClient, **fields) -> uuid.UUID:
    request = client.new_request("approval", thread_id="t", prompt="Ship it?", **fields)
    await client.submit(request)
    return request.id


async def pending(http: httpx.AsyncClient, broker: BrokerService, iid: uuid.UUID) -> None:
    assert broker.store is not None
    for _ in range(200):
        if await broker.store.load(iid) is not None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("never stored")


def answer(iid: uuid.UUID, **extra) -> dict:
    return {"type": "interaction.answer", "interaction_id": str(iid), "action": "approve",
            "data": {"reason": "ok"}, "responder": {"id": "dana", "groups": ["ops"]}, **extra}  # fmt: skip


async def test_a_signed_answer_decides_as_the_named_responder(
    http: httpx.AsyncClient, client: HitlClient, broker: BrokerService
) -> None:
    iid = await ask(client)
    await pending(http, broker, iid)
    body, headers = signed(answer(iid), NEXT_SECRET)  # the second secret of a rotation works
    reply = await http.post("/v1/webhooks/bot/answers", content=body, headers=headers)
    assert reply.status_code == 200, reply.text
    outcome = reply.json()["outcome"]
    assert outcome["decided_by"]["identity"]["id"] == "dana"
    assert outcome["decided_by"]["channel"] == "webhook:bot"
    again = await http.post("/v1/webhooks/bot/answers", content=body, headers=headers)
    assert again.status_code == 401 and "ReplayedWebhook" in again.json()["detail"]


@pytest.mark.parametrize(
    ("tamper", "says"),
    [
        ("forged", "ForgedWebhook"),
        ("stale", "StaleWebhook"),
        ("unsigned", "MalformedWebhook"),
        ("body changed", "ForgedWebhook"),
    ],
)
async def test_forged_stale_and_unsigned_answers_change_nothing(
    http: httpx.AsyncClient, client: HitlClient, broker: BrokerService, tamper: str, says: str
) -> None:
    iid = await ask(client)
    await pending(http, broker, iid)
    secret = (
        "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=" if tamper == "forged" else SECRET
    )
    body, headers = signed(answer(iid), secret, at=time.time() - 600 if tamper == "stale" else None)
    if tamper == "unsigned":
        headers.pop("webhook-signature")
    if tamper == "body changed":
        body = body.replace(b"dana", b"mallory")
    reply = await http.post("/v1/webhooks/bot/answers", content=body, headers=headers)
    assert reply.status_code == 401 and says in reply.json()["detail"]
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert broker.store is not None
    state = await broker.store.load(iid)
    assert state is not None and state.is_pending


async def test_unknown_receivers_and_bodies_that_do_not_fit(
    http: httpx.AsyncClient, client: HitlClient, broker: BrokerService
) -> None:
    iid = await ask(client, responders=["erin"])
    await pending(http, broker, iid)
    for receiver in ("nobody", "unsigned"):
        body, headers = signed(answer(iid))
        reply = await http.post(f"/v1/webhooks/{receiver}/answers", content=body, headers=headers)
        assert reply.status_code == 404 and reply.json()["got"] == receiver
    body, headers = signed(answer(iid, colour="red"))
    reply = await http.post("/v1/webhooks/bot/answers", content=body, headers=headers)
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["path"] == "colour"
    body, headers = signed(answer(iid))  # dana may not answer: erin only
    reply = await http.post("/v1/webhooks/bot/answers", content=body, headers=headers)
    assert reply.status_code == 403 and reply.json()["got"] == "dana"
    assert broker.store is not None
    state = await broker.store.load(iid)
    assert state is not None and state.is_pending


async def test_the_sender_in_docs_channels_webhook_is_answered(
    gateway: GatewayService, client: HitlClient, broker: BrokerService,
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    doc = (Path(__file__).parents[3] / "docs" / "channels-webhook.md").read_text()
    sender = re.findall(r"```python\n(.*?)```", doc, flags=re.DOTALL)[1]
    scope: dict = {}
    exec(compile(sender, "send_answer.py", "exec"), scope)  # the doc's own code
    monkeypatch.setenv("HITL_WEBHOOK_SECRET", SECRET)
    iid = await ask(client)
    await pending(http, broker, iid)
    reply = await asyncio.to_thread(
        scope["send_answer"], f"http://127.0.0.1:{gateway.port}", "bot", str(iid), "reject",
        "dana", {"reason": "not today"},
    )  # fmt: skip
    assert reply.status_code == 200, reply.text
    assert reply.json()["outcome"]["data"] == {"reason": "not today"}


async def test_a_signed_answer_that_met_an_outage_can_be_sent_again_as_it_was(
    gateway: GatewayService, http: httpx.AsyncClient, client: HitlClient, broker: BrokerService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # A 503 says "try again": a sender retrying the very same signed request (the same
    # webhook-id, as Standard Webhooks senders do) must not be refused as a replay.
    iid = await ask(client)
    await pending(http, broker, iid)
    assert gateway._server is not None
    reads = gateway._server.config.app.state.context.reads
    read = reads.answerers  # the store read an answer starts with

    async def down(interaction_id: uuid.UUID) -> None:
        raise TransportError("Redis read failed: connection refused")

    monkeypatch.setattr(reads, "answerers", down)
    body, headers = signed(answer(iid))
    reply = await http.post("/v1/webhooks/bot/answers", content=body, headers=headers)
    assert reply.status_code == 503, reply.text
    monkeypatch.setattr(reads, "answerers", read)
    again = await http.post("/v1/webhooks/bot/answers", content=body, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["outcome"]["decided_by"]["identity"]["id"] == "dana"
    replayed = await http.post("/v1/webhooks/bot/answers", content=body, headers=headers)
    assert replayed.status_code == 401 and "ReplayedWebhook" in replayed.json()["detail"]


async def test_a_receiver_may_not_answer_as_the_requester(
    http: httpx.AsyncClient, client: HitlClient, broker: BrokerService
) -> None:
    iid = await ask(client, responders=["ana", "ben"], decision={"policy": "all_of"})
    await pending(http, broker, iid)
    requester = client.identity.id
    body, headers = signed(answer(iid, responder={"id": requester}))
    reply = await http.post("/v1/webhooks/bot/answers", content=body, headers=headers)
    assert reply.status_code == 403 and reply.json()["got"] == requester
    assert "may not answer as the requester" in reply.json()["detail"]
    assert broker.store is not None
    state = await broker.store.load(iid)
    assert state is not None and state.is_pending
