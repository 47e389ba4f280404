"""The in-memory twin of ``RedisSeenIds``: webhook ids with their expiry, in a dict. One process
only: replicas would each accept a replay once."""

import time

from hitl.ports import Clock

_SWEEP_EVERY = 1024  # records added between two sweeps of the expired ones


class MemorySeenIds:
    """``hitl.notifiers.webhooks.verification.SeenIds`` in memory; ``clock`` as
    ``time.monotonic`` (a test passes a ``ManualClock``)."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._added = 0

    async def first_time(self, webhook_id: str, ttl_seconds: int) -> bool:
        now = self._clock()
        if self._expiry.get(webhook_id, now) > now:
            return False
        self._expiry[webhook_id] = now + ttl_seconds
        self._added += 1
        if self._added % _SWEEP_EVERY == 0:
            self._expiry = {i: t for i, t in self._expiry.items() if t > now}
        return True

    async def forget(self, webhook_id: str) -> None:
        self._expiry.pop(webhook_id, None)
