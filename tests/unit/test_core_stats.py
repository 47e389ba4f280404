"""The analytics report (GET /v1/stats, hitl stats): windows and the report from counters."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from hitl.core import analytics
from hitl.core.stats import Window, WindowError, parse_duration, report, resolve_window

T0 = 1_800_000_000.0  # on an hour boundary
DAY = 86_400
RETENTION = 35 * DAY


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90m", 5400), ("24h", DAY), ("7d", 7 * DAY), ("2w", 14 * DAY)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "24", "h", "0h", "-1h", "1.5h", "24hours", "1y", "1234567h"])
def test_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(WindowError, match="not a duration") as err:
        parse_duration(text)
    assert err.value.field == "window"


def test_the_window_defaults_to_the_last_24_hours() -> None:
    assert resolve_window(T0, RETENTION) == Window(T0 - DAY, T0)
    assert resolve_window(T0, RETENTION, window="90m") == Window(T0 - 5400, T0)


def test_a_window_back_from_until_and_between_since_and_until() -> None:
    end = T0 - DAY
    assert resolve_window(T0, RETENTION, window="2h", until=at(end)) == Window(end - 7200, end)
    naive = at(T0 - 3 * DAY).replace(tzinfo=None)  # no zone: UTC
    span = resolve_window(T0, RETENTION, since=naive, until=at(T0 - DAY))
    assert span == Window(T0 - 3 * DAY, T0 - DAY)
    other_zone = at(T0 - 3 * DAY).astimezone(timezone(timedelta(hours=5)))
    assert resolve_window(T0, RETENTION, since=other_zone).since == T0 - 3 * DAY


def test_an_until_in_the_future_means_now() -> None:
    assert resolve_window(T0, RETENTION, until=at(T0 + DAY)) == Window(T0 - DAY, T0)


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"window": "1h", "since": at(T0 - 60)}, "since", "not both"),
        ({"since": at(T0 + 60)}, "since", "empty"),
        ({"since": at(T0 - 60), "until": at(T0 - 120)}, "since", "empty"),
        ({"since": at(T0 - RETENTION - 1)}, "since", "go back 3024000s"),
        ({"window": "6w"}, "window", "must start after"),
    ],
)
def test_windows_the_counters_cannot_answer(
    kwargs: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(WindowError, match=message) as err:
        resolve_window(T0, RETENTION, **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_a_window_counts_the_hours_that_begin_before_it_ends() -> None:
    assert Window(T0, T0 + 3600).hours == [T0]
    assert Window(T0 + 1, T0 + 3601).hours == [T0, T0 + 3600]
    assert Window(T0 - 1, T0).hours == [T0 - 3600]
    assert analytics.hours(T0, T0) == []


# Two shards' counters of one hour, as the broker keeps them.
SHARD_A = {
    "requested|k|approval": 3,
    "requested|n|review": 2,
    "resolved|k|approval": 2,
    "approved|k|approval": 1,
    "resolved|n|review": 2,
    "approved|n|review": 1,
    "rt0|k|approval": 2,
    "rt0|n|review": 2,
    "answers|r|ana": 1,
    "rt0|r|ana": 1,
    "answers|r|ben": 1,
    "rt4|r|ben": 1,  # between 10 and 30 seconds
}
SHARD_B = {
    "requested|k|text_input": 2,
    "requested|n|deploy": 2,
    "timed_out|k|text_input": 1,
    "timed_out|n|deploy": 1,
    "cancelled|k|text_input": 1,
    "cancelled|n|deploy": 1,
    "rt6|n|deploy": 1,  # between 60 and 120 seconds
    "rt6|k|text_input": 1,
}
PENDING = {"k|approval": 1, "n|review": 0, "n|deploy": 1, "r|*": 1, "r|ana": 2, "r|ben": 0}


def test_the_report_sums_every_shard_by_kind_node_and_responder() -> None:
    window = Window(T0 + 600, T0 + 2 * 3600 + 5)
    out = report(window, [SHARD_A, SHARD_B], PENDING)
    assert (out.since, out.until) == (at(T0 + 600), at(T0 + 2 * 3600 + 5))
    assert (out.counted_since, out.counted_until) == (at(T0), at(T0 + 3 * 3600))
    approval = out.by_kind["approval"]
    assert (approval.count, approval.finished, approval.resolved, approval.pending) == (3, 2, 2, 1)
    assert (approval.approval_rate, approval.timeout_rate, approval.cancel_rate) == (0.5, 0, 0)
    # both answers under a second: interpolated inside the first bucket, [0, 1]
    assert approval.response_time_p50_seconds == 0.5
    assert approval.response_time_p95_seconds == 0.95
    text = out.by_kind["text_input"]
    assert (text.count, text.finished, text.approval_rate) == (2, 2, None)
    assert (text.timeout_rate, text.cancel_rate) == (0.5, 0.5)
    assert text.response_time_p50_seconds == 90.0  # one answer in (60, 120]
    total = out.total
    assert (total.count, total.finished, total.pending) == (5, 4, 1)
    assert (total.approval_rate, total.timeout_rate, total.cancel_rate) == (0.5, 0.25, 0.25)
    assert total.response_time_p50_seconds == 0.75  # rank 1.5 of 3, two in [0, 1]
    assert set(out.by_node) == {"review", "deploy"}
    assert out.by_node["deploy"].pending == 1 and out.by_node["review"].count == 2
    assert out.by_responder["ana"].answers == 1 and out.by_responder["ana"].pending == 2
    assert out.by_responder["*"].answers == 0 and out.by_responder["*"].pending == 1
    assert out.by_responder["ben"].response_time_p95_seconds == 29.0


def test_bottlenecks_are_the_worst_first_and_at_most_top() -> None:
    b = report(Window(T0, T0 + 60), [SHARD_A, SHARD_B], PENDING).bottlenecks
    assert [(p.name, p.pending) for p in b.most_pending_nodes] == [("deploy", 1)]
    assert [(p.name, p.pending) for p in b.most_pending_responders] == [("ana", 2), ("*", 1)]
    assert [s.name for s in b.slowest_nodes] == ["deploy", "review"]
    assert [(s.name, s.answers) for s in b.slowest_responders] == [("ben", 1), ("ana", 1)]
    top = report(Window(T0, T0 + 60), [SHARD_A, SHARD_B], PENDING, top=1).bottlenecks
    assert [s.name for s in top.slowest_responders] == ["ben"]
    assert len(top.most_pending_responders) == 1


def test_an_empty_window_reports_zeros_and_no_rates() -> None:
    out = report(Window(T0, T0 + 60), [], {})
    assert out.total.count == 0 and out.total.approval_rate is None
    assert out.total.response_time_p50_seconds is None
    assert out.by_kind == {} and out.bottlenecks.slowest_nodes == []
