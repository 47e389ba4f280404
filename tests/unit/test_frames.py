"""Publish frames marshalled by hand are byte for byte what pamqp marshals (through
``pamqp_frames``, the code hitl published with before), for every shape of envelope hitl
publishes; the rare ones (headers other than text, over-long strings) go through pamqp."""

import pytest

from hitl.adapters.amqp.wire import pamqp_frames, publish_frames
from hitl.ports import Envelope

ENVELOPES = [
    Envelope("ns.notifications", "default.approval", b'{"a":1}' * 200, "hitl.notification", "n:1"),
    Envelope("ns.outcomes", "billing", b"{}", "hitl.outcome", "outcome:1", "1"),
    Envelope("ns.requests", "approval", b"{}", "hitl.request", "1", "1", reply_to="billing.a"),
    Envelope("", "ünïcode.✓", b"", "t", "m", None),  # empty body: no body frame
    Envelope("x", "k", b"z" * 10_000, "t", "m", "c", reply_to="r"),  # several body frames
    Envelope("x", "k", b"{}", "t", "m", headers={"x-hitl-error-code": "bad", "n": 3}),
    # text headers (the trace context) are written by hand, in pamqp's (sorted) order
    Envelope(
        "ns.outcomes",
        "billing",
        b"{}",
        "hitl.outcome",
        "outcome:1",
        "1",
        {"tracestate": "k=v,ü=✓", "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"},
        reply_to="r",
    ),
    # a traceparent alone (most traced messages): its table's head is written once
    Envelope("x", "k", b"{}", "t", "m", "c", {"traceparent": f"00-{'c' * 32}-{'d' * 16}-00"}),
    Envelope("x", "k", b"{}", "t", "m", "c", {"traceparent": "00-ü-not-55-characters"}),
    Envelope("x", "k", b"{}", "", ""),  # empty strings: pamqp leaves those properties out
    Envelope("x", "k" * 300, b"{}", "t", "m"),  # too long for AMQP: pamqp decides
]


@pytest.mark.parametrize("envelope", ENVELOPES[:-1])
@pytest.mark.parametrize("mandatory", [True, False])
@pytest.mark.parametrize(("channel", "max_content"), [(1, 131_064), (7, 4_088)])
def test_frames_match_pamqp(
    envelope: Envelope, mandatory: bool, channel: int, max_content: int
) -> None:
    assert publish_frames(channel, envelope, mandatory, max_content) == pamqp_frames(
        channel, envelope, mandatory, max_content
    )


def test_a_string_too_long_for_amqp_fails_as_pamqp_fails() -> None:
    envelope = ENVELOPES[-1]
    with pytest.raises(Exception) as ours:
        publish_frames(1, envelope, True, 131_064)
    with pytest.raises(Exception) as theirs:
        pamqp_frames(1, envelope, True, 131_064)
    assert type(ours.value) is type(theirs.value)


@pytest.mark.parametrize("exchange", ["x" * 128, "bad!name"])
def test_an_exchange_name_pamqp_refuses_is_refused_before_anything_is_sent(exchange: str) -> None:
    with pytest.raises(ValueError, match="exchange"):
        publish_frames(1, Envelope(exchange, "k", b"{}", "t", "m"), True, 131_064)
