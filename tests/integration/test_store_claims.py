"""Claims in Redis: committed by commit.lua like any transition (compare-and-set, history in
the same step); the cases also run on the twin, tests/unit."""

import pytest
from redis.asyncio import Redis

from hitl.adapters.redis.store import RedisStore
from hitl.runtime.stores import redis_store
from hitl.settings import Settings
from tests.claim_cases import StoreClaims


class TestRedisClaims(StoreClaims):
    @pytest.fixture
    def store(self, redis: Redis, settings: Settings) -> RedisStore:
        return redis_store(redis, settings)
