"""Operations, from the broker's side: what it receives and what it sends."""

from typing import Any

from hitl_contract.asyncapi.shared import AMQP_BINDING
from hitl_contract.wire import PERSISTENT


def operations() -> dict[str, Any]:
    return {
        "receiveRequest": _receive(
            "brokerRequests",
            "interactionRequest",
            "A request becomes pending; it is acked once stored. Invalid "
            "requests are dead-lettered and reported as `rejected` events.",
            reply_at=("$message.payload#/reply_to", "Routing key on the outcomes exchange."),
            reply_to=("outcomes", "interactionOutcome"),
        ),
        "receiveResponse": _receive(
            "brokerResponses",
            "humanResponse",
            "An answer is checked against its request's kind; the first valid "
            "one resolves the interaction.",
            reply_at=("$message.header#/reply_to", "The AMQP reply_to property of the response."),
            reply_to=("receipts", "responseReceipt"),
        ),
        "receiveClaim": _receive(
            "brokerResponses",
            "interactionClaim",
            "A claim, renewal or release, applied with the same compare-and-set as an "
            "answer; refused (error code 'claimed') while someone else holds the interaction.",
            reply_at=("$message.header#/reply_to", "The AMQP reply_to property of the claim."),
            reply_to=("receipts", "responseReceipt"),
        ),
        "sendOutcome": _send(
            "outcomes",
            "interactionOutcome",
            "Exactly one outcome per interaction (rarely twice after a crash: "
            "dedupe on message_id). Unroutable: a copy is dead-lettered.",
        ),
        "sendNotification": _send(
            "notifications", "notification", "When a request becomes pending."
        ),
        "sendEvent": _send(
            "events",
            "lifecycleEvents",
            "Every step of every interaction: the events gathered over a short linger, "
            "one message per routing key.",
            mandatory=False,
        ),
        "sendReceipt": _send(
            "receipts",
            "responseReceipt",
            "For a response that carried an AMQP reply_to.",
            mandatory=False,
        ),
        "sendDeadLetter": _send(
            "deadLetters",
            "deadLetter",
            "A message hitl cannot use, with the reason in its headers.",
        ),
    }


def _ref(channel: str, message: str) -> dict[str, str]:
    return {"$ref": f"#/channels/{channel}/messages/{message}"}


def _send(
    channel: str, message: str, description: str, *, mandatory: bool = True
) -> dict[str, Any]:
    return {
        "action": "send",
        "channel": {"$ref": f"#/channels/{channel}"},
        "description": description,
        "messages": [_ref(channel, message)],
        "bindings": {
            "amqp": {
                "deliveryMode": PERSISTENT,
                "mandatory": mandatory,
                "bindingVersion": AMQP_BINDING,
            }
        },
    }


def _receive(
    channel: str,
    message: str,
    description: str,
    *,
    reply_at: tuple[str, str],
    reply_to: tuple[str, str],
) -> dict[str, Any]:
    """A consumed message; ``reply_at`` is (location, description) of the reply address,
    ``reply_to`` the (channel, message) the broker answers with."""
    location, where = reply_at
    reply_channel, reply_message = reply_to
    return {
        "action": "receive",
        "channel": {"$ref": f"#/channels/{channel}"},
        "description": description,
        "messages": [_ref(channel, message)],
        "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING}},
        "reply": {
            "address": {"location": location, "description": where},
            "channel": {"$ref": f"#/channels/{reply_channel}"},
            "messages": [_ref(reply_channel, reply_message)],
        },
    }
