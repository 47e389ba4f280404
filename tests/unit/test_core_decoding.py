"""Bad input gets a specific error: which class of mistake, where, what is allowed."""

import uuid

import orjson
import pytest

from hitl.core.backoff import backoff_delay
from hitl.core.decoding import decode_request, decode_response, readable
from hitl.errors import InvalidMessage
from hitl_contract import KIND_NAMES, ErrorCode

LIMIT = 256 * 1024


def good_request(**overrides: object) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "thread_id": "t",
        "kind": "approval",
        "prompt": "ok?",
        "reply_to": "producer",
        "requester": {"id": "agent"},
        **overrides,
    }


def code_and_path(body: bytes) -> tuple[ErrorCode, str | None]:
    with pytest.raises(InvalidMessage) as err:
        decode_request(body, LIMIT)
    return err.value.detail.code, err.value.detail.path


def test_a_good_request_decodes() -> None:
    request = decode_request(orjson.dumps(good_request()), LIMIT)
    assert request.kind == "approval" and request.schema_version == 1


@pytest.mark.parametrize(
    ("body", "code", "path"),
    [
        (b"{not json", ErrorCode.MALFORMED_JSON, None),
        (
            orjson.dumps(good_request(schema_version=2)),
            ErrorCode.UNSUPPORTED_SCHEMA_VERSION,
            "schema_version",
        ),
        (orjson.dumps(good_request(kind="telepathy")), ErrorCode.UNKNOWN_KIND, "kind"),
        (
            orjson.dumps({k: v for k, v in good_request().items() if k != "kind"}),
            ErrorCode.INVALID_FIELD,
            "kind",
        ),
        (
            orjson.dumps({k: v for k, v in good_request().items() if k != "thread_id"}),
            ErrorCode.INVALID_FIELD,
            "thread_id",
        ),
        (
            orjson.dumps(good_request(timeout_seconds="soon")),
            ErrorCode.INVALID_FIELD,
            "timeout_seconds",
        ),
        (orjson.dumps(good_request(requester={"id": ""})), ErrorCode.INVALID_FIELD, "requester.id"),
        (
            orjson.dumps(good_request(kind="choice", options=["a", ""])),
            ErrorCode.INVALID_FIELD,
            "options[1]",
        ),
        (orjson.dumps(good_request(surprise=1)), ErrorCode.INVALID_FIELD, "surprise"),
        (orjson.dumps([1, 2]), ErrorCode.INVALID_FIELD, None),
    ],
)
def test_each_mistake_is_named(body: bytes, code: ErrorCode, path: str | None) -> None:
    assert code_and_path(body) == (code, path)


def test_unknown_kind_lists_the_kinds() -> None:
    with pytest.raises(InvalidMessage) as err:
        decode_request(orjson.dumps(good_request(kind="telepathy")), LIMIT)
    assert err.value.detail.allowed == list(KIND_NAMES)
    assert err.value.detail.got == "telepathy"


def test_oversized_payload_is_refused_before_parsing() -> None:
    body = orjson.dumps(good_request(context={"blob": "x" * 2000}))
    with pytest.raises(InvalidMessage) as err:
        decode_request(body, 1024)
    assert err.value.detail.code == ErrorCode.PAYLOAD_TOO_LARGE
    assert err.value.detail.got == len(body)


def test_several_errors_are_all_mentioned() -> None:
    with pytest.raises(InvalidMessage) as err:
        decode_request(orjson.dumps({"kind": "approval"}), LIMIT)
    assert "more:" in err.value.detail.message


def test_response_decoding_names_the_field() -> None:
    with pytest.raises(InvalidMessage) as err:
        decode_response(
            orjson.dumps({"interaction_id": "nope", "action": "approve", "responder": {"id": "a"}}),
            LIMIT,
        )
    assert (err.value.detail.code, err.value.detail.path) == (
        ErrorCode.INVALID_FIELD,
        "interaction_id",
    )


def test_backoff_grows_and_is_capped() -> None:
    import random

    rng = random.Random(7)
    assert all(
        0 <= backoff_delay(n, base=0.1, cap=1.0, rng=rng) <= min(1.0, 0.1 * 2 ** (n - 1))
        for n in range(1, 20)
    )


def test_a_reply_to_too_long_for_an_amqp_routing_key_is_refused_where_it_is() -> None:
    body = orjson.dumps(good_request(reply_to="é" * 200))  # 200 characters, 400 bytes
    with pytest.raises(InvalidMessage) as err:
        decode_request(body, LIMIT)
    assert err.value.detail.path == "reply_to"
    assert "at most 255 bytes" in err.value.detail.message
    assert decode_request(orjson.dumps(good_request(reply_to="é" * 127)), LIMIT)  # 254 bytes


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (
            b'{"id": "5f0e9f5e-3b0a-4d55-9a4e-2f8e6c3c1a10", "thread_id": "run-7", "kind": "choice"}',
            ("5f0e9f5e-3b0a-4d55-9a4e-2f8e6c3c1a10", "run-7", "choice"),
        ),
        (b'{"id": "seven", "thread_id": "", "kind": "poll"}', (None, None, None)),
        (b'{"id": 7, "thread_id": ["x"]}', (None, None, None)),
        (b"[1, 2]", (None, None, None)),
        (b"{not json", (None, None, None)),
    ],
)
def test_a_refused_message_says_what_it_can_about_itself(
    body: bytes, said: tuple[str | None, ...]
) -> None:
    got = readable(body, "id")
    assert (
        str(got.interaction_id) if got.interaction_id else None,
        got.thread_id,
        got.kind,
    ) == said
