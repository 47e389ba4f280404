"""The Coalescer on its own (pure asyncio): what is submitted in one loop turn is flushed as one
batch, results and errors go back to their own callers, and a cancelled leader strands no one."""

import asyncio
import gc

import pytest

from hitl.errors import TransportError
from hitl.runtime.coalescer import Coalescer


class Recorder:
    def __init__(self, *, gate: asyncio.Event | None = None) -> None:
        self.batches: list[list[int]] = []
        self.gate = gate

    async def flush(self, items: list[int]) -> list[int | BaseException]:
        self.batches.append(items)
        if self.gate is not None:
            await self.gate.wait()
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


async def cancel_the_leader_mid_flush(
    batcher: Coalescer[int, int], recorder: Recorder, others: list[int]
) -> list["asyncio.Task[int]"]:
    """Submit 0 (the leader) and ``others`` in one batch, cancel the leader while the flush
    waits at its gate, then open the gate. Returns the others' tasks."""
    assert recorder.gate is not None
    leader = asyncio.create_task(batcher.submit(0))
    followers = [asyncio.create_task(batcher.submit(i)) for i in others]
    while not recorder.batches:
        await asyncio.sleep(0)
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    recorder.gate.set()
    return followers


async def test_one_turn_is_one_batch_and_each_caller_gets_its_own_result() -> None:
    recorder = Recorder()
    batcher: Coalescer[int, int] = Coalescer(recorder.flush)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(6)), return_exceptions=True)
    assert recorder.batches == [[0, 1, 2, 3, 4, 5]]
    assert results[0::2] == [0, 20, 40]
    assert [str(e) for e in results[1::2]] == ["odd 1", "odd 3", "odd 5"]
    assert await batcher.submit(8) == 80
    assert recorder.batches[-1] == [8]


async def test_a_failed_flush_fails_every_caller_of_the_batch() -> None:
    async def broken(items: list[int]) -> list[int]:
        raise TransportError("down")

    batcher: Coalescer[int, int] = Coalescer(broken)
    results = await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True)
    assert [type(r) for r in results] == [TransportError, TransportError]


async def test_a_leader_cancelled_before_the_flush_hands_the_batch_on() -> None:
    recorder = Recorder()
    batcher: Coalescer[int, int] = Coalescer(recorder.flush)
    leader = asyncio.create_task(batcher.submit(0))
    follower = asyncio.create_task(batcher.submit(2))
    await asyncio.sleep(0)  # both queued; the leader is yielding
    leader.cancel()
    assert await follower == 20
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert recorder.batches == [[0, 2]]


async def test_a_leader_cancelled_mid_flush_leaves_the_batch_running_for_the_others() -> None:
    recorder = Recorder(gate=asyncio.Event())
    batcher: Coalescer[int, int] = Coalescer(recorder.flush)
    follower = await cancel_the_leader_mid_flush(batcher, recorder, others=[2])
    assert await follower[0] == 20  # the follower's item went out, and it is told so
    assert recorder.batches == [[0, 2]]


class Overlap:
    """A flush that records how many flushes ran at the same time."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.gate = asyncio.Event()

    async def flush(self, items: list[int]) -> list[int]:
        self.running += 1
        self.most = max(self.most, self.running)
        await self.gate.wait()
        self.running -= 1
        return items


async def test_one_at_a_time_holds_after_a_waiting_leader_is_cancelled() -> None:
    overlap = Overlap()
    batcher: Coalescer[int, int] = Coalescer(overlap.flush, one_at_a_time=True)
    first = asyncio.create_task(batcher.submit(1))  # in flight
    await asyncio.sleep(0)
    waiting = asyncio.create_task(batcher.submit(2))  # leads the next batch, waits
    await asyncio.sleep(0)
    waiting.cancel()  # hands its batch over
    await asyncio.sleep(0)
    third = asyncio.create_task(batcher.submit(3))
    for _ in range(5):
        await asyncio.sleep(0)
    overlap.gate.set()
    assert await asyncio.gather(first, third) == [1, 3]
    assert overlap.most == 1


async def test_one_at_a_time_goes_at_once_when_idle_and_gathers_behind_a_batch_in_flight() -> None:
    gate = asyncio.Event()
    recorder = Recorder(gate=gate)
    batcher: Coalescer[int, int] = Coalescer(recorder.flush, one_at_a_time=True)
    first = asyncio.create_task(batcher.submit(0))
    while not recorder.batches:
        await asyncio.sleep(0)
    assert recorder.batches == [[0]]  # alone: flushed without waiting for company
    later = [asyncio.create_task(batcher.submit(i)) for i in (2, 4, 6)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert recorder.batches == [[0]]  # they wait while the first batch is in flight
    gate.set()
    assert await asyncio.gather(first, *later) == [0, 20, 40, 60]
    assert recorder.batches == [[0], [2, 4, 6]]


async def test_a_lone_leader_cancelled_mid_flush_leaves_the_batcher_usable() -> None:
    recorder = Recorder(gate=asyncio.Event())
    batcher: Coalescer[int, int] = Coalescer(recorder.flush, one_at_a_time=True)
    await cancel_the_leader_mid_flush(batcher, recorder, others=[])
    assert await asyncio.wait_for(batcher.submit(4), 1) == 40  # idle again, not stuck


async def test_submit_many_returns_each_result_or_error_in_order() -> None:
    recorder = Recorder()
    batcher: Coalescer[int, int] = Coalescer(recorder.flush, one_at_a_time=True)
    results = await batcher.submit_many([2, 3, 4])
    assert recorder.batches == [[2, 3, 4]]
    assert [r if isinstance(r, int) else str(r) for r in results] == [20, "odd 3", 40]


async def test_a_caller_cancelled_while_its_items_wait_leaves_no_error_unretrieved() -> None:
    unretrieved: list[object] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: unretrieved.append(context))
    recorder = Recorder(gate=asyncio.Event())
    batcher: Coalescer[int, int] = Coalescer(recorder.flush, one_at_a_time=True)
    busy = asyncio.create_task(batcher.submit(0))  # in flight: the next batch waits for it
    while not recorder.batches:
        await asyncio.sleep(0)
    leader = asyncio.create_task(batcher.submit_many([8]))  # leads the next batch
    await asyncio.sleep(0)
    many = asyncio.create_task(batcher.submit_many([1, 2, 3]))  # joins it, then waits
    await asyncio.sleep(0)
    many.cancel()
    with pytest.raises(asyncio.CancelledError):
        await many
    assert recorder.gate is not None
    recorder.gate.set()
    assert await busy == 0
    assert await leader == [80]
    assert recorder.batches == [[0], [8, 1, 2, 3]]  # the cancelled caller's items went too
    del many
    gc.collect()
    await asyncio.sleep(0)
    loop.set_exception_handler(None)
    assert unretrieved == []
