"""Fixtures of the fault tests, shared by their modules."""

from tests.faults.test_broker_processes import brokers

__all__ = ["brokers"]  # ``hitl broker`` processes of the test's namespace, killed at teardown
