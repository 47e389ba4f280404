"""A real ``hitl broker`` process on the test's namespace, for the integrations' examples."""

from collections.abc import AsyncIterator

import pytest

from hitl.settings import Settings
from tests.faults.test_broker_processes import BrokerProcess, Brokers


@pytest.fixture
async def broker_process(settings: Settings) -> AsyncIterator[BrokerProcess]:
    brokers = Brokers(settings.namespace)
    try:
        yield await brokers.start(HITL_SHARDS=str(settings.shards))
    finally:
        await brokers.close()
