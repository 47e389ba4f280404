"""The in-memory twin of ``RedisApiKeys``: API key records in a dict, for tests and one-process
trials. Not shared between processes, so it cannot stand in where replicas must agree."""

from hitl.core.apikeys import ApiKey


class MemoryApiKeys:
    """``hitl.gateway.keys.KeyRecords`` in memory."""

    def __init__(self) -> None:
        self._records: dict[str, ApiKey] = {}

    async def get(self, key_id: str) -> ApiKey | None:
        return self._records.get(key_id)

    async def add(self, record: ApiKey) -> None:
        if record.key_id in self._records:
            raise ValueError(f"API key id {record.key_id} exists already")
        self._records[record.key_id] = record

    async def all(self) -> list[ApiKey]:
        return sorted(self._records.values(), key=lambda r: (r.created_at, r.key_id))

    async def revoke(self, key_id: str) -> bool:
        return self._records.pop(key_id, None) is not None
