"""Standard Webhooks signatures (https://www.standardwebhooks.com), made by the
``standardwebhooks`` package: ``webhook-signature`` is ``v1,<base64 HMAC-SHA256 of
"<webhook-id>.<webhook-timestamp>.<body>">``, keyed with the base64 bytes of a ``whsec_``
secret. With several secrets (a key rotation) the header holds one signature per secret,
separated by spaces, and a receiver accepts the request if any of them matches its secret.
"""

import binascii
import re
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

from hitl.errors import ConfigError

_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def signer(secret: str, position: int = 1) -> Webhook:
    """The signer of one ``whsec_...`` secret (the prefix is optional); ``ConfigError`` names
    the secret by its ``position`` among the receiver's secrets, never by its value."""
    try:
        # The package skips characters that are not base64; a typo must not become a key.
        if not _BASE64.fullmatch(secret.removeprefix("whsec_")):
            raise ValueError("not base64")  # noqa: TRY301 - one message for every failure
        return Webhook(secret)
    except (binascii.Error, ValueError, EmptyWebhookSecretError):
        raise ConfigError(
            f"signing secret {position} is not a whsec_ secret (whsec_ and base64 bytes)"
        ) from None  # the cause's message may quote the secret


def signature(signers: Sequence[Webhook], webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: ``v1,<base64>``, one per signer, space-separated."""
    at = datetime.fromtimestamp(timestamp, UTC)
    text = body.decode()
    return " ".join(s.sign(msg_id=webhook_id, timestamp=at, data=text) for s in signers)
