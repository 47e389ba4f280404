"""Every Redis key hitl uses, in one place.

Keys of one shard share a hash tag (``{ns:sN}``), so each Lua script touches one Cluster slot.
Retention: an interaction hash expires ``retention_seconds`` after it finishes; the done index is
trimmed by the poller; outbox entries are deleted once published; pending interactions and their
deadlines live until they finish.
"""

from dataclasses import dataclass
from uuid import UUID

from hitl.core.sharding import shard_of


def namespace_prefix(namespace: str) -> str:
    """What every key of a namespace starts with."""
    return f"{namespace}:"


@dataclass(frozen=True, slots=True)
class Keys:
    namespace: str
    shards: int

    def shard(self, interaction_id: UUID) -> int:
        return shard_of(interaction_id, self.shards)

    def _tag(self, shard: int) -> str:
        return f"{self.namespace}:{{s{shard}}}"

    def interaction(self, shard: int, interaction_id: UUID | str) -> str:
        return f"{self._tag(shard)}:ix:{interaction_id}"

    def pending(self, shard: int) -> str:
        """ZSET id -> requested_at, of interactions still waiting."""
        return f"{self._tag(shard)}:pending"

    def done(self, shard: int) -> str:
        """ZSET id -> finished_at, of resolved, cancelled and timed-out interactions."""
        return f"{self._tag(shard)}:done"

    def due(self, shard: int) -> str:
        """ZSET 'id|purpose' -> when the poller must act (timeouts; later reminders)."""
        return f"{self._tag(shard)}:due"

    def outbox(self, shard: int) -> str:
        """ZSET entry id -> when the relay may take it over from its writer."""
        return f"{self._tag(shard)}:outbox"

    def outbox_data(self, shard: int) -> str:
        """HASH entry id -> the message to publish."""
        return f"{self._tag(shard)}:outbox:data"

    def early(self, shard: int, interaction_id: UUID | str) -> str:
        """LIST of answers that arrived before their request; expires with the hold."""
        return f"{self._tag(shard)}:early:{interaction_id}"
