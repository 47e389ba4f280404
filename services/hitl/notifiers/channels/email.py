"""The email channel: a mail per recipient of an ``email`` receiver, over its SMTP server, with
the request's text and HTML bodies and its answer links; and, once the interaction is settled,
a short mail in the same thread saying how and by whom.

Why a second mail and not an edit: a sent mail cannot be changed. The follow-up tells people
who read their mail later that nothing is left to do, threads under the first mail
(In-Reply-To), and the first mail's links, if clicked anyway, show who decided and when and
change nothing (the gateway checks them; docs/channels.md).

One-click answers (approve, choose an option, proceed) are signed links to the gateway, which
asks for a confirmation before deciding (a mail scanner that follows links decides nothing);
answers that need typing link to the interaction's page in the inbox. docs/channels.md says
how to set it up.
"""

import time
from datetime import UTC, datetime

from hitl.core.routing.config import AnyReceiver, EmailReceiver, SmtpServer
from hitl.errors import ConfigError, Permanent
from hitl.notifiers.email import render
from hitl.notifiers.email.links import inbox_url, mail_links
from hitl.notifiers.email.messages import compose
from hitl.notifiers.email.smtp import send_all
from hitl.notifiers.port import Sent
from hitl.notifiers.secrets import EnvOrFileSecrets, SecretResolver
from hitl.ports import Clock
from hitl.settings import Settings
from hitl_contract import InteractionOutcome, Notification
from hitl_contract.wire import notification_message_id


class EmailChannel:
    """``hitl.notifiers.port.Channel`` for ``email`` receivers. ``public_url``: the gateway as
    people reach it; ``link_secret``: the key answer links are signed with (the gateway's)."""

    type = "email"

    def __init__(
        self,
        *,
        public_url: str,
        link_secret: bytes,
        link_ttl_seconds: int = 7 * 24 * 3600,
        secrets: SecretResolver | None = None,
        clock: Clock = time.time,
    ) -> None:
        self._public_url = public_url.rstrip("/")
        self._secret = link_secret
        self._ttl = link_ttl_seconds
        self._secrets = secrets or EnvOrFileSecrets()
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> "EmailChannel":
        if settings.gateway_public_url is None or settings.link_secret is None:
            raise ConfigError(
                "the email notifier signs answer links to the gateway: set "
                "HITL_GATEWAY_PUBLIC_URL and HITL_LINK_SECRET (the gateway's) (docs/channels.md)"
            )
        return cls(
            public_url=settings.gateway_public_url,
            link_secret=settings.link_secret.get_secret_value().encode(),
            link_ttl_seconds=settings.email_link_ttl_seconds,
        )

    async def send(self, receiver: AnyReceiver, notification: Notification) -> Sent:
        email, server = _email(receiver)
        now = self._clock()
        iid = str(notification.interaction_id)
        reference = notification_message_id(iid, notification.reason, notification.attempt)
        mails = []
        for address in email.recipients:
            links = mail_links(
                notification, receiver=email.name, address=address,
                public_url=self._public_url, secret=self._secret, ttl=self._ttl, now=now,
            )  # fmt: skip
            rendered = render.notice(notification, email.subject_prefix, links)
            mail = compose(
                rendered, sender=server.from_, to=address, reference=reference,
                interaction_id=iid, at=datetime.fromtimestamp(now, UTC),
                follows=_first(iid) if notification.reason != "requested" else None,
            )  # fmt: skip
            mails.append((address, mail))
        reply = await send_all(server, mails, self._secrets)
        return Sent(reference=reference, detail=f"{len(mails)} mail(s): {reply}"[:200])

    async def update(self, receiver: AnyReceiver, sent: Sent, outcome: InteractionOutcome) -> None:
        email, server = _email(receiver)
        iid = str(outcome.interaction_id)
        rendered = render.settled(outcome, email.subject_prefix, inbox_url(self._public_url, iid))
        at = datetime.fromtimestamp(self._clock(), UTC)
        mails = [
            (
                address,
                compose(
                    rendered,
                    sender=server.from_,
                    to=address,
                    reference=f"settled:{iid}",
                    interaction_id=iid,
                    at=at,
                    follows=sent.reference or _first(iid),
                ),
            )
            for address in email.recipients
        ]
        await send_all(server, mails, self._secrets)

    async def close(self) -> None:
        """Nothing is kept open between deliveries."""


def _first(interaction_id: str) -> str:
    """The reference of an interaction's first notification (what reminders follow up)."""
    return notification_message_id(interaction_id, "requested", 1)


def _email(receiver: AnyReceiver) -> tuple[EmailReceiver, SmtpServer]:
    if not isinstance(receiver, EmailReceiver):
        raise TypeError(f"receiver {receiver.name} is a {receiver.type} receiver, not email")
    if receiver.smtp is None:
        raise Permanent(f"email receiver {receiver.name} has no smtp server in the routing file")
    return receiver, receiver.smtp
