"""Every Redis key hitl uses, in one place.

Keys of one shard share a hash tag (``{ns:sN}``), so each Lua script touches one Cluster slot.
Retention: an interaction hash and its history expire ``retention_seconds`` after it finishes;
the done index and the read indexes of finished interactions are trimmed by the poller
(``trim.lua``, from the keys recorded in ``done_keys``); counter hashes expire after
``analytics_retention_seconds``; outbox entries are deleted once published; pending
interactions, their index entries and their deadlines live until they finish; an API key
lives until it is revoked; a seen webhook id for the replay window; a used answer link
until the link expires; a shard's sequence hash and the namespace's integrity report live as
long as the namespace (a few fields each).
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

    def history(self, shard: int, interaction_id: UUID | str) -> str:
        """LIST of the interaction's audit entries (JSON), oldest first, as versions before
        the history moved into the interaction hash's ``hist`` field kept it: read, and
        moved into the field by the next write (``lib_reads.lua``)."""
        return f"{self._tag(shard)}:hist:{interaction_id}"

    def by_prefix(self, shard: int) -> str:
        """What every index key but ``pending`` starts with (``done_keys`` stores the rest)."""
        return f"{self._tag(shard)}:by:"

    def by_status(self, shard: int, status: str) -> str:
        """ZSET id -> requested_at of the interactions in ``status`` (pending: ``pending``)."""
        return self.pending(shard) if status == "pending" else f"{self.by_prefix(shard)}{status}"

    def by_term(self, shard: int, status: str, dimension: str, value: str) -> str:
        """ZSET id -> requested_at of the interactions in ``status`` filed under a term
        (``hitl.core.indexing``); the value comes last, so it may hold any character."""
        return f"{self.by_prefix(shard)}{status}:{dimension}:{value}"

    def done_keys(self, shard: int) -> str:
        """HASH id -> the read index keys a finished interaction is in, for trimming
        (``hitl.adapters.redis.filing.Filing.filed_keys``): its status and term values as JSON
        (values may hold any character)."""
        return f"{self._tag(shard)}:done:keys"

    def counters(self, shard: int, hour: int) -> str:
        """HASH of analytics counters (``hitl.core.analytics``) for the hour starting ``hour``."""
        return f"{self._tag(shard)}:stats:{hour}"

    def pending_counts(self, shard: int) -> str:
        """HASH 'k|kind', 'n|node', 'r|responder' -> how many such interactions are pending."""
        return f"{self._tag(shard)}:stats:pending"

    def api_keys(self) -> str:
        """HASH key id -> the API key's record (``hitl.core.apikeys.ApiKey``, JSON); one key,
        read by every gateway replica (no hash tag: no script touches it with another)."""
        return f"{self.namespace}:apikeys"

    def seen_webhook(self, webhook_id: str) -> str:
        """STRING: a signed inbound webhook with this id was accepted; expires once a request
        carrying it would be refused as stale anyway (``notifiers.webhooks.verification``)."""
        return f"{self.namespace}:webhook:seen:{webhook_id}"

    def email_link_use(self, use: str) -> str:
        """STRING (JSON: when, which answer): the answer links of one mail were used; set once
        (SET NX), so a mail answers once; expires when its links do."""
        return f"{self.namespace}:email:used:{use}"

    def delivered(self, message_id: str) -> str:
        """STRING, set once a notification was delivered: replicas and redeliveries of a
        notifier do not send it again (Alertmanager's notification log); expires."""
        return f"{self.namespace}:nlog:{message_id}"

    def disabled_receivers(self) -> str:
        """HASH receiver -> why it was disabled (HTTP 410); until an operator enables it."""
        return f"{self.namespace}:receivers:disabled"

    def sequence(self, shard: int) -> str:
        """HASH of the shard's store integrity (``adapters/redis/integrity.py``): ``n``, the
        transitions committed (create.lua and commit.lua add 1), ``run`` and ``loaded``, the
        Redis process last seen and ``n`` when it was first seen, ``mark``, when a broker last
        saw the shard alive, ``since``, the mark the process came back with, and ``fence``
        while decisions wait for a reconciliation (commit.lua refuses them)."""
        return f"{self._tag(shard)}:seq"

    def integrity(self) -> str:
        """HASH: the last store integrity check of the namespace (state, run, when, by whom,
        the report as JSON); written by brokers, read by ``hitl store status``."""
        return f"{self.namespace}:store:integrity"

    def early(self, shard: int, interaction_id: UUID | str) -> str:
        """LIST of answers that arrived before their request; expires with the hold."""
        return f"{self._tag(shard)}:early:{interaction_id}"
