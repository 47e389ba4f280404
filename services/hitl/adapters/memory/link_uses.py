"""The in-memory twin of ``RedisLinkUses`` (expiry is not kept: a test's links outlive it)."""


class MemoryLinkUses:
    def __init__(self) -> None:
        self.used: dict[str, bytes] = {}

    async def claim(self, use: str, record: bytes, ttl_seconds: int) -> bool:
        if use in self.used:
            return False
        self.used[use] = record
        return True

    async def read(self, use: str) -> bytes | None:
        return self.used.get(use)

    async def forget(self, use: str) -> None:
        self.used.pop(use, None)
