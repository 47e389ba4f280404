"""What a receiver's HTTP status means for a delivery, and how long its Retry-After says to wait."""

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from hitl.errors import Permanent, Retryable
from hitl.notifiers.webhooks.replies import MAX_RETRY_AFTER, check_status, excerpt, retry_after

NOW = 1_800_000_000.0


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    check_status(status, {}, "", NOW)


@pytest.mark.parametrize("status", [408, 429, 500, 501, 502, 503, 504, 599])
def test_timeouts_rate_limits_and_5xx_are_retried(status: int) -> None:
    with pytest.raises(Retryable) as caught:
        check_status(status, {"retry-after": "30"}, "busy", NOW)
    assert caught.value.status == status
    assert caught.value.retry_after == 30.0
    assert str(caught.value) == f"HTTP {status}: busy"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 413, 422])
def test_other_4xx_are_permanent(status: int) -> None:
    with pytest.raises(Permanent) as caught:
        check_status(status, {}, "", NOW)
    assert (caught.value.status, caught.value.disable) == (status, False)


def test_410_disables_the_receiver() -> None:
    with pytest.raises(Permanent, match="disabled until it is re-enabled") as caught:
        check_status(410, {}, "", NOW)
    assert caught.value.disable


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_permanent_and_names_where_it_pointed(status: int) -> None:
    with pytest.raises(Permanent, match=r"not followed.*\(Location: https://new\.example/h\)"):
        check_status(status, {"location": "https://new.example/h"}, "", NOW)


@pytest.mark.parametrize("status", [100, 101, 600, 999])
def test_a_status_that_is_no_final_answer_is_retried_as_garbage(status: int) -> None:
    with pytest.raises(Retryable, match="is not a final HTTP status"):
        check_status(status, {}, "", NOW)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("0", 0.0),
        ("120", 120.0),
        (" 7 ", 7.0),
        ("999999", MAX_RETRY_AFTER),
        ("9" * 400, MAX_RETRY_AFTER),
        (format_datetime(datetime.fromtimestamp(NOW + 90, UTC), usegmt=True), 90.0),
        ("Fri Jan 15 08:01:30 2027", 90.0),  # asctime: GMT by definition
        (format_datetime(datetime.fromtimestamp(NOW - 90, UTC), usegmt=True), 0.0),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        ("٣", None),  # a digit, but not an ASCII one
    ],
)
def test_retry_after_in_seconds_or_as_a_date_within_bounds(
    value: str | None, seconds: float | None
) -> None:
    assert retry_after(value, NOW) == seconds


def test_an_excerpt_is_one_short_line_of_whatever_came() -> None:
    assert excerpt(b"  too\n many\r\n  requests ") == "too many requests"
    assert excerpt(b"\xff\xfe oops") == "\ufffd\ufffd oops"
    long = excerpt(b"x" * 5000)
    assert len(long) == 200 and long.endswith("…")
