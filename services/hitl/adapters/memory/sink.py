"""The in-memory twin of the ``Publisher``: messages are recorded instead of sent.

A message counts as routed unless ``unroutable`` says otherwise (a mandatory publish nobody is
bound to), so tests can exercise the broker's handling of a producer whose reply queue is gone.
``fail_next`` makes the next batch fail as a lost channel would.
"""

import asyncio
from collections.abc import Callable

from hitl.errors import TransportError
from hitl.ports import Envelope


class MemorySink:
    def __init__(self, *, unroutable: Callable[[Envelope], bool] = lambda _: False) -> None:
        self.sent: list[Envelope] = []
        self._unroutable = unroutable
        self._failures = 0
        self._arrived = asyncio.Event()

    async def publish(self, envelope: Envelope, *, mandatory: bool = True) -> bool:
        [routed] = await self.publish_batch([(envelope, mandatory)])
        return routed

    async def publish_batch(self, batch: list[tuple[Envelope, bool]]) -> list[bool]:
        await asyncio.sleep(0)  # a real publish yields to the loop too
        if self._failures:
            self._failures -= 1
            raise TransportError("publish failed: the memory sink was told to fail")
        routed = []
        for envelope, mandatory in batch:
            self.sent.append(envelope)
            routed.append(not (mandatory and self._unroutable(envelope)))
        self._arrived.set()
        return routed

    def fail_next(self, batches: int = 1) -> None:
        self._failures += batches

    def on(self, exchange: str, routing_key: str | None = None) -> list[Envelope]:
        """What was sent to ``exchange`` (and ``routing_key``), in order."""
        return [
            e for e in self.sent if e.exchange == exchange and routing_key in (None, e.routing_key)
        ]

    async def wait_for(self, check: Callable[[], bool], timeout: float = 5.0) -> None:
        """Until ``check()`` holds; for events, which trail behind in a task of their own."""
        async with asyncio.timeout(timeout):
            while not check():
                self._arrived.clear()
                await self._arrived.wait()
