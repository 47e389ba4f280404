"""The two events a webhook receiver gets, with the ``webhook-id`` each is sent under.

Both bodies are JSON objects with a ``type`` and the ``interaction_id``, so a receiver can tell
them apart and route them before reading further; the contract models ride inside unchanged
(as ``hitl_contract.wire.encode_model`` writes them), so they validate against the published
schemas in schemas/json. docs/channels-webhook.md shows both.

The ids are stable: a retry of the same event carries the same ``webhook-id``, so a receiver
that keeps the ids it has processed can drop a second copy.
"""

from dataclasses import dataclass

import orjson

from hitl_contract import InteractionOutcome, Notification
from hitl_contract.wire import encode_model, notification_message_id, outcome_message_id

REQUESTED = "interaction.requested"
SETTLED = "interaction.settled"


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    webhook_id: str
    body: bytes


def requested(notification: Notification) -> WebhookEvent:
    """``{"type": "interaction.requested", "interaction_id": ..., "notification": {...}}``:
    someone is asked for (a first notice, a reminder or an escalation, as ``reason`` says)."""
    interaction_id = str(notification.interaction_id)
    body = orjson.dumps(
        {
            "type": REQUESTED,
            "interaction_id": interaction_id,
            "notification": orjson.Fragment(encode_model(notification)),
        }
    )
    webhook_id = notification_message_id(interaction_id, notification.reason, notification.attempt)
    return WebhookEvent(webhook_id, body)


def settled(outcome: InteractionOutcome) -> WebhookEvent:
    """``{"type": "interaction.settled", "interaction_id": ..., "outcome": {...}}``: the
    interaction is decided, cancelled or timed out; nobody needs to answer it any more."""
    interaction_id = str(outcome.interaction_id)
    body = orjson.dumps(
        {
            "type": SETTLED,
            "interaction_id": interaction_id,
            "outcome": orjson.Fragment(encode_model(outcome)),
        }
    )
    return WebhookEvent(outcome_message_id(interaction_id), body)
