"""Email and Slack delivery through hitl's channels, for the benchmark issue 15 asks for: each
channel's throughput against what a team would write by hand, in the same run, to the same
stand-in process (``hitl_bench.channel_standins``).

- email: ``EmailChannel.send`` against ``aiosmtplib.send`` of the same mail, built with the
  channel's own functions (``mail_links``, ``render.notice``, ``compose``) for each
  notification, to aiosmtpd. Both open one SMTP connection per mail (a receiver with one
  address gets one mail per notification).
- Slack: ``SlackChannel.send`` against ``AsyncWebClient.chat_postMessage`` from one client,
  with the channel's own blocks (``blocks.message``), to the Web API stand-in. slack_sdk's
  client opens an aiohttp session per call unless given one, and so does the channel (a
  client per call): the baseline is the client as its docs show it.

So only the sending differs. ``measure`` runs both senders of a channel at each concurrency,
interleaved, ``count`` notifications a sample (``webhook_delivery.notifications``), and reads
the CPU of the bench process (the sender) and of the stand-in.
"""

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import aiosmtplib
from slack_sdk.web.async_client import AsyncWebClient

from hitl.core.routing.config import AnyReceiver, EmailReceiver, SlackReceiver
from hitl.notifiers.channels.email import EmailChannel
from hitl.notifiers.channels.slack import SlackChannel
from hitl.notifiers.email import render
from hitl.notifiers.email.links import mail_links
from hitl.notifiers.email.messages import compose
from hitl.notifiers.secrets import EnvOrFileSecrets
from hitl.notifiers.slack import blocks
from hitl_bench.channel_standins import StandIn
from hitl_bench.procs import CpuMeter
from hitl_bench.webhook_delivery import DeliverySample, notifications
from hitl_contract import Notification
from hitl_contract.wire import notification_message_id

EMAIL, SLACK = "email", "slack"
CHANNEL = "channel"
BASELINES = {EMAIL: "aiosmtplib", SLACK: "slack_sdk"}
PUBLIC_URL = "http://127.0.0.1:8080"
LINK_SECRET = b"hitl bench link secret, 32 bytes or more"
TOKEN = "xoxb-hitl-bench"
SIGNING_SECRET = "hitl-bench-signing-secret"
TO = "ana@example.com"
Send = Callable[[Notification], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class ChannelSample(DeliverySample):
    channel: str = EMAIL  # EMAIL or SLACK; sender is CHANNEL or the channel's baseline


def receiver(channel: str, standin: StandIn) -> AnyReceiver:
    """The receiver both senders send to: one address, or one Slack channel (with buttons)."""
    if channel == EMAIL:
        return EmailReceiver.model_validate({
            "type": "email", "name": "bench-email", "to": [TO],
            "smtp": {"host": "127.0.0.1", "port": standin.port, "security": "none",
                     "from": "hitl@example.com"},
        })  # fmt: skip
    return SlackReceiver.model_validate({
        "type": "slack", "name": "bench-slack", "channel": "#bench", "api_url": standin.api_url,
        "token": {"env": "HITL_BENCH_SLACK_TOKEN"},
        "signing_secret": {"env": "HITL_BENCH_SLACK_SIGNING_SECRET"},
    })  # fmt: skip


_SECRETS = EnvOrFileSecrets({"HITL_BENCH_SLACK_TOKEN": TOKEN})


def through_channel(channel: str, to: AnyReceiver) -> tuple[Send, Callable[[], Awaitable[None]]]:
    """hitl's channel: (send one notification, close)."""
    sender: EmailChannel | SlackChannel
    if channel == EMAIL:
        sender = EmailChannel(public_url=PUBLIC_URL, link_secret=LINK_SECRET, secrets=_SECRETS)
    else:
        sender = SlackChannel(public_url=PUBLIC_URL, secrets=_SECRETS)

    async def send(note: Notification) -> object:
        return await sender.send(to, note)

    return send, sender.close


def by_hand(channel: str, to: AnyReceiver) -> tuple[Send, Callable[[], Awaitable[None]]]:
    """The baseline: the same mail with ``aiosmtplib.send``, or the same blocks with one
    ``AsyncWebClient``; (send one notification, close)."""
    if isinstance(to, EmailReceiver):
        assert to.smtp is not None
        smtp = to.smtp

        async def mail(note: Notification) -> object:
            now = time.time()
            links = mail_links(note, receiver=to.name, address=TO, public_url=PUBLIC_URL,
                               secret=LINK_SECRET, ttl=7 * 24 * 3600, now=now)  # fmt: skip
            iid = str(note.interaction_id)
            message = compose(
                render.notice(note, to.subject_prefix, links), sender=smtp.from_, to=TO,
                reference=notification_message_id(iid, note.reason, note.attempt),
                interaction_id=iid, at=datetime.fromtimestamp(now, UTC),
            )  # fmt: skip
            return await aiosmtplib.send(message, hostname=smtp.host, port=smtp.port)

        return mail, _nothing
    assert isinstance(to, SlackReceiver)
    client = AsyncWebClient(token=TOKEN, base_url=to.api_url)
    slack = to

    async def post(note: Notification) -> object:
        inbox = f"{PUBLIC_URL}/inbox/i/{note.interaction_id}"
        text, shown = blocks.message(note, slack.name, interactive=True, inbox=inbox)
        return await client.chat_postMessage(channel=slack.channel, text=text, blocks=shown)

    return post, _nothing


async def _nothing() -> None:
    return None


async def send_all(send: Send, sending: Sequence[Notification], concurrency: int) -> float:
    """Sends ``sending``, ``concurrency`` at a time; the seconds it took. A failure raises."""
    queue = iter(sending)

    async def worker() -> None:
        for note in queue:  # the workers share one iterator: each item goes once
            await send(note)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(sending))):
            group.create_task(worker())
    return time.perf_counter() - started


SENDERS = {CHANNEL: through_channel, "baseline": by_hand}


async def measure(
    channel: str, concurrencies: Sequence[int], count: int, runs: int, *, warmup: int = 50
) -> list[ChannelSample]:
    """Both senders of ``channel`` at each concurrency, ``count`` notifications a sample, to a
    stand-in process; who goes first alternates per concurrency and run."""
    standin = await StandIn.start("smtp" if channel == EMAIL else "slack")
    to = receiver(channel, standin)
    names = {CHANNEL: CHANNEL, "baseline": BASELINES[channel]}
    samples: list[ChannelSample] = []
    try:
        for make in SENDERS.values():
            send, close = make(channel, to)
            await send_all(send, notifications(warmup), 8)
            await close()
        for run in range(runs):
            for i, concurrency in enumerate(concurrencies):
                order = list(SENDERS) if (run + i) % 2 == 0 else list(SENDERS)[::-1]
                for who in order:
                    send, close = SENDERS[who](channel, to)
                    sending = notifications(count)
                    await standin.mark()
                    meter = CpuMeter({"sender": [os.getpid()], "standin": [standin.pid]})
                    meter.start()
                    seconds = await send_all(send, sending, concurrency)
                    cpu = meter.stop()
                    await close()
                    got = await standin.until("delivered", count, timeout=10.0)
                    samples.append(ChannelSample(
                        names[who], concurrency, count, seconds, cpu["sender"], cpu["standin"],
                        got["delivered"], got["connections"], run, channel,
                    ))  # fmt: skip
    finally:
        await standin.stop()
    return samples
