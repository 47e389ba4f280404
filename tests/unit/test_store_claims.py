"""Claims in the in-memory twin (the same cases run on Redis in
tests/integration/test_store_claims.py)."""

import pytest

from hitl.adapters.memory import MemoryStore
from tests.claim_cases import StoreClaims


class TestTwinClaims(StoreClaims):
    @pytest.fixture
    def store(self) -> MemoryStore:
        return MemoryStore()
