"""A poison request, one the broker's handler fails on every time, amid a load of good ones:
it ends in the dead-letter queue after a bounded number of deliveries, and the rest flows
(history clean: nothing else lost, never two outcomes, none stuck).

Two ways a handler fails (``tests/faults/poisoned_broker.py`` injects them around the real
handler of a real ``hitl broker`` process):

- it raises (a bug): the broker parks the message in ``<ns>.dead-letter`` itself, with
  ``x-hitl-source: requests`` and ``x-hitl-error-code: internal``, after one delivery;
- it crashes the process (a segfault, an out-of-memory kill): nothing in the broker can count
  that; each death returns the delivery to the quorum queue, which counts it, and RabbitMQ
  dead-letters it once ``x-delivery-limit`` is spent (``x-death`` reason ``delivery_limit``).
  Two brokers, restarted by the test as a supervisor would, keep the rest flowing.
"""

import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from redis.asyncio import Redis

from hitl.settings import Settings
from hitl_contract.wire import Names
from tests.faults.history import History, What, assert_fault_hit
from tests.faults.load import Load, long_run, workload
from tests.faults.test_broker_processes import LINGER_SECONDS, Brokers, queue_depth
from tests.helpers import json_of
from tests.servers import AMQP_URL

pytestmark = pytest.mark.slow

POISONED_BROKER = (sys.executable, "-m", "tests.faults.poisoned_broker")
DELIVERY_LIMIT = Settings.model_fields["delivery_limit"].default


@dataclass(frozen=True)
class Poison:
    load: Load
    poison_after: float  # seconds into the load
    delivery_limit: int  # the queues' x-delivery-limit (HITL_DELIVERY_LIMIT)


POISON_SHORT = Poison(Load(interactions=200, in_flight=64, spread=6.0), 1.0, delivery_limit=2)
POISON_LONG = Poison(Load(interactions=2000, in_flight=256, spread=30.0), 5.0, DELIVERY_LIMIT)


class Supervisor:
    """Keeps ``n`` brokers running: one that died is started again (and counted)."""

    def __init__(self, brokers: Brokers, n: int, **env: str) -> None:
        self.brokers, self.n, self.env = brokers, n, env
        self.deaths = 0

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator["Supervisor"]:
        live = [await self.brokers.start(**self.env) for _ in range(self.n)]

        async def watch() -> None:
            while True:
                for i, broker in enumerate(live):
                    if broker.process.returncode is not None:
                        self.deaths += 1
                        # not waiting for "ready": the poison may come first again
                        live[i] = await self.brokers.start(wait_ready=False, **self.env)
                await asyncio.sleep(0.1)

        watching = asyncio.create_task(watch())
        try:
            yield self
        finally:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching


async def drain(amqp: AbstractRobustConnection, queue: str) -> list[AbstractIncomingMessage]:
    """Whatever is in ``queue`` now, taken off it."""
    channel = await amqp.channel()
    try:
        source = await channel.get_queue(queue, ensure=False)
        taken = []
        while (message := await source.get(no_ack=True, fail=False)) is not None:
            taken.append(message)
        return taken
    finally:
        await channel.close()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", ["raise", "crash"])
async def test_a_poison_request_is_dead_lettered_after_bounded_deliveries_while_the_rest_flows(
    namespace: str,
    amqp: AbstractRobustConnection,
    redis: Redis,
    mode: str,
    request: pytest.FixtureRequest,
) -> None:
    scale = POISON_LONG if long_run(request.config) else POISON_SHORT
    names = Names(namespace)
    marker = f"POISON-{uuid.uuid4().hex}"
    history = History()
    brokers = Brokers(namespace, command=POISONED_BROKER)
    supervisor = Supervisor(
        brokers,
        2,
        POISON_TEXT=marker,
        POISON_MODE=mode,
        HITL_DELIVERY_LIMIT=str(scale.delivery_limit),
    )
    parked: dict[str, AbstractIncomingMessage] = {}  # interaction id -> its dead letter
    parked_after = float("nan")  # seconds from the poison's publish to its dead letter
    try:
        async with (
            supervisor.running(),
            workload(history, namespace, AMQP_URL, scale.load) as work,
        ):
            producing = asyncio.create_task(work.run())
            await asyncio.sleep(scale.poison_after)
            poison = work.client.new_request("approval", thread_id="poison", prompt=marker)
            await work.client.submit(poison)  # confirmed; not in the history: it has no outcome
            sent_at = time.monotonic()
            everyone = {str(r.id) for r in work.requests} | {str(poison.id)}

            def unsettled() -> set[str]:
                return everyone - set(parked) - {str(i) for i in history.ids(What.HANDED)}

            # Every good request decided, or dead-lettered beside the poison; the poison parked.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 180
            while not producing.done() or unsettled():
                for message in await drain(amqp, names.dead_letter_queue):
                    body = json_of(message)  # a request, or an answer (beside the poison)
                    parked[body.get("id") or body["interaction_id"]] = message
                    if body.get("id") == str(poison.id):
                        parked_after = time.monotonic() - sent_at
                assert loop.time() < deadline, f"{len(parked)} parked, {history.check().summary()}"
                await asyncio.sleep(0.2)
            await producing
            await asyncio.sleep(LINGER_SECONDS)
            pending = await work.pending_in(redis, namespace)
            left_in_queue, _ = await queue_depth(amqp, names.requests_queue)
    finally:
        await brokers.close()

    poisoned = parked.pop(str(poison.id))
    collateral = {UUID(iid): message for iid, message in parked.items()}
    verdict = history.check(pending, parked=collateral)
    headers = poisoned.headers or {}
    print(
        f"\npoison ({mode}) amid {scale.load.interactions} interactions: {verdict.summary()}; "
        f"the poison dead-lettered {parked_after:.1f}s after it was sent, brokers died "
        f"{supervisor.deaths}x (x-delivery-limit {scale.delivery_limit}); x-death "
        f"{[(d.get('reason'), d.get('count')) for d in headers.get('x-death', [])]}; "  # type: ignore[union-attr]
        f"good messages dead-lettered beside it: {len(collateral)} ("
        f"{sorted(m.type or '?' for m in collateral.values())})"
    )
    assert left_in_queue == 0
    verdict.assert_clean()
    assert verdict.statuses == {"resolved": scale.load.interactions - verdict.parked}
    if mode == "raise":  # parked by the broker at the first delivery; nobody died
        assert headers["x-hitl-source"] == "requests"
        assert headers["x-hitl-error-code"] == "internal"
        assert supervisor.deaths == 0
        assert not collateral
        assert_fault_hit(parked_by_the_broker=1)
    else:  # parked by RabbitMQ once its delivery limit was spent
        for message in (poisoned, *collateral.values()):
            (death,) = (message.headers or {})["x-death"]  # type: ignore[misc]
            assert death["reason"] == "delivery_limit", death  # type: ignore[index]
        assert "x-hitl-source" not in headers
        assert 1 <= supervisor.deaths <= scale.delivery_limit + 1
        assert_fault_hit(deaths=supervisor.deaths)
