"""Automatic batching of I/O that concurrent handlers start in the same turn of the event loop.

Each handler still awaits its own publish or Redis script, one at a time, and keeps its own error
handling; underneath, everything submitted in the same loop turn goes out as one batch: one Redis
pipeline, one socket write of AMQP frames. With one message in flight a batch is one item and
costs next to nothing; with many in flight it saves a round trip, a syscall, a connection
checkout and a timeout per item.
"""

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Generic, TypeVar

from hitl.errors import TransportError

Item = TypeVar("Item")
Result = TypeVar("Result")
Flush = Callable[[list[Item]], Awaitable[Sequence[Result | BaseException]]]


class Coalescer(Generic[Item, Result]):
    """``await submit(item)`` returns that item's result from the batch it was flushed in.

    The first caller of a batch leads it: it waits for its moment, then starts ``flush`` on
    everything queued by then. The moment is the next loop turn (everyone else ready in this
    turn joins), or, with ``one_at_a_time``, the end of the batch in flight: an item goes at
    once when nothing is in flight, and under load items gather while the previous batch makes
    its round trip (group commit). A batch of others' items too is flushed in a task of its
    own, so a leader that is cancelled (a caller's timeout) does not take the others' items
    down with it; a batch of the leader's items alone is flushed in the leader. ``flush`` gets
    the items in submission order and returns one result or exception per item; an exception
    it raises fails the whole batch.
    """

    def __init__(self, flush: Flush[Item, Result], *, one_at_a_time: bool = False) -> None:
        self._flush = flush
        self._one_at_a_time = one_at_a_time
        self._queue: list[tuple[Item, asyncio.Future[Result]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    async def submit(self, item: Item) -> Result:
        [future] = await self._enqueue([item])
        return await future

    async def submit_many(self, items: Sequence[Item]) -> list[Result | BaseException]:
        """Several items in one batch; each one's result, or its exception (not raised)."""
        futures = await self._enqueue(items)
        # Not gather: it costs a loop turn even when (as after an inline flush) all are done.
        results: list[Result | BaseException] = []
        try:
            for future in futures:
                try:
                    results.append(await future)
                except Exception as exc:  # noqa: BLE001 - returned, as gather would
                    results.append(exc)
        except asyncio.CancelledError:
            for future in futures:
                future.add_done_callback(mark_retrieved)
            raise
        return results

    async def _enqueue(self, items: Sequence[Item]) -> list["asyncio.Future[Result]"]:
        """Queue the items; lead their batch if they are its first. Returns their futures."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Result]] = [loop.create_future() for _ in items]
        leads = not self._queue
        self._queue += zip(items, futures, strict=True)
        if not (leads and futures):
            return futures
        try:
            if self._one_at_a_time:
                await self._until_idle()
            else:
                await asyncio.sleep(0)
        except asyncio.CancelledError:  # before the flush: someone else must lead the batch
            self._keep(loop.create_task(self._lead_later()))
            for future in futures:
                future.add_done_callback(mark_retrieved)
            raise
        alone = len(self._queue) == len(futures)  # nobody joined: a task would buy nothing
        flushing = self._flush_queued()
        try:
            await (flushing if alone else asyncio.shield(self._keep(loop.create_task(flushing))))
        except asyncio.CancelledError:  # a shared batch goes on for the others
            for future in futures:
                future.add_done_callback(mark_retrieved)
            raise
        return futures

    async def _until_idle(self) -> None:
        while not self._idle.is_set():  # two waiters may wake on one set(): re-check
            await self._idle.wait()

    async def _lead_later(self) -> None:
        if self._one_at_a_time:
            await self._until_idle()
        if self._queue:
            await self._flush_queued()

    def _flush_queued(self) -> Coroutine[Any, Any, None]:
        """Take everything queued (from now on a batch is in flight) and return the coroutine
        that flushes it."""
        batch, self._queue = self._queue, []
        if self._one_at_a_time:
            self._idle.clear()
        return self._run_then_idle(batch)

    async def _run_then_idle(self, batch: list[tuple[Item, "asyncio.Future[Result]"]]) -> None:
        try:
            await self._run(batch)
        finally:
            if self._one_at_a_time:
                self._idle.set()

    def _keep(self, task: "asyncio.Task[None]") -> "asyncio.Task[None]":
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, batch: list[tuple[Item, "asyncio.Future[Result]"]]) -> None:
        try:
            results = await self._flush([item for item, _ in batch])
        except asyncio.CancelledError:
            # Only a loop shutting down cancels this task: whether the items went out is
            # unknown. A transport error makes their callers retry; retries are idempotent.
            for _, future in batch:
                if not future.done():
                    future.set_exception(TransportError("the batch carrying this was cancelled"))
            raise
        except Exception as exc:  # noqa: BLE001 - every waiter of the batch gets it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # its caller was cancelled
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)


def mark_retrieved(future: "asyncio.Future[Any]") -> None:
    """A done callback marking a future's exception as seen, for a future nobody is left to
    read (asyncio would log it as never retrieved)."""
    if not future.cancelled():
        future.exception()
