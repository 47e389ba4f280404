"""Issue 15's time from a decision elsewhere to the channel's update: a Slack message edited
(chat.update reaching the Web API stand-in), or the "Settled" mail in the thread reaching the
SMTP server (a sent mail cannot be edited: the email channel's update is that mail).

Real processes: a ``hitl broker`` and a ``hitl notifier email|slack`` on a namespace of their
own (``isolation.Phase``), with a routing file of one receiver of that channel pointing at a
stand-in process (``hitl_bench.channel_standins``). ``count`` approvals are submitted and
delivered first (the stand-in has each message or mail); then each is answered over AMQP by a
person through another channel (``Responder``, channel ``bench``), ``rate`` a second. The
figure is, per interaction, from just before its answer is published to the moment the
stand-in has the whole update (``time.perf_counter()`` in both processes: on Linux one
clock). It holds the broker deciding, the lifecycle event to the notifier's settled queue,
reading the delivery record and the channel's call. Before each run, ``warmup`` interactions
(10) go the same way unmeasured, to warm the processes up.
"""

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from hitl.sdk import HitlClient
from hitl.sdk.responder import Responder
from hitl_bench.channel_delivery import EMAIL, LINK_SECRET, PUBLIC_URL, SIGNING_SECRET, TOKEN
from hitl_bench.channel_standins import StandIn
from hitl_bench.isolation import SERVICE, Phase
from hitl_bench.procs import cpu_seconds
from hitl_bench.stats import Quantiles
from hitl_contract import HumanResponse, Identity

RECEIVER = "bench-{}"


@dataclass(frozen=True, slots=True)
class UpdateSample:
    channel: str  # email or slack
    count: int
    rate: float  # answers a second
    delivered: int  # first notifications the stand-in got
    updated: int  # updates it got, of the answered interactions
    latency: Quantiles  # answer published -> the stand-in has the update, ms
    outcome: Quantiles  # answer published -> the producer has the outcome, ms (a reference)
    notifier_cpu: float  # % of one core while the answers went
    broker_cpu: float
    run: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def routing_file(path: Path, channel: str, standin: StandIn) -> Path:
    name = RECEIVER.format(channel)
    if channel == EMAIL:
        receiver: dict[str, Any] = {
            "name": name, "type": "email", "to": ["ana@example.com"],
            "smtp": {"host": "127.0.0.1", "port": standin.port, "security": "none",
                     "from": "hitl@example.com"},
        }  # fmt: skip
    else:
        receiver = {
            "name": name, "type": "slack", "channel": "#bench", "api_url": standin.api_url,
            "token": {"env": "HITL_BENCH_SLACK_TOKEN"},
            "signing_secret": {"env": "HITL_BENCH_SLACK_SIGNING_SECRET"},
        }  # fmt: skip
    path.write_text(json.dumps({"receivers": [receiver], "route": {"receivers": [name]}}))
    return path


def channel_env() -> dict[str, str]:
    """What either notifier needs besides the routing file."""
    return {
        "HITL_GATEWAY_PUBLIC_URL": PUBLIC_URL,
        "HITL_LINK_SECRET": LINK_SECRET.decode(),
        "HITL_BENCH_SLACK_TOKEN": TOKEN,
        "HITL_BENCH_SLACK_SIGNING_SECRET": SIGNING_SECRET,
    }


@dataclass
class Round:
    sent: dict[str, float]  # interaction id -> its answer published
    outcomes: dict[str, float]  # -> the producer had the outcome
    report: dict[str, Any]  # the stand-in's, once every update came (or the time was up)

    def after_answer(self, at: Mapping[str, float]) -> Quantiles:
        return Quantiles.of([at[iid] - t for iid, t in self.sent.items() if iid in at])


async def _round(
    client: HitlClient,
    responder: Responder,
    standin: StandIn,
    count: int,
    rate: float,
    timeout: float,
) -> Round:
    """``count`` approvals asked and delivered, then answered at ``rate``; the producer
    awaits each outcome meanwhile, as the reference of how soon the broker decided."""
    await standin.mark()
    ids = await asyncio.gather(*(client.submit(_request(client)) for _ in range(count)))
    got = await standin.until("delivered", count, timeout)
    if got["delivered"] < count:
        raise RuntimeError(f"the {standin.kind} stand-in got {got['delivered']} of {count}")
    sent: dict[str, float] = {}
    outcomes: dict[str, float] = {}

    async def outcome(iid: UUID) -> None:
        await client.wait(iid, timeout=timeout)
        outcomes[str(iid)] = time.perf_counter()

    waiting = [asyncio.create_task(outcome(iid)) for iid in ids]
    tasks = []
    start = time.perf_counter()
    for k, iid in enumerate(ids):
        due = start + k / rate - time.perf_counter()
        if due > 0:
            await asyncio.sleep(due)
        sent[str(iid)] = time.perf_counter()
        tasks.append(asyncio.create_task(responder.respond(_answer(iid), timeout=None)))
    await asyncio.gather(*tasks, *waiting)
    return Round(sent, outcomes, await standin.until("updated", count, timeout))


def _request(client: HitlClient) -> Any:
    return client.new_request(
        "approval",
        thread_id=f"updates-{uuid.uuid4().hex[:12]}",
        prompt="Pay 1200 EUR to ACME?",
        timeout_seconds=3600,
        labels={"team": "payments"},
    )


def _answer(iid: UUID) -> HumanResponse:
    return HumanResponse(
        interaction_id=iid,
        action="approve",
        data={"reason": "within budget"},
        responder=Identity(id="bo@example.com"),
        channel="bench",
    )


async def measure(
    channel: str,
    amqp_url: str,
    redis_url: str,
    log_dir: Path,
    broker_env: Mapping[str, str],
    *,
    count: int,
    rate: float,
    runs: int,
    warmup: int = 10,
    timeout: float = 60.0,
) -> list[UpdateSample]:
    """``runs`` rounds, each with a fresh namespace, broker and notifier; one stand-in."""
    standin = await StandIn.start("smtp" if channel == EMAIL else "slack")
    samples: list[UpdateSample] = []
    try:
        routing = routing_file(log_dir / f"updates-{channel}.json", channel, standin)
        for run in range(runs):
            phase = Phase(amqp_url, redis_url, log_dir, routing, broker_env,
                          channel=channel, receivers=(RECEIVER.format(channel),),
                          extra_env=channel_env())  # fmt: skip
            try:
                await phase.start()
                async with (
                    HitlClient.connect(amqp_url, service=SERVICE, namespace=phase.namespace) as c,
                    Responder.connect(amqp_url, namespace=phase.namespace) as responder,
                ):
                    await _round(c, responder, standin, warmup, rate, timeout)
                    cpu0 = (cpu_seconds(phase.notifier_pid), cpu_seconds(phase.broker_pid))
                    began = time.perf_counter()
                    done = await _round(c, responder, standin, count, rate, timeout)
                    wall = time.perf_counter() - began
                    cpu = (cpu_seconds(phase.notifier_pid), cpu_seconds(phase.broker_pid))
            finally:
                await phase.close()
            updates: dict[str, float] = done.report["updates"]
            samples.append(UpdateSample(
                channel, count, rate, done.report["delivered"], len(set(updates) & set(done.sent)),
                done.after_answer(updates), done.after_answer(done.outcomes),
                100.0 * (cpu[0] - cpu0[0]) / wall, 100.0 * (cpu[1] - cpu0[1]) / wall, run,
            ))  # fmt: skip
    finally:
        with contextlib.suppress(Exception):
            await standin.stop()
    return samples
