"""Channels: every exchange (with its routing key) and every queue (with its arguments)."""

from typing import Any

from hitl_contract.asyncapi.shared import AMQP_BINDING
from hitl_contract.events import LifecycleEventName
from hitl_contract.kinds import KIND_NAMES
from hitl_contract.wire import (
    DEAD_LETTER_SOURCES,
    DEFAULT_ROUTE,
    Names,
    event_key,
    notification_key,
    outcome_key,
    queue_arguments,
)


# The routing keys of dead letters: the stage that refused the message.
def channels(names: Names) -> dict[str, Any]:
    kinds = list(KIND_NAMES)
    kind = {"kind": {"enum": kinds, "description": "The request's kind."}}
    reply_to = {
        "reply_to": {
            "description": "The request's reply_to: the producer service "
            "(SDK: `<service>` or `<service>.<instance>`).",
            "examples": ["billing"],
        }
    }
    args = queue_arguments(names)
    return {
        "requests": _exchange_channel(
            names.requests,
            "{kind}",
            "Producers publish interaction requests here. The broker's queue binds '#', so "
            "any routing key works; the SDK uses the kind.",
            ["interactionRequest"],
            kind,
        ),
        "responses": _exchange_channel(
            names.responses,
            "{interaction_id}",
            "Answers to interactions, from notifier bots, people (`hitl respond`) or the "
            "requester (cancel). Set the AMQP reply_to to get a ResponseReceipt back, and the "
            "AMQP user_id to your RabbitMQ user: a broker may take a person's word only from "
            "the users it trusts (docs/security.md). Claims (AMQP type hitl.claim) come "
            "here too.",
            ["humanResponse", "interactionClaim"],
            {"interaction_id": {"description": "The interaction answered (any key works)."}},
        ),
        "outcomes": _exchange_channel(
            names.outcomes,
            outcome_key("{reply_to}"),
            "One outcome per interaction, routed by the request's reply_to. A producer binds "
            f"its reply queue `{names.reply_queue('{reply_to}')}` with that key.",
            ["interactionOutcome"],
            reply_to,
        ),
        "notifications": _exchange_channel(
            names.notifications,
            notification_key("{route}", "{kind}"),
            "Requests to show to people. Notifier bots bind e.g. '#' or 'finance.*'.",
            ["notification"],
            {
                "route": {
                    "description": "The notification route (HITL_DEFAULT_ROUTE).",
                    "default": DEFAULT_ROUTE,
                    "examples": [DEFAULT_ROUTE],
                },
                **kind,
            },
        ),
        "events": _exchange_channel(
            names.events,
            event_key("{event}", "{kind}"),
            "Lifecycle events for audit and dashboards, batched per routing key; bind what you "
            "need, e.g. 'rejected.#'.",
            ["lifecycleEvents"],
            {
                "event": {"enum": [e.value for e in LifecycleEventName]},
                "kind": {
                    "enum": [*kinds, "unknown"],
                    "description": "The kind; 'unknown' for a rejected unreadable message.",
                },
            },
        ),
        "deadLetters": _exchange_channel(
            names.dead_letter,
            "{source}",
            "Messages hitl could not use: the original body and properties, with "
            "x-hitl-error-* headers saying what was wrong and where.",
            ["deadLetter"],
            {
                "source": {
                    "enum": list(DEAD_LETTER_SOURCES),
                    "description": "Which consumer refused it, 'unroutable' for an "
                    "outcome no queue was bound to receive, or 'outbox' for an outbox entry "
                    "no broker version can read.",
                }
            },
        ),
        "receipts": _exchange_channel(
            "",
            None,
            "The default exchange, routed to the queue named in a response's AMQP reply_to.",
            ["responseReceipt"],
            exchange_type="direct",
        ),
        "brokerRequests": _queue_channel(
            names.requests_queue,
            "The broker consumes requests from this queue.",
            ["interactionRequest"],
            [(names.requests, "#")],
            args,
        ),
        "brokerResponses": _queue_channel(
            names.responses_queue,
            "The broker consumes responses (and claims) from this queue.",
            ["humanResponse", "interactionClaim"],
            [(names.responses, "#")],
            args,
        ),
        "deadLetterQueue": _queue_channel(
            names.dead_letter_queue,
            "Where dead letters wait for an operator.",
            ["deadLetter"],
            [(names.dead_letter, "#")],
            queue_arguments(names, dead_letter=False),
        ),
        "replyQueue": _queue_channel(
            names.reply_queue("{reply_to}"),
            "A producer's own durable reply queue: declare it with these arguments before "
            "publishing requests, and consume outcomes from it.",
            ["interactionOutcome"],
            [(names.outcomes, outcome_key("{reply_to}"))],
            args,
            reply_to,
        ),
    }


def _exchange_channel(
    exchange: str,
    address: str | None,
    description: str,
    messages: list[str],
    parameters: dict[str, Any] | None = None,
    exchange_type: str = "topic",
) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "address": address,
        "description": description,
        "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in messages},
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": exchange,
                    "type": exchange_type,
                    "durable": True,
                    "autoDelete": False,
                    "vhost": "/",
                },
                "bindingVersion": AMQP_BINDING,
            }
        },
    }
    if parameters:
        channel["parameters"] = parameters
    return channel


def _queue_channel(
    queue: str,
    description: str,
    messages: list[str],
    bound: list[tuple[str, str]],
    arguments: dict[str, str | int],
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "address": queue,
        "description": description,
        "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in messages},
        "bindings": {
            "amqp": {
                "is": "queue",
                "queue": {
                    "name": queue,
                    "durable": True,
                    "exclusive": False,
                    "autoDelete": False,
                    "vhost": "/",
                },
                "bindingVersion": AMQP_BINDING,
            }
        },
        "x-hitl-bindings": [{"exchange": x, "routingKey": key} for x, key in bound],
        "x-hitl-queue-arguments": arguments,
    }
    if parameters:
        channel["parameters"] = parameters
    return channel
