"""The delivery pipeline's decisions, on twins: retries and their delays, Retry-After,
permanent failures, a receiver disabled by 410, the fallback receiver, the dead-letter queue,
and what each step records in the interaction's history."""

from uuid import UUID

import orjson
import pytest

from hitl.adapters.memory import MemoryStore
from hitl.adapters.memory.delivery_log import MemoryDeliveryLog
from hitl.core.decoding import decode_request
from hitl.core.machine import answer, open_interaction
from hitl.core.routing.config import WebhookReceiver
from hitl.errors import ConfigError, Permanent, Retryable
from hitl.notifiers.delivery import Deliverer, Job, Result, RetryPolicy
from hitl.notifiers.metrics import ATTEMPT_OUTCOMES, DELIVERY_RESULTS, NotifierMetrics
from hitl.notifiers.port import Sent
from hitl.notifiers.updates import Updater
from hitl_contract import HumanResponse, Identity, InteractionOutcome, Notification
from tests.helpers import raw_request

NOW = 1_800_000_000.0
HOOK = WebhookReceiver(type="webhook", name="hook", url="https://hook.example.com/x")


class ScriptedChannel:
    """Answers each send with the next scripted step: an exception to raise, or a Sent."""

    type = "webhook"

    def __init__(self, *steps: Exception | Sent) -> None:
        self.steps = list(steps)
        self.sent: list[str] = []
        self.updated: list[tuple[str, str | None]] = []

    async def send(self, receiver, notification: Notification) -> Sent:
        self.sent.append(receiver.name)
        step = self.steps.pop(0) if self.steps else Sent("ref-1", "HTTP 204")
        if isinstance(step, Exception):
            raise step
        return step

    async def update(self, receiver, sent: Sent, outcome: InteractionOutcome) -> None:
        self.updated.append((receiver.name, sent.reference))

    async def close(self) -> None:
        return None


class Escape:
    def __init__(self) -> None:
        self.fallbacks: list[tuple[str, str]] = []
        self.dead: list[tuple[str, str]] = []
        self.bound = True  # a notifier serves the fallback receiver

    async def fallback(self, note, message_id: str, receiver: str, to: str) -> bool:
        self.fallbacks.append((receiver, to))
        return self.bound

    async def dead_letter(self, note, message_id: str, receiver: str, reason: str) -> None:
        self.dead.append((receiver, reason))


class Settled:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    async def is_settled(self, interaction_id: UUID) -> bool:
        state = await self.store.load(interaction_id)
        return state is None or not state.is_pending


class World:
    def __init__(self, *steps: Exception | Sent) -> None:
        self.store = MemoryStore()
        self.log = MemoryDeliveryLog()
        self.channel = ScriptedChannel(*steps)
        self.escape = Escape()
        self.slept: list[float] = []
        self.metrics = NotifierMetrics()

        async def sleep(seconds: float) -> None:
            self.slept.append(seconds)

        self.deliverer = Deliverer(
            self.channel, self.log, self.store, Settled(self.store), self.escape, self.metrics,
            policy=RetryPolicy(attempts=3, base=1.0, cap=4.0, longest_retry_after=60.0),
            clock=lambda: NOW, sleep=sleep,
        )  # fmt: skip

    async def job(self, fallback: str | None = "backup") -> Job:
        request = decode_request(orjson.dumps(raw_request()), 1 << 20)
        transition = open_interaction(request, NOW, "hook")
        await self.store.create(transition, [])
        note = Notification(
            interaction_id=request.id, reason="requested", route="hook", attempt=1, request=request
        )
        return Job(note, f"notification:{request.id}:requested:1:hook", HOOK, fallback)

    async def events(self, job: Job) -> list[tuple[str, str | None]]:
        history = await self.store.history(job.notification.interaction_id)
        return [(h.event, h.detail) for h in history if h.receiver]


async def test_a_delivery_is_recorded_once_and_not_repeated() -> None:
    world = World()
    job = await world.job()
    assert await world.deliverer.deliver(job) == Result.DELIVERED
    assert await world.deliverer.deliver(job) == Result.DUPLICATE
    assert world.channel.sent == ["hook"]
    [(event, detail)] = await world.events(job)
    assert (event, detail) == ("delivered", "HTTP 204")
    history = await world.store.history(job.notification.interaction_id)
    delivered = history[-1]
    assert (delivered.attempt, delivered.reference, delivered.channel) == (1, "ref-1", "webhook")
    sample = world.metrics.registry.get_sample_value
    assert sample("hitl_notifier_deliveries_total",
                  {"channel": "webhook", "receiver": "hook", "result": "delivered"}) == 1  # fmt: skip


async def test_retryable_failures_back_off_and_honour_retry_after() -> None:
    world = World(Retryable("HTTP 503"), Retryable("HTTP 429", retry_after=20.0))
    job = await world.job()
    assert await world.deliverer.deliver(job) == Result.DELIVERED
    assert world.channel.sent == ["hook"] * 3
    assert 0 <= world.slept[0] <= 1.0  # full jitter within base * 2**0
    assert world.slept[1] == 20.0  # Retry-After outweighs the backoff
    assert [e for e, _ in await world.events(job)] == [
        "delivery_failed", "delivery_failed", "delivered",
    ]  # fmt: skip


async def test_a_receiver_that_keeps_failing_falls_back() -> None:
    world = World(*[Retryable("HTTP 502")] * 3)
    job = await world.job()
    assert await world.deliverer.deliver(job) == Result.FELL_BACK
    assert world.escape.fallbacks == [("hook", "backup")]
    assert (await world.events(job))[-1] == ("fell_back", "to backup: HTTP 502")
    assert len(world.slept) == 2  # no wait after the last attempt


async def test_without_a_fallback_it_is_dead_lettered_with_the_reason() -> None:
    world = World(Permanent("HTTP 404"))
    job = await world.job(fallback=None)
    assert await world.deliverer.deliver(job) == Result.UNDELIVERED
    assert world.channel.sent == ["hook"]  # a permanent failure is not retried
    assert world.escape.dead == [("hook", "HTTP 404")]
    assert (await world.events(job))[-1] == ("undelivered", "HTTP 404")


async def test_a_fallback_no_notifier_serves_is_undelivered_not_fell_back() -> None:
    """Counted (and recorded) as undelivered: nobody was told, as the alert on it says."""
    world = World(Permanent("HTTP 404"))
    world.escape.bound = False
    job = await world.job()
    assert await world.deliverer.deliver(job) == Result.UNDELIVERED
    reason = "HTTP 404; its fallback receiver 'backup' has no notifier bound"
    assert world.escape.dead == [("hook", reason)]
    assert (await world.events(job))[-1] == ("undelivered", reason)
    value = world.metrics.registry.get_sample_value(
        "hitl_notifier_deliveries_total",
        {"channel": "webhook", "receiver": "hook", "result": "undelivered"},
    )
    assert value == 1


async def test_gone_disables_the_receiver_until_enabled() -> None:
    world = World(Permanent("HTTP 410 Gone", disable=True))
    first = await world.job()
    assert await world.deliverer.deliver(first) == Result.FELL_BACK
    assert await world.log.disabled("hook") == "HTTP 410 Gone"
    second = await world.job()
    assert await world.deliverer.deliver(second) == Result.FELL_BACK
    assert world.channel.sent == ["hook"]  # not tried again while disabled
    assert (await world.events(second)) == [
        ("fell_back", "to backup: receiver disabled: HTTP 410 Gone")
    ]
    assert await world.log.enable("hook")
    assert await world.deliverer.deliver(await world.job()) == Result.DELIVERED


@pytest.mark.parametrize(
    ("failure", "says"),
    [
        (ConfigError("secret HOOK is not set"), "receiver misconfigured: secret HOOK is not set"),
        (ZeroDivisionError("a bug"), "channel error: ZeroDivisionError('a bug')"),
    ],
)
async def test_misconfiguration_and_channel_bugs_fail_for_good(
    failure: Exception, says: str
) -> None:
    world = World(failure)
    job = await world.job(fallback=None)
    assert await world.deliverer.deliver(job) == Result.UNDELIVERED
    assert world.escape.dead == [("hook", says)]


async def test_a_decided_interaction_is_not_notified() -> None:
    world = World()
    job = await world.job()
    state = await world.store.load(job.notification.interaction_id)
    assert state is not None
    response = HumanResponse(
        interaction_id=state.request.id, action="approve", responder=Identity(id="a")
    )
    await world.store.commit(answer(state, response, NOW + 1), state.version, [], NOW + 1)
    assert await world.deliverer.deliver(job) == Result.SETTLED
    assert world.channel.sent == []


async def test_on_decision_every_receiver_shown_is_updated_once() -> None:
    world = World()
    job = await world.job()
    await world.deliverer.deliver(job)

    def receivers(name: str) -> WebhookReceiver | None:
        return HOOK if name == "hook" else None

    updater = Updater(
        world.channel, world.store, world.log, world.store, receivers, world.metrics,
        clock=lambda: NOW,
    )  # fmt: skip
    state = await world.store.load(job.notification.interaction_id)
    assert state is not None
    response = HumanResponse(
        interaction_id=state.request.id, action="approve", responder=Identity(id="a")
    )
    decided = answer(state, response, NOW + 1)
    await world.store.commit(decided, state.version, [], NOW + 1)
    assert decided.state.outcome is not None
    await updater.settled(decided.state.outcome)
    await updater.settled(decided.state.outcome)  # the event again: no second update
    assert world.channel.updated == [("hook", "ref-1")]
    assert (await world.events(job))[-1] == ("updated", "settled: resolved (approve)")


async def _decide(world: World, job: Job) -> InteractionOutcome:
    state = await world.store.load(job.notification.interaction_id)
    assert state is not None
    response = HumanResponse(
        interaction_id=state.request.id, action="approve", responder=Identity(id="a")
    )
    decided = answer(state, response, NOW + 1)
    await world.store.commit(decided, state.version, [], NOW + 1)
    assert decided.state.outcome is not None
    return decided.state.outcome


async def test_retries_stop_once_the_interaction_is_decided() -> None:
    world = World(Retryable("HTTP 503"), Retryable("HTTP 503"))
    job = await world.job()
    slept = world.deliverer._sleep

    async def decided_meanwhile(seconds: float) -> None:
        await slept(seconds)
        await _decide(world, job)

    world.deliverer._sleep = decided_meanwhile
    assert await world.deliverer.deliver(job) == Result.SETTLED
    assert world.channel.sent == ["hook"]  # not sent again to show a settled request


async def test_a_delivery_that_ends_after_the_decision_is_updated() -> None:
    # The update on decision ran while the delivery was under way (nothing shown yet); the
    # delivery then shows the request: the receiver must be told it is settled.
    world = World()
    job = await world.job()
    updater = Updater(
        world.channel, world.store, world.log, world.store,
        lambda name: HOOK if name == "hook" else None, world.metrics, clock=lambda: NOW,
    )  # fmt: skip
    send = world.channel.send

    async def decided_while_sending(receiver, notification: Notification) -> Sent:
        outcome = await _decide(world, job)
        await updater.settled(outcome)  # nothing shown yet: nothing to update
        return await send(receiver, notification)

    async def late(late_job: Job, sent: Sent) -> None:
        state = await world.store.load(late_job.notification.interaction_id)
        assert state is not None and state.outcome is not None
        await updater.shown(late_job.receiver.name, sent, state.outcome)

    world.channel.send = decided_while_sending  # type: ignore[method-assign]
    world.deliverer._late = late
    assert await world.deliverer.deliver(job) == Result.DELIVERED
    assert world.channel.updated == [("hook", "ref-1")]
    assert (await world.events(job))[-1] == ("updated", "settled: resolved (approve)")


def test_a_channel_and_its_receivers_start_every_series_at_zero() -> None:
    """So increase() in the alert rules sees the first undelivered or fell_back one."""
    assert set(DELIVERY_RESULTS) == {r.value for r in Result}
    metrics = NotifierMetrics()
    metrics.start_channel("webhook")
    metrics.start_receiver("webhook", "hook")
    sample = metrics.registry.get_sample_value
    for result in DELIVERY_RESULTS:
        labels = {"channel": "webhook", "receiver": "hook", "result": result}
        assert sample("hitl_notifier_deliveries_total", labels) == 0, result
    for outcome in ATTEMPT_OUTCOMES:
        assert (
            sample("hitl_notifier_attempts_total", {"channel": "webhook", "outcome": outcome}) == 0
        )
    for result in ("ok", "failed"):
        assert sample("hitl_notifier_updates_total", {"channel": "webhook", "result": result}) == 0
    assert sample("hitl_notifier_delivery_seconds_count", {"channel": "webhook"}) == 0
