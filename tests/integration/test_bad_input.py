"""Bad input is parked in the dead-letter queue with headers saying what and where, an error
event is published, a metric counts it, and the consumer keeps going: nothing else is lost."""

import uuid

import orjson
import pytest
from aio_pika.abc import AbstractRobustConnection

from hitl.broker.service import BrokerService
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from tests.helpers import (
    answer,
    dead_letters,
    eventually,
    lifecycle_events,
    publish_raw,
    raw_request,
)

BIG = "x" * (300 * 1024)
CASES = [
    ("malformed_json", b'{"id": "1", oops', "malformed_json", ""),
    (
        "unknown_schema_version",
        orjson.dumps(raw_request(schema_version=9)),
        "unsupported_schema_version",
        "schema_version",
    ),
    ("unknown_kind", orjson.dumps(raw_request(kind="telepathy")), "unknown_kind", "kind"),
    (
        "missing_field",
        orjson.dumps({k: v for k, v in raw_request().items() if k != "prompt"}),
        "invalid_field",
        "prompt",
    ),
    (
        "mistyped_field",
        orjson.dumps(raw_request(timeout_seconds=[1])),
        "invalid_field",
        "timeout_seconds",
    ),
    ("too_large", orjson.dumps(raw_request(context={"blob": BIG})), "payload_too_large", ""),
]


@pytest.mark.parametrize(("case", "body", "code", "path"), CASES, ids=[c[0] for c in CASES])
async def test_bad_request_is_dead_lettered_reported_and_counted(
    case: str,
    body: bytes,
    code: str,
    path: str,
    broker: BrokerService,
    client: HitlClient,
    responder: Responder,
    amqp: AbstractRobustConnection,
    settings: Settings,
    capture,
) -> None:
    async with capture(broker.names.events, "rejected.#") as events:
        await publish_raw(amqp, broker.names.requests, body, "approval", message_id=f"bad-{case}")
        [dead] = await dead_letters(amqp, settings.namespace, 1)
        assert dead.body == body, "the original bytes are kept for replay"
        assert dead.headers["x-hitl-error-code"] == code
        assert dead.headers["x-hitl-error-path"] == path
        assert dead.headers["x-hitl-error-message"]
        assert dead.headers["x-original-exchange"] == broker.names.requests
        assert dead.headers["x-hitl-source"] == "requests"
        assert dead.message_id == f"bad-{case}"
        await events.wait_for(lambda m: len(m) == 1)
        [event] = lifecycle_events(events.messages)
        assert event.error is not None and event.error.code == code
    assert (
        broker.metrics.registry.get_sample_value(
            "hitl_dead_lettered_total", {"source": "requests", "code": code}
        )
        == 1
    )
    # The consumer is still there and still works.
    request = client.new_request("approval", thread_id="after-bad", prompt="still alive?")
    await client.submit(request)
    await eventually(
        lambda: (
            broker.metrics.registry.get_sample_value("hitl_requests_total", {"kind": "approval"})
            == 1
        )
    )
    await responder.respond(answer(request.id, "approve"))
    assert (await client.wait(request.id, timeout=10)).action == "approve"


async def test_bad_response_is_dead_lettered_with_a_receipt(
    broker: BrokerService, amqp: AbstractRobustConnection, settings: Settings
) -> None:
    body = orjson.dumps({"interaction_id": str(uuid.uuid4()), "action": "approve"})
    await publish_raw(amqp, broker.names.responses, body)
    [dead] = await dead_letters(amqp, settings.namespace, 1)
    assert dead.headers["x-hitl-error-code"] == "invalid_field"
    assert dead.headers["x-hitl-error-path"] == "responder"
    assert dead.headers["x-hitl-source"] == "responses"
