"""Automatic batching of I/O that concurrent handlers start in the same turn of the event loop.

Each handler still awaits its own publish or Redis script, one at a time, and keeps its own error
handling; underneath, everything submitted before the loop gets round to the flush goes out as
one batch: one Redis pipeline, one socket write of AMQP frames. With one message in flight a
batch is one item and costs one extra ``call_soon``; with many in flight it saves a round trip,
a syscall, a connection checkout and a timeout per item.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
Flush = Callable[[list[Item]], Awaitable[Sequence[Result | BaseException]]]


class Coalescer(Generic[Item, Result]):
    """``await submit(item)`` returns that item's result from the batch it was flushed in.

    ``flush`` gets the items in submission order and returns one result or exception per item;
    an exception it raises fails the whole batch. A caller cancelled while waiting does not take
    its item back: the batch is already on its way, and what it carries is idempotent.
    """

    def __init__(self, flush: Flush[Item, Result], *, max_batch: int = 1000) -> None:
        self._flush = flush
        self._max = max_batch
        self._queue: list[tuple[Item, asyncio.Future[Result]]] = []
        self._scheduled = False
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._queue.append((item, future))
        if len(self._queue) >= self._max:
            self._start()
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._start)
        return await future

    async def drain(self) -> None:
        """Wait for every batch submitted so far to finish (for shutdown)."""
        self._start()
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    def _start(self) -> None:
        self._scheduled = False
        if not self._queue:
            return
        batch, self._queue = self._queue, []
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[tuple[Item, "asyncio.Future[Result]"]]) -> None:
        try:
            results = await self._flush([item for item, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
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
