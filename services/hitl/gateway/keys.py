"""Checking presented API keys against the stored records (``deps.ApiKeys``).

Each replica remembers what it looked up for ``cache_seconds``, so a busy key costs one Redis
read per replica and period, not one per request. That is also the bound on revocation: a
revoked key stops working on every replica within ``cache_seconds`` (``HITL_GATEWAY_KEY_CACHE_
SECONDS``). Unknown key ids are remembered too (so a flood of bad keys stays off Redis), in a
bounded cache; a new key is never among them, since its id was never presented before.
"""

import time
from collections import OrderedDict
from typing import Protocol

from hitl.core.apikeys import ApiKey, opens, parse
from hitl.gateway.deps import Principal, Scope
from hitl.ports import Clock

_REMEMBERED = 10_000


class KeyRecords(Protocol):
    """Where API key records are kept: ``RedisApiKeys`` (shared by replicas) or its twin."""

    async def get(self, key_id: str) -> ApiKey | None: ...

    async def add(self, record: ApiKey) -> None:
        """Store a new record; ``ValueError`` if its key id is taken."""
        ...

    async def all(self) -> list[ApiKey]:
        """Every record, oldest first."""
        ...

    async def revoke(self, key_id: str) -> bool:
        """Forget the key; False when there was none."""
        ...


class CachedApiKeys:
    def __init__(
        self, records: KeyRecords, *, cache_seconds: float, clock: Clock = time.monotonic
    ) -> None:
        self._records = records
        self._ttl = cache_seconds
        self._clock = clock
        # key id -> (when looked up, the record, its principal); None for an unknown id
        self._seen: OrderedDict[str, tuple[float, ApiKey | None, Principal | None]] = OrderedDict()

    async def authenticate(self, token: str) -> Principal | None:
        presented = parse(token)
        if presented is None:
            return None
        record, principal = await self._record(presented.key_id)
        if record is None or not opens(record, presented.secret):
            return None
        return principal

    async def _record(self, key_id: str) -> tuple[ApiKey | None, Principal | None]:
        now = self._clock()
        seen = self._seen.get(key_id)
        if seen is not None and now - seen[0] < self._ttl:
            return seen[1], seen[2]
        record = await self._records.get(key_id)
        principal = _principal(record) if record is not None else None
        self._seen[key_id] = (now, record, principal)
        self._seen.move_to_end(key_id)
        while len(self._seen) > _REMEMBERED:
            self._seen.popitem(last=False)
        return record, principal


def _principal(record: ApiKey) -> Principal:
    return Principal(
        key_id=record.key_id,
        identity=record.identity,
        scopes=frozenset(Scope(s) for s in record.scopes),
        channel=record.channel,
    )
