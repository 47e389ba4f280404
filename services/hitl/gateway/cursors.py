"""Opaque page cursors: where the next page of a listing starts, tied to the listing's filters.

A cursor is base64url JSON of the position (requested_at, id), the order, and a digest of the
filters. A cursor used with other filters or another order (or garbled) is refused, rather than
silently paging a different listing from a position that means nothing there.
"""

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

from hitl.core.listing import Position, Query

_VERSION = 1


class BadCursor(ValueError):
    """The cursor is not one this listing handed out; the message says why."""


@dataclass(frozen=True, slots=True)
class Filters:
    """What a listing is of: the query without its page (limit, position)."""

    status: str | None = None
    kind: str | None = None
    thread_id: str | None = None
    requester: str | None = None
    node: str | None = None
    waiting_for: tuple[str, ...] | None = None
    labels: Mapping[str, str] | None = None
    newest_first: bool = True

    def digest(self) -> str:
        canonical = orjson.dumps(
            [
                self.status,
                self.kind,
                self.thread_id,
                self.requester,
                self.node,
                sorted(self.waiting_for) if self.waiting_for is not None else None,
                sorted((self.labels or {}).items()),
            ]
        )
        return hashlib.sha256(canonical).hexdigest()[:16]

    def query(self, limit: int, after: Position | None) -> Query:
        return Query(
            status=self.status,
            kind=self.kind,
            thread_id=self.thread_id,
            requester=self.requester,
            node=self.node,
            waiting_for=self.waiting_for,
            labels=dict(self.labels or {}),
            newest_first=self.newest_first,
            limit=limit,
            after=after,
        )


def encode(position: Position, filters: Filters) -> str:
    payload = {
        "v": _VERSION,
        "at": position.at,
        "id": position.id,
        "o": "newest" if filters.newest_first else "oldest",
        "f": filters.digest(),
    }
    return base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode()


def decode(cursor: str, filters: Filters) -> Position:
    """The position ``cursor`` points at; ``BadCursor`` unless this listing handed it out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = orjson.loads(raw)
        version, at, iid, order, digest = (payload[k] for k in ("v", "at", "id", "o", "f"))
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise BadCursor("not a cursor this API handed out (garbled or truncated)") from exc
    if version != _VERSION or not isinstance(at, int | float) or not isinstance(iid, str):
        raise BadCursor("not a cursor this API handed out (garbled or truncated)")
    if order != ("newest" if filters.newest_first else "oldest"):
        raise BadCursor(f"this cursor continues a listing in {order}-first order")
    if digest != filters.digest():
        raise BadCursor("this cursor continues a listing with other filters")
    return Position(float(at), iid)
