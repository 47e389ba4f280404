"""Is a chat thread waiting on a person? (Seed 004: a chat blocks new messages while its form is
pending.) The thread's pending interactions as hitl reads them, from the store or through the
gateway, plus what this process asked and the broker may not have stored yet."""

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from hitl.core.decoding import REQUEST_ADAPTER
from hitl.core.listing import Query
from hitl.errors import TransportError
from hitl.ports import InteractionReads
from hitl_contract import InteractionRequest

ReadPending = Callable[[str, int], Awaitable[list[InteractionRequest]]]


class ThreadGate:
    """``await gate.pending(thread)`` lists what the thread waits for, oldest first.

    The thread id is the one the requests carry (``thread_id``): ask with the chat thread's id.
    A request is pending from ``asking`` (call it before publishing) until its outcome arrived
    and ``settled`` was called, and in between for as long as hitl says so; so a form asked by
    another replica, or before a restart, or by any producer on that thread, blocks it too.

    ``ThreadGate(reads)`` reads the store (``hitl.runtime.stores.open_reads``);
    ``ThreadGate.through_gateway(http)`` asks the gateway, for a chat without access to Redis.
    """

    def __init__(self, reads: "InteractionReads | ReadPending", *, limit: int = 20) -> None:
        self._read = reads if callable(reads) else _store_pending(reads)
        self._limit = limit
        self._asked: dict[UUID, InteractionRequest] = {}

    @classmethod
    def through_gateway(cls, http: httpx.AsyncClient, *, limit: int = 20) -> "ThreadGate":
        """``http`` has the gateway's ``base_url`` and an API key of scope ``read`` in its
        ``Authorization`` header."""
        return cls(_GatewayPending(http), limit=limit)

    def asking(self, request: InteractionRequest) -> None:
        self._asked[request.id] = request

    def settled(self, interaction_id: UUID) -> None:
        """The chat went on with this interaction's outcome."""
        self._asked.pop(interaction_id, None)

    async def pending(self, thread_id: str) -> list[InteractionRequest]:
        found = await self._read(thread_id, self._limit)
        known = {request.id for request in found}
        return found + [
            request
            for request in self._asked.values()
            if request.thread_id == thread_id and request.id not in known
        ]

    async def blocked(self, thread_id: str) -> bool:
        return bool(await self.pending(thread_id))


def _store_pending(reads: InteractionReads) -> ReadPending:
    async def pending(thread_id: str, limit: int) -> list[InteractionRequest]:
        query = Query(status="pending", thread_id=thread_id, newest_first=False, limit=limit)
        return [state.request for state in (await reads.query(query)).items]

    return pending


class _GatewayPending:
    """``GET /v1/threads/{thread}/pending``, then each request by ``GET /v1/interactions/{id}``
    (a thread rarely waits on more than one)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def __call__(self, thread_id: str, limit: int) -> list[InteractionRequest]:
        page = await self._get(f"/v1/threads/{quote(thread_id, safe='')}/pending?limit={limit}")
        requests = []
        for item in page["items"] if page is not None else ():
            detail = await self._get(f"/v1/interactions/{item['id']}", missing_ok=True)
            if detail is not None and detail["status"] == "pending":
                requests.append(REQUEST_ADAPTER.validate_python(detail["request"]))
        return requests

    async def _get(self, path: str, *, missing_ok: bool = False) -> dict[str, Any] | None:
        """The JSON body; None for a 404 when ``missing_ok`` (decided and expired meanwhile)."""
        try:
            got = await self._http.get(path)
        except httpx.HTTPError as exc:
            where = self._http.base_url
            raise TransportError(f"the gateway at {where} is unreachable: {exc}") from exc
        if got.status_code == 404 and missing_ok:
            return None
        if got.status_code != 200:
            raise TransportError(
                f"the gateway answered {got.status_code} to GET {path}: {got.text[:300]}"
            )
        body: dict[str, Any] = got.json()
        return body
