"""The Slack channel: a Block Kit message per notification in the receiver's channel
(chat.postMessage), with buttons for one-click answers and for answers typed in a modal; once
the interaction is settled, the same message edited (chat.update) to say how, by whom and
when, its buttons gone.

The buttons come back to the gateway's interactivity endpoint (``/slack/interactivity``),
signed by Slack; the gateway maps the Slack user to a person (the receiver's ``users``) and
answers through the broker (``hitl.gateway.routers.slack``). A receiver without a
``signing_secret`` gets the message without buttons (and a link to the inbox when the
gateway's public URL is set). docs/channels.md has the Slack app's manifest.
"""

from hitl.core.routing.config import AnyReceiver, SlackReceiver
from hitl.notifiers.email.links import inbox_url
from hitl.notifiers.port import Sent
from hitl.notifiers.secrets import EnvOrFileSecrets, SecretResolver
from hitl.notifiers.slack import blocks
from hitl.notifiers.slack.api import SlackApi
from hitl.settings import Settings
from hitl_contract import Claim, InteractionOutcome, Notification


class SlackChannel:
    """``hitl.notifiers.port.Channel`` for ``slack`` receivers. ``public_url``: the gateway as
    people reach it, for links to the inbox (optional)."""

    type = "slack"

    def __init__(
        self, *, public_url: str | None = None, secrets: SecretResolver | None = None
    ) -> None:
        self._public_url = public_url.rstrip("/") if public_url else None
        self._api = SlackApi(secrets or EnvOrFileSecrets())

    @classmethod
    def from_settings(cls, settings: Settings) -> "SlackChannel":
        return cls(public_url=settings.gateway_public_url)

    async def send(self, receiver: AnyReceiver, notification: Notification) -> Sent:
        slack = _slack(receiver)
        text, shown = self._message(slack, notification, None)
        answer = await self._api.call(
            slack, "chat.postMessage", channel=slack.channel, text=text, blocks=shown
        )
        where = f"{answer.get('channel', slack.channel)}/{answer.get('ts', '')}"
        # The record keeps what was posted: the update shows it again, settled.
        return Sent(reference=where, detail=text[:500])

    async def show_claim(
        self, receiver: AnyReceiver, sent: Sent, notification: Notification, claim: Claim | None
    ) -> None:
        """The message again, as ``send`` posted it, with the "Claimed by X until T" line
        (none once released)."""
        slack = _slack(receiver)
        channel, _, ts = (sent.reference or "").partition("/")
        if not channel or not ts:
            return
        text, shown = self._message(slack, notification, claim)
        await self._api.call(slack, "chat.update", channel=channel, ts=ts, text=text, blocks=shown)

    def _message(
        self, slack: SlackReceiver, notification: Notification, claim: Claim | None
    ) -> tuple[str, list[blocks.Block]]:
        iid = str(notification.interaction_id)
        inbox = inbox_url(self._public_url, iid) if self._public_url else None
        interactive = slack.signing_secret is not None
        return blocks.message(
            notification, slack.name, interactive=interactive, inbox=inbox, claim=claim
        )

    async def update(self, receiver: AnyReceiver, sent: Sent, outcome: InteractionOutcome) -> None:
        slack = _slack(receiver)
        channel, _, ts = (sent.reference or "").partition("/")
        if not channel or not ts:
            return  # nothing known to edit (a record from before references were kept)
        text, shown = blocks.settled(sent.detail or "", outcome)
        await self._api.call(slack, "chat.update", channel=channel, ts=ts, text=text, blocks=shown)

    async def close(self) -> None:
        """Each call has its own client: nothing is kept open."""


def _slack(receiver: AnyReceiver) -> SlackReceiver:
    if not isinstance(receiver, SlackReceiver):
        raise TypeError(f"receiver {receiver.name} is a {receiver.type} receiver, not slack")
    return receiver
