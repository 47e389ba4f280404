"""What a transition writes besides its state: history entries, read index entries and
analytics counters, as the ``write_reads`` section of create.lua and commit.lua.

The choices (which terms, which counters, which entries) come from the pure core
(``indexing``, ``analytics``, ``audit``); this module turns them into key names and script
arguments. Every key shares the interaction's hash tag, so the script stays in one slot.
"""

from typing import Any

import orjson

from hitl.adapters.redis.keys import Keys
from hitl.core import analytics
from hitl.core.audit import encoded_history
from hitl.core.indexing import RESPONDER, terms, waiting_for
from hitl.core.machine import PENDING, InteractionState, Transition


class ReadsSection:
    """Collects the section's operations; ``keys`` continue the script's own KEYS, whose
    count is ``first_key - 1``."""

    def __init__(self, first_key: int) -> None:
        self.keys: list[str] = []
        self._first = first_key
        self._at: dict[str, int] = {}
        self.zadd: list[str] = []
        self.zrem: list[str] = []
        self.history: list[bytes] = []
        self.incr: list[tuple[str, str, int]] = []
        self.expire: dict[str, int] = {}
        self.finished_in: list[str] = []

    def _index(self, key: str) -> int:
        at = self._at.get(key)
        if at is None:
            at = self._at[key] = self._first + len(self.keys)
            self.keys.append(key)
        return at

    def args(self) -> list[Any]:
        out: list[Any] = [len(self.zadd), *(self._index(k) for k in self.zadd)]
        out += [len(self.zrem), *(self._index(k) for k in self.zrem)]
        out += [len(self.history), *self.history]
        out.append(len(self.incr))
        for key, name, by in self.incr:
            out += [self._index(key), name, by]
        out.append(len(self.expire))
        for key, ttl in self.expire.items():
            out += [self._index(key), ttl]
        out.append(orjson.dumps(self.finished_in) if self.finished_in else b"")
        return out


class Filing:
    """Builds the section for create and commit, from one set of keys and retention."""

    def __init__(self, keys: Keys, analytics_retention_seconds: int) -> None:
        self._keys = keys
        self._counters_ttl = analytics_retention_seconds + analytics.HOUR

    def on_create(self, transition: Transition, first_key: int) -> ReadsSection:
        state = transition.state
        section = ReadsSection(first_key)
        section.history = encoded_history(transition)
        self._count(section, state, analytics.on_create(state), state.requested_at)
        if state.is_pending:
            section.zadd = self._pending_keys(state)
            self._pending_counts(section, state, 1)
        else:
            self._finish(section, state)
            self._count(section, state, analytics.on_commit(transition, state.requested_at),
                        state.requested_at)  # fmt: skip
        return section

    def on_commit(self, transition: Transition, now: float, first_key: int) -> ReadsSection:
        state = transition.state
        section = ReadsSection(first_key)
        section.history = encoded_history(transition)
        self._count(section, state, analytics.on_commit(transition, now), now)
        if not state.is_pending:
            section.zrem = self._pending_keys(state)
            self._pending_counts(section, state, -1)
            self._finish(section, state)
        return section

    def _pending_keys(self, state: InteractionState) -> list[str]:
        """The pending term indexes (the pending set itself is the script's own key)."""
        k, request = self._keys, state.request
        shard = k.shard(request.id)
        out = [k.by_term(shard, PENDING, d, v) for d, v in terms(request)]
        out += [k.by_term(shard, PENDING, RESPONDER, who) for who in waiting_for(request)]
        return out

    def _finish(self, section: ReadsSection, state: InteractionState) -> None:
        k, request = self._keys, state.request
        shard = k.shard(request.id)
        section.zadd = [k.by_status(shard, state.status)]
        section.zadd += [k.by_term(shard, state.status, d, v) for d, v in terms(request)]
        prefix = len(k.by_prefix(shard))
        section.finished_in = [key[prefix:] for key in section.zadd]

    def _count(
        self, section: ReadsSection, state: InteractionState, counters: dict[str, int], at: float
    ) -> None:
        if not counters:
            return
        key = self._keys.counters(self._keys.shard(state.request.id), analytics.hour_of(at))
        section.incr += [(key, name, by) for name, by in counters.items()]
        section.expire[key] = self._counters_ttl

    def _pending_counts(self, section: ReadsSection, state: InteractionState, by: int) -> None:
        key = self._keys.pending_counts(self._keys.shard(state.request.id))
        section.incr += [(key, name, by) for name in analytics.pending_fields(state)]
