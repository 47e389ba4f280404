"""The in-memory twin of ``RedisStore``: the same answers as its Lua scripts, in dicts.

For tests of the broker's decisions without servers, and for trying hitl out in one process.
It holds the states as objects, versions them as ``commit.lua`` does (a created interaction is
version 1, each commit adds one), and keeps deadlines, leases, held answers and outbox entries
with the same rules. It is not shared between processes, so it cannot stand in for Redis where
replicas must agree: the real store is the evidence that they do.
"""

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from uuid import UUID

import orjson

from hitl.core import analytics, audit
from hitl.core.decisions import Answerers
from hitl.core.listing import Page, Query, matches, position_of
from hitl.core.machine import EARLY, InteractionState, Transition, deadline_member
from hitl.core.sharding import shard_of
from hitl.ports import Backlog, Clock, CommitResult, Created, OutboxWrite
from hitl_contract import HistoryEntry


@dataclass
class _Record:
    state: InteractionState
    digest: str
    expires_at: float | None = None
    history: list[bytes] = field(default_factory=list)


_MOST_HISTORY = 256 * 1024  # bytes, as the Redis store's


@dataclass
class _Shard:
    due: dict[str, float] = field(default_factory=dict)  # member -> when
    outbox: dict[str, tuple[float, bytes]] = field(default_factory=dict)  # id -> (when, data)
    done: dict[str, float] = field(default_factory=dict)  # id -> finished_at


class MemoryStore:
    """``InteractionStore`` and ``InteractionReads`` in memory. ``clock`` (optional) makes
    finished interactions expire after ``retention_seconds``, as their Redis hash does."""

    def __init__(
        self,
        *,
        shards: int = 8,
        retention_seconds: int = 7 * 24 * 3600,
        outbox_lease_seconds: float = 5.0,
        clock: Clock | None = None,
    ) -> None:
        self.shards = shards
        self._retention = retention_seconds
        self._outbox_lease = outbox_lease_seconds
        self._clock = clock
        self._records: dict[UUID, _Record] = {}
        self._early: dict[UUID, list[bytes]] = defaultdict(list)
        self._by_shard = [_Shard() for _ in range(shards)]
        self._counters: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._pending_counts: dict[str, int] = defaultdict(int)

    def shard(self, interaction_id: UUID) -> int:
        return shard_of(interaction_id, self.shards)

    def _of(self, interaction_id: UUID) -> _Shard:
        return self._by_shard[self.shard(interaction_id)]

    def _record(self, interaction_id: UUID) -> _Record | None:
        record = self._records.get(interaction_id)
        if record is None or record.expires_at is None or self._clock is None:
            return record
        if self._clock() >= record.expires_at:  # past retention, as the hash's EXPIRE
            del self._records[interaction_id]
            return None
        return record

    async def create(
        self,
        transition: Transition,
        outbox: Sequence[OutboxWrite],
        request_json: bytes | None = None,
    ) -> Created:
        state = transition.state
        iid = state.request.id
        request_json = request_json or state.request.__pydantic_serializer__.to_json(state.request)
        digest = hashlib.blake2b(request_json, digest_size=16).hexdigest()
        existing = self._record(iid)
        if existing is not None:
            return Created("duplicate" if existing.digest == digest else "conflict")
        record = _Record(replace(state, version=1), digest)
        self._records[iid] = record
        shard = self._of(iid)
        self._append(record, transition)
        self._count(analytics.on_create(state), state.requested_at)
        if state.is_pending:
            self._count_pending(state, 1)
        else:
            self._finish(record, shard, state.requested_at)
            self._count(analytics.on_commit(transition, state.requested_at), state.requested_at)
        for deadline in transition.schedule:
            shard.due[deadline.member] = deadline.at
        visible = state.requested_at + self._outbox_lease
        for entry_id, payload in outbox:
            shard.outbox[entry_id] = (visible, payload)
        early = tuple(self._early.get(iid, ()))
        member = deadline_member(iid, EARLY)
        if early and member in shard.due:  # applied now; if we die first, the poller does it
            shard.due[member] = visible
        return Created("created", early)

    async def commit(
        self,
        transition: Transition,
        expected_version: int,
        outbox: Sequence[OutboxWrite],
        now: float,
        outcome_json: bytes | None = None,
    ) -> CommitResult:
        state = transition.state
        iid = state.request.id
        record = self._record(iid)
        if record is None:
            return "missing"
        if record.state.version != expected_version:
            return "stale"
        record.state = replace(state, version=expected_version + 1)
        shard = self._of(iid)
        for member in transition.unschedule:
            shard.due.pop(member, None)
        for deadline in transition.schedule:
            shard.due[deadline.member] = deadline.at
        for entry_id, payload in outbox:
            shard.outbox[entry_id] = (now + self._outbox_lease, payload)
        self._append(record, transition)
        self._count(analytics.on_commit(transition, now), now)
        if not state.is_pending:
            self._count_pending(state, -1)
            self._finish(record, shard, now)
        return "ok"

    def _append(self, record: _Record, transition: Transition) -> None:
        item = audit.encode(transition)  # as the Redis store keeps it
        if item is not None:
            record.history.append(item)

    def _count(self, counters: dict[str, int], at: float) -> None:
        hour = self._counters[analytics.hour_of(at)]
        for name, by in counters.items():
            hour[name] += by

    def _count_pending(self, state: InteractionState, by: int) -> None:
        for name in analytics.pending_fields(state):
            self._pending_counts[name] += by
            if self._pending_counts[name] <= 0 and by < 0:  # as lib_reads.lua: no zeros kept
                del self._pending_counts[name]

    async def note(self, interaction_id: UUID, entry: bytes) -> bool:
        record = self._record(interaction_id)
        if record is None or sum(len(item) + 1 for item in record.history) > _MOST_HISTORY:
            return False
        record.history.append(entry)
        return True

    async def query(self, query: Query) -> Page:
        """Every stored interaction checked against ``query`` (a twin need not be fast), in
        the order the Redis indexes give."""
        states = [r.state for iid in list(self._records) if (r := self._record(iid))]
        ordered = sorted(
            (s for s in states if matches(s, query)),
            key=position_of,
            reverse=query.newest_first,
        )
        if query.after is not None:
            start = query.after
            ordered = [
                s for s in ordered if (position_of(s) < start if query.newest_first
                                       else position_of(s) > start)
            ]  # fmt: skip
        page = ordered[: query.limit]
        more = len(ordered) > query.limit
        return Page(page, position_of(page[-1]) if more and page else None)

    async def history(self, interaction_id: UUID) -> list[HistoryEntry]:
        record = self._record(interaction_id)
        return audit.read([orjson.loads(item) for item in record.history]) if record else []

    async def counters(self, hours: Sequence[int]) -> list[dict[str, int]]:
        return [dict(self._counters[h]) for h in hours if h in self._counters]

    async def pending_counts(self) -> dict[str, int]:
        return {k: v for k, v in self._pending_counts.items() if v}

    def _finish(self, record: _Record, shard: _Shard, finished_at: float) -> None:
        shard.done[str(record.state.request.id)] = finished_at
        record.expires_at = finished_at + self._retention

    async def load(self, interaction_id: UUID) -> InteractionState | None:
        record = self._record(interaction_id)
        return None if record is None else record.state

    async def answerers(self, interaction_id: UUID) -> Answerers | None:
        record = self._record(interaction_id)
        if record is None:
            return None
        request = record.state.request
        return Answerers(record.state.is_pending, request.responders, request.requester.id)

    async def hold_early(
        self, interaction_id: UUID, answer: bytes, hold_seconds: float, now: float
    ) -> bool:
        if self._record(interaction_id) is not None:
            return False
        self._early[interaction_id].append(answer)
        self._of(interaction_id).due.setdefault(
            deadline_member(interaction_id, EARLY), now + hold_seconds
        )
        return True

    async def peek_early(self, interaction_id: UUID) -> tuple[bool, list[bytes]]:
        return self._record(interaction_id) is not None, list(self._early.get(interaction_id, ()))

    async def take_early(self, interaction_id: UUID) -> tuple[bool, list[bytes]]:
        answers = self._early.pop(interaction_id, [])
        self._of(interaction_id).due.pop(deadline_member(interaction_id, EARLY), None)
        return self._record(interaction_id) is not None, answers

    async def claim_due(self, now: float, lease_until: float, limit: int) -> list[str]:
        claimed: list[str] = []
        for shard in self._by_shard:
            members = sorted((at, m) for m, at in shard.due.items() if at <= now)[:limit]
            for _, member in members:
                shard.due[member] = lease_until
                claimed.append(member)
        return claimed

    async def claim_outbox(
        self, now: float, lease_until: float, limit: int
    ) -> list[tuple[int, str, bytes]]:
        claimed: list[tuple[int, str, bytes]] = []
        for n, shard in enumerate(self._by_shard):
            due = sorted((at, e) for e, (at, _) in shard.outbox.items() if at <= now)[:limit]
            for _, entry_id in due:
                payload = shard.outbox[entry_id][1]
                shard.outbox[entry_id] = (lease_until, payload)
                claimed.append((n, entry_id, payload))
        return claimed

    async def outbox_done_many(self, published: dict[int, list[str]]) -> None:
        for n, entry_ids in published.items():
            for entry_id in entry_ids:
                self._by_shard[n].outbox.pop(entry_id, None)

    async def reschedule(self, interaction_id: UUID, member: str, at: float | None) -> None:
        due = self._of(interaction_id).due
        if at is None:
            due.pop(member, None)
        elif member in due:  # ZADD XX: only a deadline that still stands moves
            due[member] = at

    async def pending(self, limit: int = 1000) -> list[InteractionState]:
        page = await self.query(Query(status="pending", newest_first=False, limit=limit))
        return page.items

    async def trim_done(self, before: float) -> int:
        trimmed = 0
        for shard in self._by_shard:
            for iid in [i for i, at in shard.done.items() if at <= before]:
                del shard.done[iid]
                trimmed += 1
        return trimmed

    async def backlog(self) -> Backlog:
        pending = await self.pending(limit=len(self._records))
        return Backlog(
            pending=len(pending),
            oldest_requested_at=pending[0].requested_at if pending else None,
            outbox=self.outbox_size(),
        )

    def outbox_size(self) -> int:
        """Entries written and not yet deleted (for tests of the outbox's clean-up)."""
        return sum(len(shard.outbox) for shard in self._by_shard)
