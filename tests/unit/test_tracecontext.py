"""W3C traceparent and tracestate as they come in: a well-formed context is read, anything
else is ignored (with a debug log at the edge), never an error."""

import logging

import pytest

from hitl.core.tracecontext import TraceContext, child, from_headers, parse
from hitl.observability.tracing import Tracing

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
GOOD = f"00-{TRACE}-{SPAN}-01"


def test_a_well_formed_traceparent_is_read() -> None:
    context, problem = parse(GOOD, "congo=t61rcWkgMzE")
    assert problem == ""
    assert context == TraceContext(GOOD, "congo=t61rcWkgMzE")
    assert (context.trace_id, context.parent_id, context.sampled) == (TRACE, SPAN, True)
    assert context.headers() == {"traceparent": GOOD, "tracestate": "congo=t61rcWkgMzE"}


def test_not_sampled_and_without_tracestate() -> None:
    context, _ = parse(f"00-{TRACE}-{SPAN}-00")
    assert context is not None
    assert not context.sampled
    assert context.headers() == {"traceparent": f"00-{TRACE}-{SPAN}-00"}


MALFORMED = [
    (f"ff-{TRACE}-{SPAN}-01", "version ff"),
    (f"00-{'0' * 32}-{SPAN}-01", "trace-id is all zeros"),
    (f"00-{TRACE}-{'0' * 16}-01", "parent-id is all zeros"),
    (f"00-{TRACE[:-1]}-{SPAN}-01", "not version-traceid"),  # trace-id one short
    (f"00-{TRACE}-{SPAN}0-01", "not version-traceid"),  # parent-id one long
    (f"00-{TRACE}-{SPAN}-01-extra", "characters, not 55"),  # version 00 has 4 fields
    (f"00-{TRACE}-{SPAN}-011", "characters, not 55"),
    (f"00-{TRACE.upper()}-{SPAN}-01", "not version-traceid"),  # hex is lower case
    (f"00-{TRACE}-{SPAN.upper()}-01", "not version-traceid"),
    (GOOD.upper(), "not version-traceid"),
    (f"0-{TRACE}-{SPAN}-01", "not version-traceid"),
    (f"00_{TRACE}_{SPAN}_01", "not version-traceid"),
    ("", "not version-traceid"),
    ("garbage", "not version-traceid"),
    (b"00-bytes", "is a bytes, not text"),
    (55, "is a int, not text"),
]


@pytest.mark.parametrize(("value", "why"), MALFORMED)
def test_a_malformed_traceparent_is_ignored_with_the_reason(value: object, why: str) -> None:
    context, problem = parse(value, "a=b")
    assert context is None
    assert why in problem


@pytest.mark.parametrize(
    "value",
    [
        GOOD,
        f"00-{TRACE}-{SPAN}-00",
        f" {GOOD}\t",  # blanks around it are dropped
        f"01-{TRACE}-{SPAN}-01-later",
        *(value for value, _ in MALFORMED),
    ],
)
def test_a_traceparent_alone_is_read_as_the_full_checks_read_it(value: object) -> None:
    """Without a tracestate, a canonical traceparent takes a shorter way in (one match);
    it must never accept what the full checks refuse, nor read anything differently."""
    assert parse(value) == parse(value, "")
    assert from_headers({"traceparent": value}) == parse(value, "")


def test_a_later_version_is_read_as_version_00_and_passed_on_as_such() -> None:
    context, problem = parse(f"cc-{TRACE}-{SPAN}-01-what-comes-later")
    assert problem == ""
    assert context == TraceContext(GOOD)
    context, _ = parse(f"01-{TRACE}-{SPAN}-01")
    assert context == TraceContext(GOOD)
    context, problem = parse(f"01-{TRACE}-{SPAN}-01x")  # no dash after the fourth field
    assert context is None
    assert "not 55" in problem


@pytest.mark.parametrize(
    ("state", "kept"),
    [
        ("", ""),
        (" a=1 , b=2,,", "a=1,b=2"),
        ("a=1," * 40, ""),  # over 32 members
        ("x" * 513, ""),
        ("a=1,✓=2", ""),
        ("a=1,b", ""),
        (7, ""),
    ],
)
def test_tracestate_is_kept_only_when_it_is_well_formed(state: object, kept: str) -> None:
    context, problem = parse(GOOD, state)
    assert context == TraceContext(GOOD, kept)  # a bad tracestate never costs the traceparent
    assert bool(problem) == (kept == "" and state != "")


def test_from_headers() -> None:
    assert from_headers(None) == (None, "")
    assert from_headers({}) == (None, "")
    assert from_headers({"x-other": "1"}) == (None, "")
    assert from_headers({"tracestate": "a=1"}) == (None, "")  # no traceparent: no context
    assert from_headers({"traceparent": GOOD, "tracestate": "a=1"}) == (
        TraceContext(GOOD, "a=1"),
        "",
    )
    context, problem = from_headers({"traceparent": "nope"})
    assert context is None
    assert problem


def test_child_keeps_the_trace_and_tracestate() -> None:
    parent = TraceContext(GOOD, "a=1")
    made = child(parent, TRACE, "1111111111111111", sampled=False)
    assert made == TraceContext(f"00-{TRACE}-1111111111111111-00", "a=1")
    assert child(None, TRACE, "1111111111111111", sampled=True).tracestate == ""


def test_the_edge_logs_a_malformed_one_at_debug_level_and_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracing = Tracing()
    with caplog.at_level(logging.DEBUG, logger="hitl.observability.tracing"):
        assert tracing.incoming({"traceparent": f"ff-{TRACE}-{SPAN}-01"}) is None
        assert tracing.incoming({"traceparent": GOOD}) == TraceContext(GOOD)
        assert tracing.incoming(None) is None
    [record] = caplog.records
    assert record.levelno == logging.DEBUG
    assert "version ff" in record.getMessage()


def test_without_spans_the_context_is_passed_on_unchanged() -> None:
    tracing = Tracing()
    with tracing.span("hitl request", TraceContext(GOOD, "a=1"), "consumer") as handed_on:
        assert handed_on == TraceContext(GOOD, "a=1")
    with tracing.span("hitl request", None) as handed_on:
        assert handed_on is None
