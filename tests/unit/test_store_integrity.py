"""Store integrity without servers: the watermark against what Redis came back with, and the
reconciliation plan (what the log says was published against what the store holds)."""

from uuid import UUID, uuid4

import orjson
import pytest

from hitl.adapters.redis.integrity import Greeting, Loss, SequenceWatch, ShardEpoch
from hitl.adapters.redis.keys import Keys
from hitl.core import integrity
from hitl.core.decoding import decode_request
from hitl.core.machine import TIMEOUT, InteractionState, answer, open_interaction
from hitl_contract import InteractionRequest, LifecycleEvent
from tests.helpers import answer as response
from tests.helpers import raw_request

NOW = 1_800_000_000.0


class Heard:
    def __init__(self) -> None:
        self.greetings: list[Greeting] = []
        self.losses: list[Loss] = []

    def greeted(self, greeting: Greeting) -> None:
        self.greetings.append(greeting)

    def went_back(self, loss: Loss) -> None:
        self.losses.append(loss)


def watch() -> tuple[SequenceWatch, Heard]:
    w = SequenceWatch(None, Keys("t", 2))  # type: ignore[arg-type]  # no Redis: pure parts
    heard = Heard()
    w.listener = heard
    return w, heard


def epoch(shard: int, n: int, loaded: int, *, first: bool = False) -> ShardEpoch:
    return ShardEpoch(shard, n, loaded, first, None, first)


def test_a_new_redis_process_that_came_back_lower_than_the_watermark_is_a_loss() -> None:
    w, _ = watch()
    w._compare("run-1", (epoch(0, 0, 0, first=True), epoch(1, 0, 0, first=True)))
    for n in range(1, 11):
        w.observe(0, n)
    w.observe(1, 1)

    greeting = w._compare("run-2", (epoch(0, 7, 4), epoch(1, 1, 1)))

    assert [(loss.shard, loss.seen, loss.found, loss.transitions) for loss in greeting.losses] == [
        (0, 10, 4, 6)
    ]
    assert greeting.losses[0].how == "restart"
    assert w.watermark == {0: 7, 1: 1}  # from what Redis has now: the loss is told once


def test_the_same_process_again_or_a_first_connection_is_no_loss() -> None:
    w, _ = watch()
    assert w._compare("run-1", (epoch(0, 5, 0), epoch(1, 3, 0))).losses == ()  # first sight
    w.observe(0, 6)
    assert w._compare("run-1", (epoch(0, 9, 0), epoch(1, 3, 0))).losses == ()  # a reconnect
    assert w.watermark == {0: 9, 1: 3}


def test_a_transition_number_not_above_the_watermark_is_told_once() -> None:
    w, heard = watch()
    w._compare("run-1", (epoch(0, 0, 0), epoch(1, 0, 0)))
    w.observe(0, 5)
    w.observe(0, 3)  # flushed, or a replica that had less
    w.observe(0, 4)
    assert [(loss.seen, loss.found, loss.how) for loss in heard.losses] == [(5, 2, "regression")]


def request() -> InteractionRequest:
    return decode_request(orjson.dumps(raw_request(timeout_seconds=60)), 1 << 20)


def pending() -> InteractionState:
    return open_interaction(request(), NOW, "default").state


def final_of(state: InteractionState, action: str = "approve") -> LifecycleEvent:
    """The final event an approval published."""
    transition = answer(state, response(state.request.id, action), NOW + 5)
    (event,) = [
        c.event
        for c in transition.commands
        if hasattr(c, "event") and c.event.event.value in ("resolved", "timed_out")
    ]
    return event


def test_restored_finishes_with_the_published_outcome_and_sends_nothing() -> None:
    state = pending()
    final = final_of(state)

    restored = integrity.restored(state, final)

    assert restored.state.outcome == final.outcome
    assert restored.state.status == "resolved" and restored.state.version == state.version + 1
    assert restored.unschedule == (f"{state.request.id}|{TIMEOUT}",)
    assert not restored.state.timers
    assert [type(c).__name__ for c in restored.commands] == ["Emit"]  # history only


def test_plan_puts_each_logged_interaction_where_it_belongs() -> None:
    back_pending, gone, gone_unlogged, asked, decided, other = (pending() for _ in range(6))
    logged = integrity.Logged()
    finals = {
        s.request.id: final_of(s) for s in (back_pending, gone, gone_unlogged, decided, other)
    }
    for final in finals.values():
        logged.final(final)
    logged.requested |= {gone.request.id, asked.request.id, back_pending.request.id}
    elsewhere = integrity.restored(other, final_of(other, "reject")).state
    stored: dict[UUID, InteractionState | None] = {
        back_pending.request.id: back_pending,
        gone.request.id: None,
        gone_unlogged.request.id: None,
        asked.request.id: None,
        decided.request.id: integrity.restored(decided, finals[decided.request.id]).state,
        other.request.id: elsewhere,
    }

    todo = integrity.plan(logged, stored)

    assert todo.finish == (back_pending.request.id,)
    assert todo.remake == (gone.request.id,)
    assert todo.lost == (gone_unlogged.request.id,)
    assert todo.ask_again == (asked.request.id,)
    assert todo.second == (other.request.id,)


def test_a_second_different_outcome_in_the_log_is_kept_apart() -> None:
    state = pending()
    logged = integrity.Logged()
    first, later = final_of(state, "approve"), final_of(state, "reject")
    logged.final(first)
    logged.final(first)  # republished: the same
    logged.final(later)
    assert logged.finals == {state.request.id: first}
    assert logged.second == {state.request.id: later}
    assert integrity.plan(logged, {state.request.id: None}).second == (state.request.id,)


@pytest.mark.parametrize("times", [1, 2])
def test_the_report_counts_each_interaction_once(times: int) -> None:
    report = integrity.Report("run", None)
    iid = uuid4()
    results = [report.add(integrity.OUTCOME_RESTORED, iid) for _ in range(times)]
    assert results == [True] + [False] * (times - 1)
    assert report.counts[integrity.OUTCOME_RESTORED] == 1
    assert report.lost_anything
    assert "1 outcome_restored" in report.summary()
