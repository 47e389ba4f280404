"""``MemorySeenIds``: the shared cases, and expiry on a clock moved by hand."""

from collections.abc import Awaitable, Callable

import pytest

from hitl.adapters.memory import ManualClock, MemorySeenIds
from hitl.notifiers.webhooks.verification import SeenIds
from tests.seen_ids_cases import CASES


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
async def test_memory_seen_ids(case: Callable[[SeenIds], Awaitable[None]]) -> None:
    await case(MemorySeenIds(ManualClock()))


async def test_an_id_is_forgotten_after_its_ttl_and_swept() -> None:
    clock = ManualClock()
    seen = MemorySeenIds(clock)
    assert await seen.first_time("old", 10)
    clock.advance(9.9)
    assert not await seen.first_time("old", 10)
    clock.advance(0.2)
    assert await seen.first_time("old", 10)
    clock.advance(11)
    for n in range(2048):  # enough new ids to trigger sweeps: the expired ones go
        await seen.first_time(f"new-{n}", 1000)
    assert "old" not in seen._expiry
