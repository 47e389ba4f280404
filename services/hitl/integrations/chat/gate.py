"""Is a chat thread waiting on a person? (Seed 004: a chat blocks new messages while its form is
pending.) The store's read of a thread's pending interactions, plus what this process asked and
the broker may not have stored yet."""

from uuid import UUID

from hitl.core.listing import Query
from hitl.ports import InteractionReads
from hitl_contract import InteractionRequest


class ThreadGate:
    """``await gate.pending(thread)`` lists what the thread waits for, oldest first.

    The thread id is the one the requests carry (``thread_id``): ask with the chat thread's id.
    A request is pending from ``asking`` (call it before publishing) until its outcome arrived
    and ``settled`` was called, and in between for as long as the store says so; so a form
    asked by another replica, or before a restart, blocks the thread too.
    """

    def __init__(self, reads: InteractionReads, *, limit: int = 20) -> None:
        self._reads = reads
        self._limit = limit
        self._asked: dict[UUID, InteractionRequest] = {}

    def asking(self, request: InteractionRequest) -> None:
        self._asked[request.id] = request

    def settled(self, interaction_id: UUID) -> None:
        self._asked.pop(interaction_id, None)

    async def pending(self, thread_id: str) -> list[InteractionRequest]:
        page = await self._reads.query(
            Query(status="pending", thread_id=thread_id, newest_first=False, limit=self._limit)
        )
        found = [state.request for state in page.items]
        stored = {request.id for request in found}
        found += [
            request
            for request in self._asked.values()
            if request.thread_id == thread_id and request.id not in stored
        ]
        return found

    async def blocked(self, thread_id: str) -> bool:
        return bool(await self.pending(thread_id))
