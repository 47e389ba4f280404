"""Checking a signed webhook that comes in (a person's answer sent back to the gateway), per
Standard Webhooks: the headers are there and well formed, the timestamp is within 5 minutes of
now, a signature matches one of the secrets (the check itself is ``standardwebhooks``'), and
its ``webhook-id`` was not accepted before. Each refusal is its own ``WebhookRefused``
subclass with a message that says what was wrong, never a secret.

The replay check needs state shared by every gateway replica (``SeenIds``: Redis, or its twin
in one process). An id is remembered for ``REPLAY_WINDOW_SECONDS``: as long as a request
carrying it could still pass the timestamp check.
"""

import base64
import binascii
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import orjson
from pydantic import JsonValue
from standardwebhooks import WebhookVerificationError

from hitl.errors import (
    ForgedWebhook,
    MalformedWebhook,
    ReplayedWebhook,
    StaleWebhook,
)
from hitl.notifiers.webhooks.signing import signer

TOLERANCE_SECONDS = 300  # the spec's, and the package's, which checks it again
# A request signed at t passes the timestamp check until t + tolerance; one stamped up to the
# tolerance ahead (clock skew) until now + 2 * tolerance.
REPLAY_WINDOW_SECONDS = 2 * TOLERANCE_SECONDS

_ID = re.compile(r"[\x21-\x7e]{1,256}")  # printable ASCII: it becomes part of a Redis key
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_ENTRY = re.compile(r"(v[0-9]+[a-z]*),(\S*)")
_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


@dataclass(frozen=True, slots=True)
class VerifiedWebhook:
    webhook_id: str
    timestamp: int
    payload: JsonValue  # the body, parsed


class SeenIds(Protocol):
    """Which webhook ids were accepted already (``RedisSeenIds``, or ``MemorySeenIds``)."""

    async def first_time(self, webhook_id: str, ttl_seconds: int) -> bool:
        """Record ``webhook_id`` for ``ttl_seconds``; False if it was recorded already."""
        ...

    async def forget(self, webhook_id: str) -> None:
        """Drop ``webhook_id``: the request carrying it was not handled (the gateway said to
        try again), so the same request sent again is not a replay."""
        ...


def verify(body: bytes, headers: Mapping[str, str], secrets: Sequence[str]) -> VerifiedWebhook:
    """The body, parsed, once its signature checks out against one of ``secrets``
    (``whsec_...``). ``headers``' names are matched without regard to case. Raises
    ``MalformedWebhook``, ``StaleWebhook`` or ``ForgedWebhook``; ``ConfigError`` for a
    secret that is not a ``whsec_`` secret. Does not check replays: see ``accept``."""
    if not secrets:
        raise ValueError("verify needs at least one secret")
    signers = [signer(secret, position) for position, secret in enumerate(secrets, 1)]
    webhook_id, timestamp, signatures = _read_headers(headers)
    _check_time(timestamp)
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise MalformedWebhook("the body is not UTF-8 text") from None
    # Only well-formed v1 entries are handed on: the package's parser raises ValueError on an
    # entry without exactly one comma.
    checked = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(f"v1,{s}" for s in signatures),
    }
    for candidate in signers:
        try:
            candidate.verify(text, checked, json_parse=False)
        except (WebhookVerificationError, ValueError):
            continue
        break
    else:
        _check_time(timestamp)  # the package checks the time again: it may have just run out
        raise ForgedWebhook(
            f"no signature in webhook-signature matches any of the {len(signers)} secret(s)"
        )
    try:
        payload: JsonValue = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedWebhook(f"the body is not JSON: {exc}") from exc
    return VerifiedWebhook(webhook_id, timestamp, payload)


async def accept(
    body: bytes, headers: Mapping[str, str], secrets: Sequence[str], seen: SeenIds
) -> VerifiedWebhook:
    """``verify``, then refuse (``ReplayedWebhook``) an id accepted before. Only a verified
    request's id is recorded, so forged requests cannot use up ids."""
    verified = verify(body, headers, secrets)
    if not await seen.first_time(verified.webhook_id, REPLAY_WINDOW_SECONDS):
        raise ReplayedWebhook(f"webhook-id {verified.webhook_id} was accepted before")
    return verified


def _read_headers(headers: Mapping[str, str]) -> tuple[str, int, list[str]]:
    """(id, timestamp, the base64 v1 signatures), or ``MalformedWebhook`` saying which header
    is missing or what is wrong with it."""
    found = {name.lower(): value for name, value in headers.items()}
    missing = [name for name in _HEADERS if not found.get(name, "").strip()]
    if missing:
        raise MalformedWebhook(f"missing header(s): {', '.join(missing)}")
    webhook_id = found["webhook-id"].strip()
    if not _ID.fullmatch(webhook_id):
        raise MalformedWebhook("webhook-id is not 1 to 256 printable ASCII characters")
    stamp = found["webhook-timestamp"].strip()
    if not _TIMESTAMP.fullmatch(stamp):
        raise MalformedWebhook("webhook-timestamp is not whole seconds since the epoch")
    return webhook_id, int(stamp), _v1_signatures(found["webhook-signature"])


def _v1_signatures(header: str) -> list[str]:
    signatures = []
    for position, entry in enumerate(header.split(), 1):
        match = _ENTRY.fullmatch(entry)
        if match is None:
            raise MalformedWebhook(
                f"webhook-signature entry {position} is not <version>,<signature>"
            )
        version, value = match.groups()
        if version != "v1":
            continue  # another scheme (v1a: asymmetric) that this side does not use
        try:
            digest = base64.b64decode(value, validate=True)
        except binascii.Error:
            digest = b""
        if len(digest) != 32:
            raise MalformedWebhook(
                f"webhook-signature entry {position} is not a base64 HMAC-SHA256 (32 bytes)"
            )
        signatures.append(value)
    if not signatures:
        raise MalformedWebhook("webhook-signature holds no v1 signature")
    return signatures


def _check_time(timestamp: int) -> None:
    drift = time.time() - timestamp  # the package reads the wall clock too: no other clock
    if drift > TOLERANCE_SECONDS:
        raise StaleWebhook(
            f"webhook-timestamp is {drift:.0f} s old (at most {TOLERANCE_SECONDS} s allowed)"
        )
    if -drift > TOLERANCE_SECONDS:
        raise StaleWebhook(
            f"webhook-timestamp is {-drift:.0f} s in the future "
            f"(at most {TOLERANCE_SECONDS} s allowed)"
        )
