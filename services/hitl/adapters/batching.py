"""Automatic batching of I/O that concurrent handlers start in the same turn of the event loop.

Each handler still awaits its own publish or Redis script, one at a time, and keeps its own error
handling; underneath, everything submitted in the same loop turn goes out as one batch: one Redis
pipeline, one socket write of AMQP frames. With one message in flight a batch is one item and
costs one extra yield to the loop; with many in flight it saves a round trip, a syscall, a
connection checkout and a timeout per item.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from hitl.errors import TransportError

Item = TypeVar("Item")
Result = TypeVar("Result")
Flush = Callable[[list[Item]], Awaitable[Sequence[Result | BaseException]]]


class Coalescer(Generic[Item, Result]):
    """``await submit(item)`` returns that item's result from the batch it was flushed in.

    The first caller of a batch leads it, in its own task (no task or callback is created per
    batch). It waits for its moment, then runs ``flush`` on everything queued by then. The
    moment is the next loop turn (everyone else ready in this turn joins), or, with
    ``one_at_a_time``, the end of the batch in flight: an item goes at once when nothing is in
    flight, and under load items gather while the previous batch makes its round trip (group
    commit). ``flush`` gets the items in submission order and returns one result or exception
    per item; an exception it raises fails the whole batch.
    """

    def __init__(self, flush: Flush[Item, Result], *, one_at_a_time: bool = False) -> None:
        self._flush = flush
        self._one_at_a_time = one_at_a_time
        self._queue: list[tuple[Item, asyncio.Future[Result]]] = []
        self._orphans: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    async def submit(self, item: Item) -> Result:
        [future] = await self._enqueue([item])
        return await future

    async def submit_many(self, items: Sequence[Item]) -> list[Result | BaseException]:
        """Several items in one batch; each one's result, or its exception (not raised)."""
        futures = await self._enqueue(items)
        return await asyncio.gather(*futures, return_exceptions=True)

    async def _enqueue(self, items: Sequence[Item]) -> list["asyncio.Future[Result]"]:
        """Queue the items; lead their batch if they are its first. Returns their futures."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Result]] = [loop.create_future() for _ in items]
        leads = not self._queue
        self._queue += zip(items, futures, strict=True)
        if leads and futures:
            try:
                await (self._idle.wait() if self._one_at_a_time else asyncio.sleep(0))
            except asyncio.CancelledError:  # cancelled before the flush: hand the batch on
                self._hand_over()
                raise
            batch, self._queue = self._queue, []
            await self._in_turn(batch)
        return futures

    def _hand_over(self) -> None:
        batch, self._queue = self._queue, []
        task = asyncio.get_running_loop().create_task(self._lead(batch))
        self._orphans.add(task)
        task.add_done_callback(self._orphans.discard)

    async def _lead(self, batch: list[tuple[Item, "asyncio.Future[Result]"]]) -> None:
        await self._idle.wait()
        await self._in_turn(batch)

    async def _in_turn(self, batch: list[tuple[Item, "asyncio.Future[Result]"]]) -> None:
        if not self._one_at_a_time:
            await self._run(batch)
            return
        self._idle.clear()
        try:
            await self._run(batch)
        finally:
            self._idle.set()

    async def _run(self, batch: list[tuple[Item, "asyncio.Future[Result]"]]) -> None:
        try:
            results = await self._flush([item for item, _ in batch])
        except asyncio.CancelledError:
            # The leader was cancelled mid-flush: the others were not, but their items may or
            # may not have gone out. A transport error makes them retry; retries are idempotent.
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
