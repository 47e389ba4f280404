"""A real ``hitl broker`` process on the test's namespace, for the integrations' examples."""

from collections.abc import AsyncIterator

import pytest

from hitl.settings import Settings
from tests.faults.test_broker_processes import BrokerProcess, Brokers


@pytest.fixture
async def broker_process(settings: Settings) -> AsyncIterator[BrokerProcess]:
    brokers = Brokers(settings.namespace)
    try:
        broker = await brokers.start(wait_ready=False, HITL_SHARDS=str(settings.shards))
        # Importing hitl takes seconds on a busy machine: more time than the faults tests give.
        await brokers._until_ready(broker, timeout=60)
        yield broker
    finally:
        await brokers.close()
