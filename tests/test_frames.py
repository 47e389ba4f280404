"""Publish frames marshalled by hand are byte for byte what pamqp marshals, for every shape of
envelope hitl publishes, and the rare ones (headers, over-long strings) go through pamqp."""

import pytest
from aiormq.abc import ChannelFrame
from pamqp.body import ContentBody
from pamqp.commands import Basic
from pamqp.header import ContentHeader

from hitl.adapters.amqp.envelope import PERSISTENT, Envelope
from hitl.adapters.amqp.frames import publish_frames


def by_pamqp(channel: int, envelope: Envelope, mandatory: bool, max_content: int) -> bytes:
    properties = Basic.Properties(
        content_type="application/json",
        delivery_mode=PERSISTENT,
        message_type=envelope.message_type,
        message_id=envelope.message_id,
        correlation_id=envelope.correlation_id,
        headers=dict(envelope.headers) if envelope.headers else None,
        reply_to=envelope.reply_to,
    )
    body = envelope.body
    frames = [
        Basic.Publish(
            exchange=envelope.exchange, routing_key=envelope.routing_key, mandatory=mandatory
        ),
        ContentHeader(properties=properties, body_size=len(body)),
        *(ContentBody(body[i : i + max_content]) for i in range(0, len(body), max_content)),
    ]
    return ChannelFrame.marshall(channel_number=channel, frames=frames).payload  # type: ignore[arg-type]


ENVELOPES = [
    Envelope("ns.notifications", "default.approval", b'{"a":1}' * 200, "hitl.notification", "n:1"),
    Envelope("ns.outcomes", "billing", b"{}", "hitl.outcome", "outcome:1", "1"),
    Envelope("ns.requests", "approval", b"{}", "hitl.request", "1", "1", reply_to="billing.a"),
    Envelope("", "ünïcode.✓", b"", "t", "m", None),  # empty body: no body frame
    Envelope("x", "k", b"z" * 10_000, "t", "m", "c", reply_to="r"),  # several body frames
    Envelope("x", "k", b"{}", "t", "m", headers={"x-hitl-error-code": "bad", "n": 3}),
    Envelope("x", "k" * 300, b"{}", "t", "m"),  # too long for AMQP: pamqp decides
]


@pytest.mark.parametrize("envelope", ENVELOPES[:-1])
@pytest.mark.parametrize("mandatory", [True, False])
@pytest.mark.parametrize(("channel", "max_content"), [(1, 131_064), (7, 4_088)])
def test_frames_match_pamqp(
    envelope: Envelope, mandatory: bool, channel: int, max_content: int
) -> None:
    assert publish_frames(channel, envelope, mandatory, max_content) == by_pamqp(
        channel, envelope, mandatory, max_content
    )


def test_a_string_too_long_for_amqp_fails_as_pamqp_fails() -> None:
    envelope = ENVELOPES[-1]
    with pytest.raises(Exception) as ours:
        publish_frames(1, envelope, True, 131_064)
    with pytest.raises(Exception) as theirs:
        by_pamqp(1, envelope, True, 131_064)
    assert type(ours.value) is type(theirs.value)
