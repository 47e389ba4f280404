"""Webhook delivery through hitl's channel, for the benchmark issue 14 asks for: the channel's
throughput against a hand-written httpx sender of the same signed payloads, in the same run.

``notifications(count)`` makes what both sides send; ``through_channel`` sends it with
``WebhookChannel``. ``through_httpx``, the baseline, sends the same notifications with
``signed_request``'s body and headers (the channel's own payloads and signatures) from one
``httpx.AsyncClient`` with its defaults, as a team would write it, so only the sending differs.
``measure`` runs both against a receiver in a process of its own
(``hitl_bench.webhook_receiver``, answering 204) at each concurrency, interleaved.

The URL holds the receiver's IP address, for both: given a host name, the channel resolves it
on every send (the destination check, against DNS rebinding), which a sender that trusts the
name would not do; with an address there is nothing to resolve.
"""

import asyncio
import base64
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from hitl.core.routing.config import WebhookReceiver
from hitl.notifiers.channels.webhook import WebhookChannel
from hitl.notifiers.webhooks import payloads
from hitl.notifiers.webhooks.signing import signature, signer
from hitl_bench.procs import CpuMeter
from hitl_bench.webhook_receiver import ReceiverProcess
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


async def through_httpx(
    url: str, sending: Sequence[Notification], *, concurrency: int = 64
) -> float:
    """The baseline: the same signed requests (``signed_request``) POSTed with one
    ``httpx.AsyncClient()``, ``concurrency`` at a time; returns the seconds it took. A reply
    that is not a 2xx raises."""
    queue = iter(sending)

    async def worker(client: httpx.AsyncClient) -> None:
        for notification in queue:
            body, headers = signed_request(notification, time.time())
            response = await client.post(url, content=body, headers=headers)
            if not response.is_success:
                raise RuntimeError(f"{url} answered {response.status_code}")

    started = time.perf_counter()
    async with httpx.AsyncClient() as client, asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(sending))):
            group.create_task(worker(client))
    return time.perf_counter() - started


CHANNEL = "channel"
HTTPX = "httpx"
SENDERS = {CHANNEL: through_channel, HTTPX: through_httpx}


@dataclass(frozen=True, slots=True)
class DeliverySample:
    sender: str  # CHANNEL or HTTPX
    concurrency: int
    count: int
    seconds: float
    sender_cpu: float  # % of one core: the bench process, which sends
    receiver_cpu: float
    received: int  # what the receiver counted (== count)
    connections: int  # TCP connections the receiver saw opened
    run: int

    @property
    def throughput(self) -> float:
        return self.count / self.seconds

    @property
    def sender_cpu_ms(self) -> float:
        """The sender's CPU milliseconds per notification."""
        return self.sender_cpu * 10 / self.throughput

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "throughput": self.throughput}


async def measure(
    concurrencies: Sequence[int], count: int, runs: int, *, warmup: int = 200
) -> list[DeliverySample]:
    """Both senders at each concurrency, ``count`` notifications a sample, to one receiver
    process on 127.0.0.1; who goes first alternates per concurrency and run."""
    receiver = await ReceiverProcess.start()
    url = receiver.url()
    samples: list[DeliverySample] = []
    try:
        for send in SENDERS.values():
            await send(url, notifications(warmup), concurrency=8)
        for run in range(runs):
            for i, concurrency in enumerate(concurrencies):
                order = list(SENDERS) if (run + i) % 2 == 0 else list(SENDERS)[::-1]
                for name in order:
                    sending = notifications(count)
                    await receiver.mark()
                    meter = CpuMeter({"sender": [os.getpid()], "receiver": [receiver.pid]})
                    meter.start()
                    seconds = await SENDERS[name](url, sending, concurrency=concurrency)
                    cpu = meter.stop()
                    got = await receiver.report()
                    samples.append(
                        DeliverySample(
                            name,
                            concurrency,
                            count,
                            seconds,
                            cpu["sender"],
                            cpu["receiver"],
                            got["requests"],
                            got["connections"],
                            run,
                        )
                    )
    finally:
        await receiver.stop()
    return samples
