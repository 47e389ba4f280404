"""In-memory twins of the ports (``hitl.ports``): the store, the message sink, the clock,
an incoming message, the gateway's API key records and the webhook ids it has accepted."""

from hitl.adapters.memory.apikeys import MemoryApiKeys
from hitl.adapters.memory.clock import ManualClock
from hitl.adapters.memory.delivery import MemoryDelivery
from hitl.adapters.memory.seen_ids import MemorySeenIds
from hitl.adapters.memory.sink import MemorySink
from hitl.adapters.memory.store import MemoryStore

__all__ = [
    "ManualClock", "MemoryApiKeys", "MemoryDelivery", "MemorySeenIds", "MemorySink", "MemoryStore",
]  # fmt: skip
