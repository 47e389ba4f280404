"""API keys: how a key is minted, how a presented one is read, and what is kept of it.

A key reads ``hitl_<key id>_<secret>``. The key id names the stored record (and appears in
lists and logs); the secret is shown once, at creation, and only its SHA-256 is kept. A plain
hash suffices because the secret is 256 random bits, not a password: there is nothing to guess
it from. Pure: the store adapters (``adapters/redis/apikeys.py``, ``adapters/memory/apikeys.py``)
keep the records, and the gateway (``hitl.gateway.keys``) checks presented keys against them.
"""

import hashlib
import hmac
import re
import secrets
from typing import NamedTuple

from pydantic import Field

from hitl_contract import Identity
from hitl_contract.common import ContractModel

PREFIX = "hitl"
SCOPES = ("read", "respond", "request", "admin")
_KEY_ID_BYTES = 6
_SECRET_BYTES = 32
_TOKEN = re.compile(rf"^{PREFIX}_([0-9a-f]{{{_KEY_ID_BYTES * 2}}})_([A-Za-z0-9_-]{{43}})$")


class ApiKey(ContractModel):
    """What is stored of a key: everything but its secret."""

    key_id: str = Field(pattern=rf"^[0-9a-f]{{{_KEY_ID_BYTES * 2}}}$")
    name: str = Field(default="", max_length=256, description="What the key is for.")
    identity: Identity = Field(description="Who every answer made with the key comes from.")
    scopes: tuple[str, ...] = Field(min_length=1)
    channel: str = Field(default="http", min_length=1, max_length=64)
    created_at: float
    secret_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Presented(NamedTuple):
    key_id: str
    secret: str


def mint(
    identity: Identity,
    scopes: tuple[str, ...],
    now: float,
    *,
    name: str = "",
    channel: str = "http",
) -> tuple[str, ApiKey]:
    """A new key: (the token to hand over once, the record to store)."""
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of {list(SCOPES)}; got {list(scopes)}")
    key_id = secrets.token_hex(_KEY_ID_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    record = ApiKey(
        key_id=key_id,
        name=name,
        identity=identity,
        scopes=tuple(dict.fromkeys(scopes)),
        channel=channel,
        created_at=now,
        secret_sha256=_digest(secret),
    )
    return f"{PREFIX}_{key_id}_{secret}", record


def parse(token: str) -> Presented | None:
    """The key id and secret of a presented token; None when it is not shaped like a key."""
    match = _TOKEN.match(token)
    return Presented(match.group(1), match.group(2)) if match else None


def opens(record: ApiKey, secret: str) -> bool:
    """Whether ``secret`` is the record's, compared in constant time."""
    return hmac.compare_digest(_digest(secret), record.secret_sha256)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
