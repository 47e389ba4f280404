"""Answer links: what a link in an email notification stands for, signed so the gateway can
trust it without keeping anything until it is used.

A token is ``<payload>.<mac>``: the payload is compact JSON in URL-safe base64 (the
interaction, the receiver and the address the mail went to, the answer the link gives, when it
expires, and the id of the mail's single use, shared by every link of one mail), the mac is
HMAC-SHA256 over the payload with the deployment's link secret. Changing a byte of either
makes the token refused (``BadLink``), compared in constant time. Whether the link was used is
the gateway's to record (Redis); whether it expired is the caller's to check against its clock.
"""

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from uuid import UUID

import orjson
from pydantic import JsonValue

from hitl_contract import JsonObject

VERSION = 1
_LABEL = b"hitl-email-link:v1:"
MAX_TOKEN = 4096  # characters; a link is never near it, a longer path is refused unread


class BadLink(ValueError):
    """Not a link this deployment made: malformed, or its signature does not match."""


@dataclass(frozen=True, slots=True)
class Link:
    interaction_id: UUID
    receiver: str  # the email receiver whose mail carried the link
    address: str  # the recipient the mail went to: the link answers as this address
    action: str
    data: JsonObject
    expires: int  # seconds since the epoch
    use: str  # every link of one mail shares it: the mail answers once

    def expired(self, now: float) -> bool:
        return now >= self.expires


def sign(link: Link, secret: bytes) -> str:
    payload = _b64(
        orjson.dumps(
            {
                "v": VERSION,
                "i": str(link.interaction_id),
                "r": link.receiver,
                "t": link.address,
                "a": link.action,
                "d": link.data,
                "e": link.expires,
                "u": link.use,
            }
        )
    )
    return f"{payload}.{_b64(_mac(payload, secret))}"


def open_link(token: str, secret: bytes) -> Link:
    """The link ``token`` stands for, once its signature checks out; ``BadLink`` otherwise."""
    if len(token) > MAX_TOKEN or not token.isascii() or token.count(".") != 1:
        raise BadLink("not shaped like an answer link")
    payload, mac = token.split(".")
    try:
        presented = _unb64(mac)
    except (binascii.Error, ValueError) as exc:
        raise BadLink("its signature is not base64") from exc
    if not hmac.compare_digest(presented, _mac(payload, secret)):
        raise BadLink("its signature does not match: altered, or signed with another secret")
    try:
        fields = orjson.loads(_unb64(payload))
        return _link(fields)
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:  # signed by us: a bug
        raise BadLink(f"its content cannot be read: {exc}") from exc


def _link(fields: dict[str, JsonValue]) -> Link:
    if fields["v"] != VERSION:
        raise ValueError(f"version {fields['v']!r} is not {VERSION}")
    data = fields["d"]
    if not isinstance(data, dict):
        raise TypeError("its data is not an object")
    return Link(
        interaction_id=UUID(str(fields["i"])),
        receiver=str(fields["r"]),
        address=str(fields["t"]),
        action=str(fields["a"]),
        data=data,
        expires=int(str(fields["e"])),
        use=str(fields["u"]),
    )


def _mac(payload: str, secret: bytes) -> bytes:
    return hmac.new(secret, _LABEL + payload.encode("ascii"), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Canonical unpadded base64url only: the last character's unused bits must be zero, so
    no two tokens decode alike (a changed character is always a different token)."""
    if not text.isascii():
        raise ValueError("not ASCII")
    decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if base64.urlsafe_b64encode(decoded).rstrip(b"=").decode() != text:
        raise ValueError("not canonical base64url")
    return decoded
