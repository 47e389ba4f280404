"""The links of one mail: a signed answer link per one-click answer (``hitl.core.links``), all
sharing the mail's single use, and the inbox page for what needs typing. They expire at the
request's deadline, or after ``ttl`` seconds when that is sooner."""

import secrets
from datetime import UTC, datetime
from urllib.parse import quote

from hitl.core.links import Link, sign
from hitl.notifiers.answers import one_click, typed
from hitl.notifiers.email.render import Button, Links
from hitl_contract import JsonObject, Notification

LINK_PATH = "/email/links/"  # the gateway's pages for answer links (GET shows, POST decides)
INBOX_PATH = "/inbox/i/"  # the inbox's page of one interaction


def inbox_url(public_url: str, interaction_id: str) -> str:
    return f"{public_url}{INBOX_PATH}{quote(interaction_id)}"


def mail_links(
    note: Notification,
    *,
    receiver: str,
    address: str,
    public_url: str,
    secret: bytes,
    ttl: int,
    now: float,
) -> Links:
    expires = int(now + ttl)
    if note.deadline is not None:
        expires = min(expires, int(note.deadline.timestamp()))
    use = secrets.token_urlsafe(16)
    iid = str(note.interaction_id)

    def link(action: str, data: JsonObject) -> str:
        token = sign(
            Link(note.interaction_id, receiver, address, action, data, expires, use),
            secret,
        )
        return f"{public_url}{LINK_PATH}{token}"

    inbox = inbox_url(public_url, iid)
    return Links(
        one_click=[
            Button(o.label, link(o.action, dict(o.data)), o.style) for o in one_click(note.request)
        ],
        typed=[Button(t.label, inbox) for t in typed(note.request)],
        inbox=inbox,
        expires=datetime.fromtimestamp(expires, UTC),
    )
