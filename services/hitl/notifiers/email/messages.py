"""Mail messages: one per recipient (its answer links are its own), multipart/alternative
with the text body first and the HTML body second, and headers that let mail clients thread
a reminder and the settled mail under the first one (Message-ID, In-Reply-To, References) and
auto-responders stay quiet (Auto-Submitted).

Message-IDs are derived from the notification and the recipient, so a retry of the same mail
carries the same id (mail systems that keep ids drop the copy), and the settled mail can name
the mail it follows without remembering it.
"""

import hashlib
from datetime import datetime
from email.headerregistry import BaseHeader, HeaderRegistry, MessageIDHeader
from email.message import EmailMessage
from email.policy import default
from email.utils import format_datetime, formataddr
from typing import cast

from hitl.notifiers.email.render import Rendered

SENDER_NAME = "hitl"
# In-Reply-To and References hold one message id here, and are read as one: the default policy
# takes them as unstructured text, and folds an id longer than a line (ours are) into RFC 2047
# encoded words, which mail clients do not match against the first mail's Message-ID (the
# thread breaks). As msg-ids they are written whole: a longer line, which RFC 5322 allows.
_HEADERS = HeaderRegistry()
_MSG_ID = cast(type[BaseHeader], MessageIDHeader)  # a mixin the registry joins to BaseHeader
_HEADERS.map_to_type("in-reply-to", _MSG_ID)
_HEADERS.map_to_type("references", _MSG_ID)
POLICY = default.clone(header_factory=_HEADERS)


def message_id(reference: str, address: str, domain: str) -> str:
    """``<reference.recipient-hash@domain>``: ``reference`` names the mail (one notification,
    or the settled mail of one interaction)."""
    digest = hashlib.sha256(address.lower().encode()).hexdigest()[:16]
    safe = "".join(c if c.isalnum() or c in "-." else "." for c in reference)
    return f"<{safe}.{digest}@{domain}>"


def compose(
    rendered: Rendered,
    *,
    sender: str,
    to: str,
    reference: str,
    interaction_id: str,
    at: datetime,
    follows: str | None = None,
) -> EmailMessage:
    """The mail to ``to``; ``follows``: the reference of the mail this one follows up."""
    domain = sender.rpartition("@")[2]
    mail = EmailMessage(policy=POLICY)
    mail["From"] = formataddr((SENDER_NAME, sender))
    mail["To"] = to
    mail["Subject"] = rendered.subject
    mail["Date"] = format_datetime(at)
    mail["Message-ID"] = message_id(reference, to, domain)
    if follows is not None:
        first = message_id(follows, to, domain)
        mail["In-Reply-To"] = first
        mail["References"] = first
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Auto-Response-Suppress"] = "All"
    mail["X-Hitl-Interaction"] = interaction_id
    mail.set_content(rendered.text, cte="quoted-printable")
    mail.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    return mail
