"""``hitl broker`` processes killed with SIGKILL, again and again, under load; timers while
every broker is down; answers racing the deadline. Each scenario records a ``History`` and
checks it: nothing confirmed lost, no interaction with two different outcomes, none stuck
pending, and the fault really hit.

Plain ``pytest`` runs short versions; ``pytest -m faults`` issue 16's figures (``SHORT`` and
``LONG`` below). The figures of a run are in docs/reliability.md.
"""

import asyncio
import random
import signal
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import pytest
from aio_pika.abc import AbstractRobustConnection
from redis.asyncio import Redis

from hitl.sdk import Responder
from hitl_contract import Notification
from hitl_contract.wire import Names
from tests.faults.history import History, assert_fault_hit
from tests.faults.load import Load, long_run, workload
from tests.faults.test_broker_processes import (
    LINGER_SECONDS,
    BrokerProcess,
    Brokers,
    counter_total,
    eventually,
    free_ports,
    tap,
)
from tests.helpers import answer
from tests.servers import AMQP_URL

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Kills:
    load: Load
    every: float  # seconds between two kills
    kills: int


KILLS_SHORT = Kills(Load(interactions=500, in_flight=256, spread=12.0), every=3.0, kills=3)
KILLS_LONG = Kills(Load(interactions=5000, in_flight=256, spread=125.0), every=10.0, kills=12)


class Replicas:
    """``n`` brokers, each on its own metrics port; ``kill`` one with SIGKILL and start it again,
    as a supervisor would, counting what it had seen redelivered before it died."""

    def __init__(self, brokers: Brokers, n: int) -> None:
        self.brokers = brokers
        self.ports = free_ports(n)
        self.live: list[BrokerProcess] = []
        self.redelivered = 0.0  # hitl_duplicate_messages_total over every process's life
        self.killed_at: list[float] = []
        self.ready_after: list[float] = []  # seconds from a kill to its successor's "ready"
        self._waiting: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.live = [await self.brokers.start(HITL_METRICS_PORT=str(p)) for p in self.ports]

    async def kill(self, index: int) -> None:
        """Returns once the successor is started, not ready: the kills keep their schedule."""
        victim = self.live[index]
        if victim.ready.is_set():  # else it served no metrics yet
            self.redelivered += counter_total(
                await self.brokers.metrics(victim), "hitl_duplicate_messages_total"
            )
        killed = time.monotonic()
        assert await self.brokers.stop(victim, signal.SIGKILL) == -signal.SIGKILL
        self.killed_at.append(killed)
        successor = await self.brokers.start(
            wait_ready=False, HITL_METRICS_PORT=str(self.ports[index])
        )
        self.live[index] = successor

        async def ready() -> None:  # or killed before it was: then it is not counted
            readied = asyncio.create_task(successor.ready.wait())
            exited = asyncio.create_task(successor.process.wait())
            await asyncio.wait({readied, exited}, return_when=asyncio.FIRST_COMPLETED)
            readied.cancel()
            exited.cancel()
            if successor.ready.is_set():
                self.ready_after.append(time.monotonic() - killed)

        self._waiting.append(asyncio.create_task(ready()))

    async def metrics(self) -> list[str]:
        return [await self.brokers.metrics(b) for b in self.live]

    async def finish(self) -> None:
        await asyncio.wait_for(asyncio.gather(*self._waiting), 60)
        for broker in self.live:
            await asyncio.wait_for(broker.ready.wait(), 60)
        for metrics in await self.metrics():
            self.redelivered += counter_total(metrics, "hitl_duplicate_messages_total")


@pytest.mark.timeout(600)
@pytest.mark.parametrize("replicas", [1, 2], ids=["one-broker", "two-brokers"])
async def test_brokers_sigkilled_again_and_again_under_load_lose_nothing(
    brokers: Brokers,
    namespace: str,
    redis: Redis,
    replicas: int,
    request: pytest.FixtureRequest,
) -> None:
    scale = KILLS_LONG if long_run(request.config) else KILLS_SHORT
    history = History()
    group = Replicas(brokers, replicas)
    await group.start()
    async with workload(history, namespace, AMQP_URL, scale.load) as load:
        producing = asyncio.create_task(load.run())
        began = time.monotonic()
        for k in range(scale.kills):  # on a fixed schedule, whatever a restart takes
            await asyncio.sleep(max(0.0, began + (k + 1) * scale.every - time.monotonic()))
            if producing.done():  # slow restarts on a busy machine pushed this one past it
                break
            await group.kill(k % replicas)  # with two, each in turn; the other goes on
        await producing
        await load.settled(timeout=120)
        await asyncio.sleep(LINGER_SECONDS)  # a duplicate from the relay would arrive by now
        await group.finish()
        pending = await load.pending_in(redis, namespace)
        notified_again = sum(n - 1 for n in load.notified.values())

    verdict = history.check(pending)
    # Seconds from each kill to the next outcome the producer got (with one broker: its
    # successor's start-up, connection and first commit).
    recovery = [r for at in group.killed_at if (r := history.first_outcome_after(at)) is not None]
    assert len(group.killed_at) >= min(2, scale.kills), "the load ended before two kills"
    assert len(recovery) == len(group.killed_at), "no outcome after a kill"
    print(
        f"\n{replicas} broker(s), {len(group.killed_at)} SIGKILLs every {scale.every}s under "
        f"{scale.load.interactions} interactions ({scale.load.in_flight} in flight): "
        f"{verdict.summary()}; redelivered requests/answers {group.redelivered:.0f}, "
        f"notifications again {notified_again}; successor ready after "
        f"{max(group.ready_after):.1f}s at most; first outcome after a kill within "
        f"{max(recovery):.2f}s at most"
    )
    verdict.assert_clean()
    assert verdict.statuses == {"resolved": scale.load.interactions}
    assert_fault_hit(
        redelivered=group.redelivered,
        raw_duplicates=verdict.raw_duplicates,
        notified_again=notified_again,
    )


@dataclass(frozen=True)
class Outage:
    timers: int
    down: float  # seconds every broker is down
    replicas: int


OUTAGE_SHORT = Outage(timers=200, down=5.0, replicas=2)
OUTAGE_LONG = Outage(timers=1000, down=20.0, replicas=2)


@pytest.mark.timeout(300)
async def test_timers_due_while_every_broker_is_down_fire_exactly_once_after_restart(
    brokers: Brokers,
    namespace: str,
    amqp: AbstractRobustConnection,
    redis: Redis,
    request: pytest.FixtureRequest,
) -> None:
    scale = OUTAGE_LONG if long_run(request.config) else OUTAGE_SHORT
    names = Names(namespace)
    history = History()
    group = Replicas(brokers, scale.replicas)
    await group.start()
    # Every timer falls due while the brokers are down: asked with a timeout of half the outage.
    load = Load(
        scale.timers, in_flight=scale.timers, spread=0, timeout=scale.down / 2, answer=False
    )
    async with (
        workload(history, namespace, AMQP_URL, load) as work,
        tap(amqp, namespace, names.events, "timed_out.#") as timed_out,
    ):
        await work.run()
        await eventually(
            lambda: len(work.notified) == scale.timers,
            30,
            lambda: f"{len(work.notified)} of {scale.timers} stored",
        )
        for broker in group.live:  # all down, SIGKILL: nothing gets to tidy up
            assert await brokers.stop(broker, signal.SIGKILL) == -signal.SIGKILL
        down_at = time.monotonic()
        await asyncio.sleep(scale.down)
        assert not history.ids("handed"), "an outcome while every broker was down"
        restarted_at = time.monotonic()
        await group.start()
        await work.settled(timeout=60)
        all_fired = time.monotonic() - restarted_at
        await asyncio.sleep(LINGER_SECONDS)
        await group.finish()
        pending = await work.pending_in(redis, namespace)

    verdict = history.check(pending)
    events = timed_out.event_counts()
    fired = [op.at - restarted_at for op in history.ops if op.what == "handed"]
    print(
        f"\n{scale.timers} timers due while {scale.replicas} brokers were down "
        f"{scale.down:.0f}s ({restarted_at - down_at:.1f}s): {verdict.summary()}; "
        f"timed_out events {sum(events.values())}; all fired {all_fired:.2f}s after the "
        f"restart began (first {min(fired):.2f}s)"
    )
    verdict.assert_clean()
    assert verdict.statuses == {"timed_out": scale.timers}
    assert set(events) == history.ids("confirmed")
    fired_twice = [iid for iid, ids in timed_out.event_ids().items() if len(ids) != 1]
    assert fired_twice == [], "a timer fired twice (two timed_out transitions)"
    assert_fault_hit(overdue_at_restart=scale.timers - verdict.statuses.get("resolved", 0))


@dataclass(frozen=True)
class Race:
    interactions: int
    timeout: float
    spread: float  # seconds over which they are asked


RACE_SHORT = Race(interactions=300, timeout=2.0, spread=3.0)
RACE_LONG = Race(interactions=2000, timeout=3.0, spread=20.0)
JITTER = 0.05  # answers land within 50 ms either side of the deadline


@pytest.mark.timeout(300)
async def test_answers_racing_the_deadline_give_exactly_one_outcome(
    brokers: Brokers,
    namespace: str,
    amqp: AbstractRobustConnection,
    redis: Redis,
    request: pytest.FixtureRequest,
) -> None:
    """Three brokers; each interaction is answered at its deadline +-50 ms (read from its
    notification). Each ends exactly once: resolved with our answer, or timed out, never both;
    and the race was real: both happen."""
    scale = RACE_LONG if long_run(request.config) else RACE_SHORT
    names = Names(namespace)
    history = History()
    group = Replicas(brokers, 3)
    await group.start()
    offsets: dict[UUID, float] = {}
    receipts: dict[str, int] = defaultdict(int)
    timers: set[asyncio.Task[None]] = set()
    rng = random.Random(16)
    load = Load(scale.interactions, scale.interactions, scale.spread, scale.timeout, answer=False)
    async with (
        workload(history, namespace, AMQP_URL, load) as work,
        Responder.connect(AMQP_URL, namespace=namespace) as responder,
    ):

        async def at_deadline(body: bytes) -> None:
            note = Notification.model_validate_json(body)
            if note.interaction_id in offsets or note.deadline is None:
                return
            offsets[note.interaction_id] = offset = rng.uniform(-JITTER, JITTER)
            task = asyncio.create_task(respond_at(note.interaction_id, note.deadline, offset))
            timers.add(task)
            task.add_done_callback(timers.discard)

        async def respond_at(iid: UUID, deadline: datetime, offset: float) -> None:
            await asyncio.sleep(max(0.0, deadline.timestamp() + offset - time.time()))
            response = answer(iid, "approve", who="racer@example.com")
            history.answered(iid, response.response_id)
            receipt = await responder.respond(response, timeout=15)
            receipts[receipt.result.value if receipt else "none"] += 1

        async with tap(amqp, namespace, names.notifications, "#", then=at_deadline):
            await work.run()
            await work.settled(timeout=60 + scale.timeout)
            await eventually(lambda: not timers, 30, lambda: f"{len(timers)} answers unsent")
            await asyncio.sleep(LINGER_SECONDS)
            await group.finish()
            pending = await work.pending_in(redis, namespace)
            metrics = await group.metrics()

    verdict = history.check(pending)
    late = sum(counter_total(m, "hitl_late_responses_total") for m in metrics)
    outcome_of = {iid: ops[0].outcome for iid, ops in history.by_id("handed").items()}
    early_but_timed_out = sum(
        1
        for iid, offset in offsets.items()
        if offset < -0.01 and (o := outcome_of.get(iid)) and o.status == "timed_out"
    )
    late_but_resolved = sum(
        1
        for iid, offset in offsets.items()
        if offset > 0.01 and (o := outcome_of.get(iid)) and o.status == "resolved"
    )
    print(
        f"\n{scale.interactions} answers at the deadline +-{JITTER * 1000:.0f} ms, 3 brokers: "
        f"{verdict.summary()}; receipts {dict(receipts)}; late answers counted {late:.0f}; "
        f"answered >10 ms early yet timed out {early_but_timed_out}, >10 ms late yet "
        f"resolved {late_but_resolved}"
    )
    verdict.assert_clean()  # raw duplicates (the relay's, when a confirm outlasts the lease) ok
    assert set(offsets) == history.ids("confirmed")
    # The race was real: both ends happened, and each answer that lost was told so.
    assert verdict.statuses.get("resolved", 0) > 0
    assert verdict.statuses.get("timed_out", 0) > 0
    assert_fault_hit(lost_races=verdict.statuses.get("timed_out", 0))
