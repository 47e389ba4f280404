"""The store's reads on the in-memory twin (the same cases run on Redis in
tests/integration/test_store_reads.py)."""

import pytest

from hitl.adapters.memory import MemoryStore
from tests.store_cases import StoreReads


class TestTwinReads(StoreReads):
    @pytest.fixture
    def store(self) -> MemoryStore:
        return MemoryStore()
