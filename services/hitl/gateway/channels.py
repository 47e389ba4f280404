"""What the gateway needs to take answers people give in a channel's own place (an email's
answer link, a Slack button or modal): the receivers of the routing file in force, their
secrets, the link key, which links were used and which signed requests were seen, and the
Slack Web API (to open a modal, or tell a person something only they see)."""

from dataclasses import dataclass
from typing import Protocol

from hitl.core.routing.config import AnyReceiver, EmailReceiver, SlackReceiver
from hitl.notifiers.secrets import SecretResolver
from hitl.notifiers.slack.api import SlackApi
from hitl.notifiers.webhooks.verification import SeenIds
from hitl.runtime.routing import Router


class LinkUses(Protocol):
    """Which mails' answer links were used (``RedisLinkUses``, or ``MemoryLinkUses``)."""

    async def claim(self, use: str, record: bytes, ttl_seconds: int) -> bool:
        """Record the use with ``record``; False if it was used already."""
        ...

    async def read(self, use: str) -> bytes | None: ...

    async def forget(self, use: str) -> None:
        """The answer was not taken (the gateway said to try again): the link works again."""
        ...


@dataclass
class Channels:
    router: Router
    secrets: SecretResolver
    uses: LinkUses
    seen: SeenIds  # Slack requests accepted (replays are refused)
    slack: SlackApi
    link_secret: bytes | None  # settings.link_secret: None, answer links are refused

    def receiver(self, name: str) -> AnyReceiver | None:
        config = self.router.config
        found = [r for r in (config.receivers if config else []) if r.name == name]
        return found[0] if found else None

    def email(self, name: str) -> EmailReceiver | None:
        found = self.receiver(name)
        return found if isinstance(found, EmailReceiver) else None

    def slack_receivers(self) -> list[SlackReceiver]:
        config = self.router.config
        return [r for r in (config.receivers if config else []) if isinstance(r, SlackReceiver)]
