"""docs/channels-webhook.md says what the webhook channel does: its config snippets load, its
payloads are valid hitl messages, its receiver example verifies what the channel really sends
(and refuses a forgery), and its refusal message is the channel's."""

import ipaddress
import os
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from hitl.core.routing.config import WebhookReceiver
from hitl.errors import Permanent
from hitl.notifiers.channels.webhook import WebhookChannel
from hitl.notifiers.secrets import EnvOrFileSecrets
from hitl.notifiers.webhooks.destinations import IPAddress, checked_addresses
from hitl_contract import InteractionOutcome, Notification
from tests import wire_check
from tests.webhooks import SECRET, notification, outcome, recording_server

DOC = Path(__file__).resolve().parents[2] / "docs" / "channels-webhook.md"


def fenced(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_config_snippets_make_webhook_receivers() -> None:
    config, rotation = fenced("yaml")
    [receiver] = yaml.safe_load(config)["receivers"]
    assert WebhookReceiver.model_validate(receiver).timeout == 5.0
    rotating = {**receiver, "secret": None, **yaml.safe_load(textwrap.dedent(rotation))}
    assert len(WebhookReceiver.model_validate(rotating).signing_secrets) == 2


def test_the_payloads_shown_are_valid_hitl_messages() -> None:
    requested, settled = (orjson.loads(block) for block in fenced("json"))
    assert requested["type"] == "interaction.requested"
    note = Notification.model_validate(requested["notification"])
    assert str(note.interaction_id) == requested["interaction_id"]
    assert settled["type"] == "interaction.settled"
    result = InteractionOutcome.model_validate(settled["outcome"])
    assert str(result.interaction_id) == settled["interaction_id"]
    for name, body in (("notification", requested["notification"]), ("interaction-outcome", settled["outcome"])):  # fmt: skip
        assert not list(wire_check.validator(name).iter_errors(body))


async def test_the_receiver_example_takes_what_the_channel_sends(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HITL_WEBHOOK_SECRET", SECRET)
    example = fenced("python")[0]  # the receiver; the second block sends answers back
    scope: dict[str, Any] = {}
    exec(compile(example, str(DOC), "exec"), scope)  # the doc's own code
    hooks = WebhookChannel(secrets=EnvOrFileSecrets(os.environ | {"HOOK": SECRET}))
    note = notification()
    async with recording_server() as server:
        receiver = WebhookReceiver.model_validate(
            {"type": "webhook", "name": "doc", "url": server.url, "secret": {"env": "HOOK"},
             "allow_private": True}
        )  # fmt: skip
        sent = await hooks.send(receiver, note)
        await hooks.update(receiver, sent, outcome(note.interaction_id))
    await hooks.close()
    asked, settled = server.received
    assert scope["receive"](asked.body, asked.headers) == 204
    assert scope["receive"](settled.body, settled.headers) == 204
    forged = asked.body.replace(b"Deploy", b"Delete")
    assert scope["receive"](forged, asked.headers) == 401
    assert capsys.readouterr().out.splitlines() == [
        f"asked: Deploy api 1.4 to production? ({asked.headers['webhook-id']})",
        f"settled: {note.interaction_id} resolved approve",
    ]


async def test_the_refusal_shown_is_the_one_the_channel_gives() -> None:
    [shown] = fenced("text")

    async def private(host: str, port: int) -> Sequence[IPAddress]:
        return [ipaddress.ip_address("10.0.4.2")]

    with pytest.raises(Permanent) as caught:
        await checked_addresses("hooks.example.com", 443, private, allow_private=False)
    assert str(caught.value) == shown.strip()
