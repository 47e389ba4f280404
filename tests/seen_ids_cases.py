"""The behaviour of ``SeenIds`` (webhook ids accepted before), written once and run on the
in-memory twin (tests/unit/test_seen_ids.py) and on Redis (tests/integration/test_seen_ids.py)."""

import asyncio

from hitl.notifiers.webhooks.verification import SeenIds


async def the_first_time_only(seen: SeenIds) -> None:
    assert await seen.first_time("msg_1", 600)
    assert not await seen.first_time("msg_1", 600)
    assert await seen.first_time("msg_2", 600)


async def one_winner_among_racers(seen: SeenIds) -> None:
    results = await asyncio.gather(*(seen.first_time("msg_raced", 600) for _ in range(20)))
    assert results.count(True) == 1


async def forgotten_ids_are_accepted_again(seen: SeenIds) -> None:
    assert await seen.first_time("msg_3", 600)
    await seen.forget("msg_3")
    assert await seen.first_time("msg_3", 600)
    assert not await seen.first_time("msg_3", 600)
    await seen.forget("msg_never_seen")


CASES = (the_first_time_only, one_winner_among_racers, forgotten_ids_are_accepted_again)
