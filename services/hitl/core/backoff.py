"""Retry delays: exponential with full jitter, capped. Pure, so it is tested without sleeping."""

import random


def backoff_delay(
    attempt: int, *, base: float = 0.2, cap: float = 5.0, rng: random.Random | None = None
) -> float:
    """Delay before try number ``attempt`` (1-based): uniform in [0, min(cap, base * 2**(n-1))]."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return (rng or random).uniform(0, ceiling)
