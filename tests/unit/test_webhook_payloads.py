"""What a webhook receiver gets: the two events, with the contract models inside unchanged and
ids that stay the same across retries; signatures any Standard Webhooks receiver verifies."""

import base64
import time

import orjson
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from hitl.errors import ConfigError
from hitl.notifiers.webhooks import payloads
from hitl.notifiers.webhooks.signing import signature, signer
from hitl_contract import InteractionOutcome, Notification, NotifyReason
from tests import wire_check
from tests.webhooks import NEXT_SECRET, SECRET, notification, outcome


def test_a_notification_is_sent_whole_inside_a_typed_envelope() -> None:
    note = notification()
    event = payloads.requested(note)
    body = orjson.loads(event.body)
    assert body["type"] == "interaction.requested"
    assert body["interaction_id"] == str(note.interaction_id)
    assert Notification.model_validate(body["notification"]) == note
    assert not list(wire_check.validator("notification").iter_errors(body["notification"]))
    assert event.webhook_id == f"notification:{note.interaction_id}:requested:1"


def test_the_id_is_stable_for_a_notification_and_differs_for_a_reminder() -> None:
    note = notification()
    assert payloads.requested(note).webhook_id == payloads.requested(note).webhook_id
    reminder = note.model_copy(update={"reason": NotifyReason.REMINDER, "attempt": 2})
    assert payloads.requested(reminder).webhook_id.endswith(":reminder:2")


def test_a_settled_interaction_carries_its_outcome() -> None:
    result = outcome(notification().interaction_id)
    event = payloads.settled(result)
    body = orjson.loads(event.body)
    assert body["type"] == "interaction.settled"
    assert body["interaction_id"] == str(result.interaction_id)
    assert InteractionOutcome.model_validate(body["outcome"]) == result
    assert not list(wire_check.validator("interaction-outcome").iter_errors(body["outcome"]))
    assert event.webhook_id == f"outcome:{result.interaction_id}"


def test_one_signature_per_secret_each_verified_by_the_package() -> None:
    event = payloads.requested(notification())
    stamp = int(time.time())
    header = signature([signer(SECRET), signer(NEXT_SECRET)], event.webhook_id, stamp, event.body)
    assert [entry[:3] for entry in header.split(" ")] == ["v1,", "v1,"]
    headers = {
        "webhook-id": event.webhook_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": header,
    }
    for secret in (SECRET, NEXT_SECRET):
        assert Webhook(secret).verify(event.body, headers)["type"] == "interaction.requested"
    stranger = "whsec_" + base64.b64encode(b"some other secret").decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(stranger).verify(event.body, headers)


@pytest.mark.parametrize("secret", ["whsec_", "", "whsec_not base64!", "whsec_€€€€"])
def test_a_secret_that_is_no_key_is_refused_without_quoting_it(secret: str) -> None:
    with pytest.raises(ConfigError, match="signing secret 3 is not a whsec_ secret") as caught:
        signer(secret, 3)
    assert caught.value.__cause__ is None


def test_a_secret_without_the_whsec_prefix_is_the_same_key() -> None:
    bare = SECRET.removeprefix("whsec_")
    assert signature([signer(bare)], "a", 1, b"b") == signature([signer(SECRET)], "a", 1, b"b")
