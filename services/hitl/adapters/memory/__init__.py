"""In-memory twins of the ports (``hitl.ports``): the store, the message sink, the clock
and an incoming message."""

from hitl.adapters.memory.clock import ManualClock
from hitl.adapters.memory.delivery import MemoryDelivery
from hitl.adapters.memory.sink import MemorySink
from hitl.adapters.memory.store import MemoryStore

__all__ = ["ManualClock", "MemoryDelivery", "MemorySink", "MemoryStore"]
