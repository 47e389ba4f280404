"""A follow-up mail threads under the first one in mail clients: In-Reply-To and References
go on the wire as the first mail's Message-ID, as aiosmtplib sends them (the SMTP policy,
78-character lines), not folded into RFC 2047 encoded words that no client matches."""

import re
import uuid
from datetime import UTC, datetime

from aiosmtplib.email import flatten_message

from hitl.notifiers.email.messages import compose
from hitl.notifiers.email.render import Rendered


def test_a_follow_up_names_the_first_mail_as_it_was_sent() -> None:
    iid = str(uuid.uuid4())
    first_ref, at = f"notification:{iid}:requested:1", datetime(2026, 12, 1, 17, 3, tzinfo=UTC)
    rendered = Rendered("[hitl] Pay 1200 EUR to ACME?", "text", "<p>html</p>")
    first = compose(rendered, sender="hitl@example.com", to="ana@example.com",
                    reference=first_ref, interaction_id=iid, at=at)  # fmt: skip
    settled = compose(rendered, sender="hitl@example.com", to="ana@example.com",
                      reference=f"settled:{iid}", interaction_id=iid, at=at,
                      follows=first_ref)  # fmt: skip
    sent_first = _headers(flatten_message(first))
    sent_settled = _headers(flatten_message(settled))
    first_id = sent_first["message-id"]
    assert re.fullmatch(r"<notification\.[-.\w]+@example\.com>", first_id), first_id
    assert len(first_id) > 78  # long enough that the default policy would fold it
    assert sent_settled["in-reply-to"] == first_id
    assert sent_settled["references"] == first_id


def _headers(raw: bytes) -> dict[str, str]:
    """The header block's fields, unfolded, exactly as written (nothing decoded)."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    unfolded = re.sub(r"\r\n[ \t]+", " ", head)
    fields = (line.split(":", 1) for line in unfolded.split("\r\n"))
    return {name.lower(): value.strip() for name, value in fields}
