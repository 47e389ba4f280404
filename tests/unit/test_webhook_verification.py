"""Signed webhooks coming in (answers sent back to the gateway): accepted when well formed,
fresh and signed with one of the secrets; otherwise refused with the error that says why."""

import re
import time
from datetime import UTC, datetime

import orjson
import pytest
from standardwebhooks import Webhook

from hitl.adapters.memory import ManualClock, MemorySeenIds
from hitl.errors import (
    ConfigError,
    ForgedWebhook,
    MalformedWebhook,
    ReplayedWebhook,
    StaleWebhook,
    WebhookRefused,
)
from hitl.notifiers.webhooks.verification import REPLAY_WINDOW_SECONDS, accept, verify
from tests.webhooks import NEXT_SECRET, SECRET

BODY = orjson.dumps({"interaction_id": "8d1f0c57-3b5e-4c1e-9a58-3b8f5f8ac1d2", "action": "approve"})


def signed(
    body: bytes = BODY, secret: str = SECRET, webhook_id: str = "msg_1", at: float | None = None
) -> dict[str, str]:
    """Headers as a Standard Webhooks sender writes them, made by the package itself."""
    stamp = int(time.time() if at is None else at)
    signature = Webhook(secret).sign(webhook_id, datetime.fromtimestamp(stamp, UTC), body.decode())
    return {
        "Webhook-Id": webhook_id,
        "Webhook-Timestamp": str(stamp),
        "Webhook-Signature": signature,
    }


def test_a_signed_request_is_accepted_and_parsed() -> None:
    verified = verify(BODY, signed(), [SECRET])
    assert verified.payload == orjson.loads(BODY)
    assert verified.webhook_id == "msg_1"


def test_during_a_rotation_either_secret_is_accepted() -> None:
    assert verify(BODY, signed(secret=NEXT_SECRET), [SECRET, NEXT_SECRET]).webhook_id == "msg_1"
    both = signed()
    both["Webhook-Signature"] += " " + signed(secret=NEXT_SECRET)["Webhook-Signature"]
    assert verify(BODY, both, [NEXT_SECRET]).webhook_id == "msg_1"


@pytest.mark.parametrize(
    ("offset", "said"), [(-301, "s old"), (-3600, "s old"), (301, "s in the future")]
)
def test_a_timestamp_outside_five_minutes_is_stale(offset: int, said: str) -> None:
    with pytest.raises(StaleWebhook, match=said):
        verify(BODY, signed(at=time.time() + offset), [SECRET])


def test_a_timestamp_inside_five_minutes_is_fine() -> None:
    assert verify(BODY, signed(at=time.time() - 240), [SECRET]).webhook_id == "msg_1"
    assert verify(BODY, signed(at=time.time() + 240), [SECRET]).webhook_id == "msg_1"


def test_a_signature_from_another_secret_or_over_another_body_is_forged() -> None:
    with pytest.raises(ForgedWebhook, match="matches any of the 1 secret"):
        verify(BODY, signed(secret=NEXT_SECRET), [SECRET])
    with pytest.raises(ForgedWebhook):
        verify(BODY.replace(b"approve", b"reject_"), signed(), [SECRET])
    moved = signed() | {"Webhook-Id": "msg_2"}  # a valid signature under another id
    with pytest.raises(ForgedWebhook):
        verify(BODY, moved, [SECRET])


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"Webhook-Id": None}, "missing header(s): webhook-id"),
        ({"Webhook-Signature": None, "Webhook-Timestamp": ""}, "webhook-timestamp, webhook-sig"),
        ({"Webhook-Id": "has space"}, "webhook-id is not 1 to 256 printable ASCII"),
        ({"Webhook-Id": "x" * 257}, "webhook-id is not 1 to 256"),
        ({"Webhook-Timestamp": "1.7e9"}, "webhook-timestamp is not whole seconds"),
        ({"Webhook-Timestamp": "nan"}, "webhook-timestamp is not whole seconds"),
        ({"Webhook-Signature": "v1"}, "entry 1 is not <version>,<signature>"),
        ({"Webhook-Signature": "v1,a,b"}, "entry 1 is not a base64 HMAC-SHA256"),
        ({"Webhook-Signature": "v1,@@@@"}, "entry 1 is not a base64 HMAC-SHA256"),
        ({"Webhook-Signature": "v1,AAAA"}, "entry 1 is not a base64 HMAC-SHA256"),
        ({"Webhook-Signature": "v1a,AAAA"}, "holds no v1 signature"),
    ],
)
def test_missing_or_garbled_headers_are_malformed(change: dict[str, str | None], said: str) -> None:
    headers = signed()
    for name, value in change.items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    with pytest.raises(MalformedWebhook, match=re.escape(said)):
        verify(BODY, headers, [SECRET])


def test_a_garbled_entry_beside_a_good_one_is_still_refused() -> None:
    """The package would raise ValueError on it; here it is a clear refusal."""
    headers = signed()
    headers["Webhook-Signature"] += " nonsense"
    with pytest.raises(MalformedWebhook, match="entry 2"):
        verify(BODY, headers, [SECRET])


def test_spaces_between_signatures_and_unknown_versions_are_tolerated() -> None:
    headers = signed()
    headers["Webhook-Signature"] = f"  v1a,AAAA   {headers['Webhook-Signature']}  "
    assert verify(BODY, headers, [SECRET]).webhook_id == "msg_1"


def test_a_body_that_is_not_utf8_or_not_json_is_malformed() -> None:
    garbled = b"\xff\xfe{}"
    headers = signed(body=b"x") | {"Webhook-Signature": signed()["Webhook-Signature"]}
    with pytest.raises(MalformedWebhook, match="not UTF-8"):
        verify(garbled, headers, [SECRET])
    with pytest.raises(MalformedWebhook, match="not JSON"):
        verify(b"{not json", signed(body=b"{not json"), [SECRET])


def test_every_refusal_is_a_webhook_refused_and_never_quotes_a_secret() -> None:
    for body, headers in [
        (BODY, signed(secret=NEXT_SECRET)),
        (BODY, signed(at=0)),
        (BODY, {"webhook-id": "x"}),
    ]:
        with pytest.raises(WebhookRefused) as caught:
            verify(body, headers, [SECRET])
        assert SECRET.removeprefix("whsec_") not in str(caught.value)


def test_a_secret_that_is_not_whsec_base64_is_a_config_error_naming_its_position() -> None:
    with pytest.raises(ConfigError, match="signing secret 2 is not a whsec_ secret") as caught:
        verify(BODY, signed(), [SECRET, "whsec_not base64!"])
    assert "not base64!" not in str(caught.value)
    with pytest.raises(ValueError, match="at least one secret"):
        verify(BODY, signed(), [])


async def test_a_replayed_request_is_refused_until_the_window_has_passed() -> None:
    clock = ManualClock()
    seen = MemorySeenIds(clock)
    headers = signed()
    assert (await accept(BODY, headers, [SECRET], seen)).webhook_id == "msg_1"
    with pytest.raises(ReplayedWebhook, match="msg_1 was accepted before"):
        await accept(BODY, headers, [SECRET], seen)
    clock.advance(REPLAY_WINDOW_SECONDS + 1)  # by then its timestamp is stale anyway
    assert (await accept(BODY, headers, [SECRET], seen)).webhook_id == "msg_1"


async def test_a_refused_request_does_not_use_up_its_id() -> None:
    seen = MemorySeenIds(ManualClock())
    with pytest.raises(ForgedWebhook):
        await accept(BODY, signed(secret=NEXT_SECRET), [SECRET], seen)
    assert (await accept(BODY, signed(), [SECRET], seen)).webhook_id == "msg_1"
