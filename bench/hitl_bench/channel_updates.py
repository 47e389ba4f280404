"""Issue 15's time from a decision elsewhere to the channel's update: a Slack message edited
(chat.update reaching the Web API stand-in), or the "Settled" mail in the thread reaching the
SMTP server (a sent mail cannot be edited: the email channel's update is that mail).

Real processes: a ``hitl broker`` and a ``hitl notifier email`` and ``slack`` on a namespace
of their own (``isolation.Phase``, all started at once), with a routing file of a receiver per
channel, each pointing at its stand-in process (``hitl_bench.channel_standins``); a request
labelled ``channel=<c>`` reaches channel c's. One channel after the other, ``count`` approvals
are submitted and
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
from collections.abc import Mapping, Sequence
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


def routing_file(path: Path, standins: Mapping[str, StandIn]) -> Path:
    """A receiver per channel, on its stand-in; requests labelled ``channel=<c>`` reach it."""
    receivers: list[dict[str, Any]] = []
    for channel, standin in standins.items():
        name = RECEIVER.format(channel)
        if channel == EMAIL:
            receivers.append({
                "name": name, "type": "email", "to": ["ana@example.com"],
                "smtp": {"host": "127.0.0.1", "port": standin.port, "security": "none",
                         "from": "hitl@example.com"},
            })  # fmt: skip
        else:
            receivers.append({
                "name": name, "type": "slack", "channel": "#bench", "api_url": standin.api_url,
                "token": {"env": "HITL_BENCH_SLACK_TOKEN"},
                "signing_secret": {"env": "HITL_BENCH_SLACK_SIGNING_SECRET"},
            })  # fmt: skip
    routes = [{"matchers": [f"channel={c}"], "receivers": [RECEIVER.format(c)]} for c in standins]
    root = {"receivers": [receivers[0]["name"]], "routes": routes}
    path.write_text(json.dumps({"receivers": receivers, "route": root}))
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
    requests = [_request(client, standin.kind) for _ in range(count)]
    ids = await asyncio.gather(*(client.submit(request) for request in requests))
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


def _request(client: HitlClient, standin: str) -> Any:
    return client.new_request(
        "approval",
        thread_id=f"updates-{uuid.uuid4().hex[:12]}",
        prompt="Pay 1200 EUR to ACME?",
        timeout_seconds=3600,
        labels={"team": "payments", "channel": EMAIL if standin == "smtp" else "slack"},
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
    channels: Sequence[str],
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
    """``runs`` runs, each with a fresh namespace, one broker and a notifier per channel (the
    channels measured one after the other); a stand-in per channel for all of them."""
    standins = {c: await StandIn.start("smtp" if c == EMAIL else "slack") for c in channels}
    samples: list[UpdateSample] = []
    try:
        routing = routing_file(log_dir / "updates-routing.json", standins)
        for run in range(runs):
            phase = Phase(amqp_url, redis_url, log_dir, routing, broker_env,
                          channels=tuple(channels),
                          receivers=tuple(RECEIVER.format(c) for c in channels),
                          extra_env=channel_env())  # fmt: skip
            try:
                await phase.start()
                async with (
                    HitlClient.connect(amqp_url, service=SERVICE, namespace=phase.namespace) as c,
                    Responder.connect(amqp_url, namespace=phase.namespace) as responder,
                ):
                    for channel, standin in standins.items():
                        samples.append(await _measured(
                            phase, channel, c, responder, standin, count, rate, warmup, timeout,
                            run,
                        ))  # fmt: skip
            finally:
                await phase.close()
    finally:
        for standin in standins.values():
            with contextlib.suppress(Exception):
                await standin.stop()
    return samples


async def _measured(
    phase: Phase,
    channel: str,
    client: HitlClient,
    responder: Responder,
    standin: StandIn,
    count: int,
    rate: float,
    warmup: int,
    timeout: float,
    run: int,
) -> UpdateSample:
    await _round(client, responder, standin, warmup, rate, timeout)
    notifier = phase.notifier_of(channel)
    cpu0 = (cpu_seconds(notifier), cpu_seconds(phase.broker_pid))
    began = time.perf_counter()
    done = await _round(client, responder, standin, count, rate, timeout)
    wall = time.perf_counter() - began
    cpu = (cpu_seconds(notifier), cpu_seconds(phase.broker_pid))
    updates: dict[str, float] = done.report["updates"]
    return UpdateSample(
        channel, count, rate, done.report["delivered"], len(set(updates) & set(done.sent)),
        done.after_answer(updates), done.after_answer(done.outcomes),
        100.0 * (cpu[0] - cpu0[0]) / wall, 100.0 * (cpu[1] - cpu0[1]) / wall, run,
    )  # fmt: skip
