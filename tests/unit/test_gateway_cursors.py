"""Page cursors: opaque, tied to the listing's filters and order, refused when garbled."""

import base64

import orjson
import pytest

from hitl.core.listing import Position
from hitl.gateway.cursors import BadCursor, Filters, decode, encode

AT = Position(1_700_000_000.123456, "8c1f6f0e-8f7c-4a4e-9a39-2f6f3e1f0b7d")


def test_a_cursor_brings_back_its_position() -> None:
    filters = Filters(status="pending", kind="approval", labels={"team": "ops"})
    assert decode(encode(AT, filters), filters) == AT


def test_label_order_and_responder_order_do_not_matter() -> None:
    one = Filters(labels={"a": "1", "b": "2"}, waiting_for=("alice", "group:ops"))
    other = Filters(labels={"b": "2", "a": "1"}, waiting_for=("group:ops", "alice"))
    assert decode(encode(AT, one), other) == AT


@pytest.mark.parametrize(
    "other",
    [
        Filters(status="resolved"),
        Filters(kind="choice"),
        Filters(thread_id="t-2"),
        Filters(requester="bob"),
        Filters(node="n"),
        Filters(labels={"team": "other"}),
        Filters(waiting_for=("bob",)),
    ],
)
def test_a_cursor_used_with_other_filters_is_refused(other: Filters) -> None:
    cursor = encode(AT, Filters())
    with pytest.raises(BadCursor, match="other filters"):
        decode(cursor, other)


def test_a_cursor_used_in_the_other_order_is_refused() -> None:
    cursor = encode(AT, Filters(newest_first=True))
    with pytest.raises(BadCursor, match="newest-first"):
        decode(cursor, Filters(newest_first=False))


@pytest.mark.parametrize(
    "garbled",
    [
        "",
        "not base64 at all!",
        "eyJ2IjoxfQ",  # {"v":1}
        base64.urlsafe_b64encode(b"[1,2,3]").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        base64.urlsafe_b64encode(
            orjson.dumps({"v": 2, "at": 1.0, "id": "x", "o": "newest", "f": "0"})
        ).decode(),
        base64.urlsafe_b64encode(
            orjson.dumps({"v": 1, "at": "soon", "id": "x", "o": "newest", "f": "0"})
        ).decode(),
    ],
)
def test_garbled_cursors_are_refused(garbled: str) -> None:
    with pytest.raises(BadCursor, match="garbled"):
        decode(garbled, Filters())


def test_a_cursor_is_url_safe() -> None:
    cursor = encode(AT, Filters(labels={"x": "?&/+="}))
    assert all(c.isalnum() or c in "-_" for c in cursor)
