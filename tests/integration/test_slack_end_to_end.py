"""Slack end to end: a broker routes requests to a Slack receiver, the Slack notifier posts
Block Kit messages to a local stand-in for Slack's Web API (slack_sdk with base_url), and
interactions shaped and signed like Slack's come back to the gateway's interactivity
endpoint: a button answers as the Slack user's mapped identity, a modal takes typed answers
and shows the broker's errors per field, the message is chat.update'd once decided. Forged,
stale and replayed signatures get 401, a malformed payload 400, an unmapped user is told so;
none of them changes anything. A Web API that fails is retried, then the fallback is used."""

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import orjson
import pytest

from hitl.broker.service import BrokerService
from hitl.gateway.service import GatewayService
from hitl.notifiers.channels.slack import SlackChannel
from hitl.notifiers.service import NotifierService
from hitl.runtime.stores import redis_store
from hitl.sdk import HitlClient
from hitl.sdk.responder import Responder
from hitl.settings import Settings
from hitl_contract import Identity
from tests.helpers import eventually
from tests.served import serve
from tests.servers import AMQP_URL, test_settings
from tests.slack_standin import (
    CHANNEL_ID,
    SIGNING_SECRET,
    TOKEN,
    StandIn,
    block_actions,
    sign,
    signed,
    view_submission,
)

pytestmark = pytest.mark.slow
ANA, STRANGER = "U0ANA1234", "U0NOBODY9"


def routing(api: str) -> str:
    return f"""\
receivers:
  - name: ops-slack
    type: slack
    channel: "#ops"
    token: {{env: HITL_TEST_SLACK_TOKEN}}
    signing_secret: {{env: HITL_TEST_SLACK_SIGNING}}
    users: {{{ANA}: {{id: ana, groups: [ops]}}}}
    api_url: {api}/api/
    timeout: 2s
  - name: broken-slack
    type: slack
    channel: "#gone"
    token: {{env: HITL_TEST_WRONG_TOKEN}}
    api_url: {api}/api/
route:
  receivers: [ops-slack]
  routes:
    - {{matchers: [team=broken], receivers: [broken-slack], fallback: ops-slack}}
"""


@dataclass
class Stack:
    settings: Settings
    broker: BrokerService
    gateway: GatewayService
    slack: StandIn

    async def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        async with httpx.AsyncClient(timeout=15) as http:
            url = f"http://127.0.0.1:{self.gateway.port}/slack/interactivity"
            return await http.post(url, content=body, headers=headers)

    async def outcome(self, iid: UUID) -> Any:
        assert self.broker.store is not None
        state = await self.broker.store.load(iid)
        return None if state is None else state.outcome

    async def history(self, iid: UUID) -> list[tuple[str, str | None]]:
        store = redis_store(await self.broker.host.redis(), self.settings)
        return [(h.event, h.receiver) for h in await store.history(iid)]


@pytest.fixture
async def stack(
    namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Stack]:
    monkeypatch.setenv("HITL_TEST_SLACK_TOKEN", TOKEN)
    monkeypatch.setenv("HITL_TEST_WRONG_TOKEN", "xoxb-revoked")
    monkeypatch.setenv("HITL_TEST_SLACK_SIGNING", SIGNING_SECRET)
    standin = StandIn()
    async with serve(standin.app()) as api:
        path = tmp_path / "routing.yaml"
        path.write_text(routing(api))
        settings = test_settings(
            namespace, routing_file=str(path), notifier_attempts=2,
            notifier_retry_cap_seconds=0.05, gateway_port=0,
            gateway_public_url="https://hitl.example.com", gateway_receipt_timeout_seconds=5.0,
        )  # fmt: skip
        broker = BrokerService(settings)
        notifier = NotifierService(settings, SlackChannel.from_settings(settings))
        gateway = GatewayService(settings)
        await broker.start()
        await gateway.start()
        await notifier.start()
        try:
            yield Stack(settings, broker, gateway, standin)
        finally:
            await notifier.stop()
            await gateway.stop()
            await broker.stop()


async def ask(client: HitlClient, kind: str = "approval", **fields: Any) -> UUID:
    request = client.new_request(kind, thread_id="deploy-9", prompt="Deploy <!channel> api?",
                                 **fields)  # fmt: skip
    await client.submit(request)
    return request.id


def button(stack: Stack, label: str, n: int = 0) -> dict[str, Any]:
    [actions] = [b for b in stack.slack.of("chat.postMessage")[n].args["blocks"]
                 if b["type"] == "actions"]  # fmt: skip
    [found] = [e for e in actions["elements"] if e["text"]["text"] == label]
    return found


async def posted(stack: Stack, count: int = 1) -> None:
    await eventually(lambda: len(stack.slack.of("chat.postMessage")) >= count)


async def test_a_button_answers_as_the_mapped_user_and_the_message_is_updated(
    stack: Stack, client: HitlClient
) -> None:
    iid = await ask(client, responders=["group:ops"])
    await posted(stack)
    [post] = stack.slack.of("chat.postMessage")
    assert post.token == TOKEN
    assert post.args["channel"] == "#ops"
    assert "&lt;!channel&gt;" in orjson.dumps(post.args["blocks"]).decode()  # no mention
    approve = button(stack, "Approve")
    assert approve["style"] == "primary"

    response = await stack.post(*signed(block_actions(ANA, approve)))
    assert response.status_code == 200
    outcome = await stack.outcome(iid)
    assert outcome is not None and outcome.action == "approve"
    assert outcome.decided_by.identity.id == "ana"
    assert outcome.decided_by.channel == "slack:ops-slack"

    await eventually(lambda: len(stack.slack.of("chat.update")) == 1)
    [update] = stack.slack.of("chat.update")
    assert (update.args["channel"], update.args["ts"]) == (CHANNEL_ID, "1700000000.000001")
    assert not [b for b in update.args["blocks"] if b["type"] == "actions"]
    assert "approved by ana via slack:ops-slack" in update.args["text"]
    await eventually(lambda: len(stack.slack.of("chat.postEphemeral")) == 1)
    assert stack.slack.of("chat.postEphemeral")[0].args["user"] == ANA
    await eventually(lambda: _has(stack, iid, ("updated", "ops-slack")))

    # A later click on the stale message decides nothing and says who decided.
    again = await stack.post(*signed(block_actions(ANA, button(stack, "Reject"))))
    assert again.status_code == 200
    await eventually(lambda: len(stack.slack.of("chat.postEphemeral")) == 2)
    assert (
        "Already settled: approved by ana" in stack.slack.of("chat.postEphemeral")[1].args["text"]
    )
    assert (await stack.outcome(iid)).action == "approve"


async def test_forged_stale_replayed_and_malformed_requests_change_nothing(
    stack: Stack, client: HitlClient
) -> None:
    iid = await ask(client)
    await posted(stack)
    approve = block_actions(ANA, button(stack, "Approve"))
    forged = await stack.post(*signed(approve, secret="not the app's signing secret"))
    stale = await stack.post(*signed(approve, at=time.time() - 301))
    body, headers = signed(approve)
    tampered = await stack.post(body.replace(b"approve", b"reject_"), headers)
    unsigned = await stack.post(body, {"content-type": headers["content-type"]})
    assert [r.status_code for r in (forged, stale, tampered, unsigned)] == [401] * 4
    assert await stack.outcome(iid) is None

    garbage = b"payload=%7Bnot+json"
    assert (await stack.post(garbage, sign(garbage))).status_code == 400
    no_user = b"payload=" + orjson.dumps({"type": "block_actions", "actions": [{}]})
    assert (await stack.post(no_user, sign(no_user))).status_code == 400
    assert await stack.outcome(iid) is None

    first = await stack.post(body, headers)
    replayed = await stack.post(body, headers)
    assert (first.status_code, replayed.status_code) == (200, 401)
    assert (await stack.outcome(iid)).action == "approve"


async def test_an_unmapped_user_is_told_so_and_nothing_changes(
    stack: Stack, client: HitlClient
) -> None:
    iid = await ask(client)
    await posted(stack)
    response = await stack.post(*signed(block_actions(STRANGER, button(stack, "Approve"))))
    assert response.status_code == 200
    await eventually(lambda: len(stack.slack.of("chat.postEphemeral")) == 1)
    [told] = stack.slack.of("chat.postEphemeral")
    assert told.args["user"] == STRANGER
    assert "not mapped to a hitl identity" in told.args["text"]
    assert await stack.outcome(iid) is None


async def test_a_form_is_typed_in_a_modal_with_the_brokers_errors_per_field(
    stack: Stack, client: HitlClient
) -> None:
    fields = [
        {"name": "amount", "type": "integer", "required": True, "minimum": 1, "maximum": 100},
        {"name": "region", "type": "enum", "options": ["eu", "us"], "required": True},
    ]
    iid = await ask(client, "form", fields=fields)
    await posted(stack)
    opener = button(stack, "Fill in…")
    assert (await stack.post(*signed(block_actions(ANA, opener)))).status_code == 200
    [opened] = stack.slack.of("views.open")
    view = opened.args["view"]
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == [
        "data.answers.amount",
        "data.answers.region",
    ]

    def values(amount: str) -> dict[str, Any]:
        return {
            "data.answers.amount": {"value": {"type": "number_input", "value": amount}},
            "data.answers.region": {"value": {"type": "static_select",
                                              "selected_option": {"value": "eu"}}},
        }  # fmt: skip

    refused = await stack.post(*signed(view_submission(ANA, view, values("500"))))
    assert refused.status_code == 200
    assert refused.json()["response_action"] == "errors"
    assert "at most 100" in refused.json()["errors"]["data.answers.amount"]
    assert await stack.outcome(iid) is None

    taken = await stack.post(*signed(view_submission(ANA, view, values("42"))))
    assert (taken.status_code, taken.content) == (200, b"")
    outcome = await stack.outcome(iid)
    assert outcome is not None and outcome.data == {"answers": {"amount": 42, "region": "eu"}}
    await eventually(lambda: len(stack.slack.of("chat.update")) == 1)


async def test_feedback_for_revise_is_required_in_its_modal(
    stack: Stack, client: HitlClient
) -> None:
    iid = await ask(client, "confirmation", summary="Build the **thing**")
    await posted(stack)
    blocks = stack.slack.of("chat.postMessage")[0].args["blocks"]
    actions = next(b for b in blocks if b["type"] == "actions")
    labels = [e["text"]["text"] for e in actions["elements"]]
    assert labels == ["Proceed", "Cancel", "Revise…", "Claim"]
    await stack.post(*signed(block_actions(ANA, button(stack, "Revise…"))))
    view = stack.slack.of("views.open")[0].args["view"]
    empty = {"data.feedback": {"value": {"type": "plain_text_input", "value": "  "}}}
    refused = await stack.post(*signed(view_submission(ANA, view, empty)))
    assert "needs feedback" in refused.json()["errors"]["data.feedback"]
    given = {"data.feedback": {"value": {"type": "plain_text_input", "value": "smaller"}}}
    assert (await stack.post(*signed(view_submission(ANA, view, given)))).status_code == 200
    outcome = await stack.outcome(iid)
    assert (outcome.action, outcome.data) == ("revise", {"feedback": "smaller"})


async def test_a_failing_web_api_is_retried_then_the_fallback_is_used(
    stack: Stack, client: HitlClient
) -> None:
    iid = await ask(client, labels={"team": "broken"})
    await eventually(lambda: len(stack.slack.of("chat.postMessage")) == 2)
    wrong, fallback = stack.slack.of("chat.postMessage")
    assert (wrong.token, fallback.token) == ("xoxb-revoked", TOKEN)
    history = await stack.history(iid)
    assert history.count(("delivery_failed", "broken-slack")) == 1  # invalid_auth: permanent
    assert ("fell_back", "broken-slack") in history

    stack.slack.fail_with = (503, {"ok": False, "error": "service_unavailable"})
    iid2 = await ask(client)
    await eventually(lambda: _has(stack, iid2, ("undelivered", "ops-slack")))
    assert (await stack.history(iid2)).count(("delivery_failed", "ops-slack")) == 2


async def _has(stack: Stack, iid: UUID, entry: tuple[str, str | None]) -> bool:
    return entry in await stack.history(iid)


async def test_the_claim_button_claims_and_the_message_shows_who_until_released(
    stack: Stack, client: HitlClient
) -> None:
    iid = await ask(client, responders=["group:ops"])
    await posted(stack)
    assert (
        await stack.post(*signed(block_actions(ANA, button(stack, "Claim"))))
    ).status_code == 200
    assert stack.broker.store is not None
    state = await stack.broker.store.load(iid)
    assert state is not None and state.claim is not None and state.claim.holder.id == "ana"

    await eventually(lambda: len(stack.slack.of("chat.update")) == 1)
    [update] = stack.slack.of("chat.update")
    assert (update.args["channel"], update.args["ts"]) == (CHANNEL_ID, "1700000000.000001")
    shown = orjson.dumps(update.args["blocks"]).decode()
    until = state.claim.until.strftime("%Y-%m-%d %H:%M UTC")
    assert f"Claimed by ana until {until}" in shown
    assert "Approve" in shown  # still answerable: the buttons stay
    await eventually(lambda: len(stack.slack.of("chat.postEphemeral")) == 1)
    told = stack.slack.of("chat.postEphemeral")[0].args
    assert told["user"] == ANA and told["text"].startswith(f"Claimed by ana until {until}")

    # Someone not mapped is told so; nothing changes.
    assert (await stack.post(*signed(block_actions(STRANGER, button(stack, "Claim"))))).status_code
    await eventually(lambda: len(stack.slack.of("chat.postEphemeral")) == 2)
    assert "not mapped" in stack.slack.of("chat.postEphemeral")[1].args["text"]

    # Released by its holder (through the SDK): the message loses the line.
    async with Responder.connect(AMQP_URL, namespace=stack.settings.namespace) as responder:
        receipt = await responder.release(iid, Identity(id="ana", groups=["ops"]))
    assert receipt is not None and receipt.result == "accepted" and receipt.claim is None
    await eventually(lambda: len(stack.slack.of("chat.update")) == 2)
    assert (
        "Claimed by" not in orjson.dumps(stack.slack.of("chat.update")[1].args["blocks"]).decode()
    )
