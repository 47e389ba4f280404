"""What both systems are measured with: an auto-responder that answers each notification, N
producers that each ask and wait in a loop, and the figures one such sample yields.

Timestamps (``time.perf_counter``, one clock: producers and responder share this process):
t0 the producer starts to publish its request; t1 the responder receives the notification;
t2 the responder starts to publish its answer; t3 the producer has the outcome.
notify = t1 - t0, outcome = t3 - t2, round trip less the responder's own time =
(t3 - t0) - (t2 - t1).
"""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import aio_pika
import orjson
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage

from hitl_bench.procs import CpuMeter
from hitl_bench.stats import Quantiles

# body of a notification -> (interaction id, routing key, body of the answer)
Answer = Callable[[bytes], tuple[str, str, bytes]]
# (routing key, body of the answer) -> sent (confirmed, or whatever its transport says)
Send = Callable[[str, bytes], Awaitable[None]]


def answer_notification(body: bytes) -> tuple[str, str, bytes]:
    """The bench bot, the same for hitl and the peer: approve whatever it is asked (a valid
    HumanResponse; the peer reads only the fields it needs)."""
    note = orjson.loads(body)
    iid = note["interaction_id"]
    response = {
        "schema_version": 1,
        "interaction_id": iid,
        "response_id": str(uuid.uuid4()),
        "action": "approve",
        "data": {"reason": "within budget"},
        "responder": {"id": "bench-bot", "display_name": "hitl bench"},
        "channel": "bench",
    }
    return iid, iid, orjson.dumps(response)


class AutoResponder:
    """A notifier bot that answers at once: consume a notification, publish the answer with
    confirms (or send it another way: ``answer_over``), then ack. Records t1 and t2 per
    interaction."""

    def __init__(
        self, exchange: AbstractExchange, answer: Answer, message_type: str, *, once: bool = False
    ) -> None:
        self._exchange = exchange
        self._answer = self._amqp_answer = answer
        self._send: Send = self._publish
        self._type = message_type
        self.notified: dict[str, float] = {}
        self.answered: dict[str, float] = {}
        # With ``once`` (several receivers notified per request: a routing file), only an
        # interaction's first notification is answered, as the first person to see it would;
        # the others are acked. ``received`` counts every notification.
        self._once: set[str] | None = set() if once else None
        self.received = 0

    def answer_over(self, answer: Answer | None = None, send: Send | None = None) -> None:
        """Answer with ``answer``'s bodies, sent by ``send`` (the gateway's HTTP); without
        them, as at first (over AMQP)."""
        self._answer = answer or self._amqp_answer
        self._send = send or self._publish

    async def on_notification(self, message: AbstractIncomingMessage) -> None:
        t1 = time.perf_counter()
        self.received += 1
        if self._once is not None:
            iid = orjson.loads(message.body)["interaction_id"]
            if iid in self._once:
                await message.ack()
                return
            self._once.add(iid)
        iid, routing_key, body = self._answer(message.body)
        t2 = time.perf_counter()
        self.notified[iid] = t1
        self.answered[iid] = t2
        await self._send(routing_key, body)
        await message.ack()

    async def _publish(self, routing_key: str, body: bytes) -> None:
        iid = routing_key  # the bench routes each answer by its interaction id
        await self._exchange.publish(
            aio_pika.Message(
                body,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                type=self._type,
                message_id=f"answer:{iid}",
                correlation_id=iid,
            ),
            routing_key,
        )

    def forget(self) -> None:
        self.notified.clear()
        self.answered.clear()
        self.received = 0


class Rig(Protocol):
    """One system under test, ready to take questions."""

    name: str

    @property
    def responder(self) -> AutoResponder: ...

    async def ask_one(self, seq: int) -> tuple[str, float, float]:
        """Ask once and wait: (interaction id, t0, t3)."""

    def cpu_groups(self) -> Mapping[str, Sequence[int]]:
        """The processes of this system, by role, for CPU accounting."""


@dataclass(frozen=True, slots=True)
class Sample:
    system: str
    concurrency: int
    count: int
    elapsed: float
    notify: Quantiles
    outcome: Quantiles
    round_trip: Quantiles
    cpu: dict[str, float] = field(default_factory=dict)
    brokers: int = 1
    run: int = 0  # which run of the bench it belongs to (samples of one run are paired)
    notifications: int = 0  # the responder got, over the sample (> count: several receivers)

    @property
    def throughput(self) -> float:
        return self.count / self.elapsed

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["throughput"] = self.throughput
        return data


async def drive(
    rig: Rig,
    concurrency: int,
    count: int,
    *,
    extra_cpu: Mapping[str, Sequence[int]] | None = None,
    brokers: int = 1,
    rate: float | None = None,
) -> Sample:
    """``concurrency`` producers ask ``count`` questions in all, each waiting for its outcome
    before asking the next one; with ``rate``, the k-th question waits until k / rate
    seconds after the start (so at most ``rate`` per second)."""
    rig.responder.forget()
    remaining = count
    done: list[tuple[str, float, float]] = []
    start = time.perf_counter()

    async def producer() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            if rate is not None:
                due = start + (count - remaining - 1) / rate - time.perf_counter()
                if due > 0:
                    await asyncio.sleep(due)
            done.append(await rig.ask_one(remaining))

    meter = CpuMeter({**rig.cpu_groups(), **(extra_cpu or {})})
    meter.start()
    start = time.perf_counter()
    await asyncio.gather(*(producer() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    cpu = meter.stop()
    notify, outcome, round_trip = [], [], []
    for iid, t0, t3 in done:
        t1 = rig.responder.notified[iid]
        t2 = rig.responder.answered[iid]
        notify.append(t1 - t0)
        outcome.append(t3 - t2)
        round_trip.append((t3 - t0) - (t2 - t1))
    received = rig.responder.received
    rig.responder.forget()
    return Sample(
        rig.name,
        concurrency,
        len(done),
        elapsed,
        Quantiles.of(notify),
        Quantiles.of(outcome),
        Quantiles.of(round_trip),
        cpu,
        brokers,
        notifications=received,
    )
