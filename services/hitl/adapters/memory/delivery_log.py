"""The in-memory twin of ``RedisDeliveryLog``, for tests of the delivery pipeline."""


class MemoryDeliveryLog:
    def __init__(self) -> None:
        self.sent: set[str] = set()
        self.off: dict[str, str] = {}

    async def delivered(self, message_id: str) -> bool:
        return message_id in self.sent

    async def mark_delivered(self, message_id: str, ttl_seconds: int) -> None:
        self.sent.add(message_id)

    async def disabled(self, receiver: str) -> str | None:
        return self.off.get(receiver)

    async def disable(self, receiver: str, reason: str) -> None:
        self.off[receiver] = reason

    async def enable(self, receiver: str) -> bool:
        return self.off.pop(receiver, None) is not None

    async def all_disabled(self) -> dict[str, str]:
        return dict(self.off)
