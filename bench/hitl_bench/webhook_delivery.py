"""Webhook delivery through hitl's channel, for the benchmark issue 14 asks for: the channel's
throughput against a hand-written httpx sender of the same signed payloads, in the same run.

``notifications(count)`` makes what both sides send; ``through_channel`` sends it with
``WebhookChannel``. A baseline sends the same notifications with ``signed_request``'s body and
headers (the channel's own payloads and signatures), so only the sending differs.
"""

import asyncio
import base64
import time
import uuid
from collections.abc import Sequence

from hitl.core.routing.config import WebhookReceiver
from hitl.notifiers.channels.webhook import WebhookChannel
from hitl.notifiers.webhooks import payloads
from hitl.notifiers.webhooks.signing import signature, signer
from hitl_contract import ApprovalRequest, Identity, Notification, NotifyReason

SECRET = "whsec_" + base64.b64encode(b"hitl bench webhook secret, 32 by").decode()


def notifications(count: int) -> list[Notification]:
    """``count`` notifications of distinct approval requests."""
    made = []
    for seq in range(count):
        request = ApprovalRequest(
            id=uuid.uuid4(),
            thread_id=f"bench-{seq}",
            prompt=f"Deploy build {seq} to production?",
            reply_to="bench",
            requester=Identity(id="bench"),
            labels={"env": "production"},
        )
        note = Notification(
            interaction_id=request.id,
            reason=NotifyReason.REQUESTED,
            route="bench",
            attempt=1,
            request=request,
        )
        made.append(note)
    return made


def signed_request(notification: Notification, now: float) -> tuple[bytes, dict[str, str]]:
    """The body and headers the channel sends for ``notification``, for a baseline sender."""
    event = payloads.requested(notification)
    stamp = int(now)
    return event.body, {
        "content-type": "application/json",
        "webhook-id": event.webhook_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature([signer(SECRET)], event.webhook_id, stamp, event.body),
    }


async def through_channel(
    url: str, sending: Sequence[Notification], *, concurrency: int = 64
) -> float:
    """Sends ``sending`` to ``url`` through the webhook channel, ``concurrency`` at a time,
    and returns the seconds it took. ``url`` may be on loopback (``allow_private``); the first
    delivery that is not a 2xx raises its ``Retryable`` or ``Permanent``."""
    receiver = WebhookReceiver.model_validate(
        {"type": "webhook", "name": "bench", "url": url, "secret": {"env": "BENCH"},
         "allow_private": True}
    )  # fmt: skip
    channel = WebhookChannel(secrets=lambda ref: SECRET)
    queue = iter(sending)

    async def worker() -> None:
        for notification in queue:  # the workers share one iterator: each item goes once
            await channel.send(receiver, notification)

    started = time.perf_counter()
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, len(sending))):
                group.create_task(worker())
    finally:
        await channel.close()
    return time.perf_counter() - started
