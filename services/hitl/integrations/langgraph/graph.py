"""``HitlGraph``: run a compiled LangGraph graph whose nodes ``ask_human``, and resume it.

``ainvoke`` runs the graph; without ``wait`` each question becomes an interrupt in the
checkpointer and then an hitl request (``publish_pending``). ``resume`` applies an outcome to
the thread its ``resume_state`` names, once: it resumes only while that interrupt is still
pending there, recognises an outcome already applied by the mark its run left in the
checkpoints' metadata, and refuses (``Parked``) whatever it cannot place, never guessing.
"""

import asyncio
import enum
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.pregel import Pregel
from langgraph.types import Command, Interrupt, StateSnapshot
from pydantic import BaseModel, ConfigDict, ValidationError

from hitl.integrations.langgraph.asking import (
    MARK,
    SESSION,
    Session,
    build_request,
    interaction_id,
)
from hitl.sdk.client import HitlClient
from hitl_contract import InteractionOutcome

log = logging.getLogger(__name__)
APPLIED = "hitl_interaction_id"  # the checkpoint metadata key a resume leaves behind


class LangGraphState(BaseModel):
    """``resume_state["langgraph"]`` of a request published for a pending interrupt."""

    model_config = ConfigDict(extra="ignore")
    graph: str
    thread_id: str
    checkpoint_ns: str = ""
    checkpoint_id: str | None = None
    interrupt_id: str | None = None


class Result(enum.StrEnum):
    RESUMED = "resumed"
    DUPLICATE = "duplicate"  # applied before (an outcome redelivered): nothing done
    PARKED = "parked"


@dataclass(frozen=True, slots=True)
class Resumed:
    result: Result
    code: str = ""  # why it was parked, for the metric's label
    reason: str = ""  # why it was parked, for a person
    published: tuple[UUID, ...] = ()  # the questions the resumed run asked next


class HitlGraph:
    """A compiled graph (with its checkpointer) and the hitl client that asks for it.

    ``name`` (default: the client's service) goes into every request's ``resume_state``; a
    resumer only applies outcomes of the graph of its own name.
    """

    def __init__(
        self, graph: Pregel[Any, Any, Any, Any], client: HitlClient, *, name: str | None = None
    ) -> None:
        if not isinstance(graph.checkpointer, BaseCheckpointSaver):
            raise TypeError("the graph needs a checkpointer: builder.compile(checkpointer=...)")
        self._saver: BaseCheckpointSaver[Any] = graph.checkpointer
        self.graph = graph
        self.client = client
        self.name = name or client.service
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def ainvoke(self, input: Any, *, thread_id: str, wait: bool = False) -> Any:
        """Run the graph on ``thread_id``. With ``wait`` a node's question is awaited in
        place; without, the run stops at the first question and returns once the question is
        published (the result then has ``__interrupt__``)."""
        async with self._thread(thread_id), self._session(wait):
            result = await self.graph.ainvoke(input, _config(thread_id))
            if not wait:
                await self.publish_pending(thread_id)
            return result

    async def publish_pending(self, thread_id: str) -> list[UUID]:
        """Publish every question the thread waits on (its ``ask_human`` interrupts) as an
        hitl request. Safe to repeat: a question keeps its id, so the broker sees the same
        request again."""
        state = await self.graph.aget_state(_config(thread_id))
        checkpoint = state.config.get("configurable", {})
        published = []
        for pending in state.interrupts:
            value = pending.value
            if not (isinstance(value, dict) and isinstance(value.get(MARK), dict)):
                continue  # an interrupt of the user's own
            resume = LangGraphState(
                graph=self.name,
                thread_id=thread_id,
                checkpoint_ns=str(checkpoint.get("checkpoint_ns", "")),
                checkpoint_id=checkpoint.get("checkpoint_id"),
                interrupt_id=pending.id,
            )
            request = build_request(
                self.client,
                value[MARK],
                interaction_id=interaction_id(self.name, thread_id, pending.id),
                thread_id=thread_id,
                node_name=_node_of(state, pending),
                resume_state={"langgraph": resume.model_dump()},
            )
            await self.client.submit(request)
            published.append(request.id)
        return published

    async def resume(self, outcome: InteractionOutcome) -> Resumed:
        """Apply ``outcome`` to the thread and interrupt its ``resume_state`` names, once."""
        try:
            where = LangGraphState.model_validate((outcome.resume_state or {})["langgraph"])  # type: ignore[index,call-overload]
        except (KeyError, TypeError, ValidationError):
            return Resumed(Result.PARKED, "no_thread", "its resume_state names no LangGraph thread")
        if where.graph != self.name:
            return Resumed(
                Result.PARKED, "other_graph", f"it is for graph {where.graph!r}, not {self.name!r}"
            )
        if where.interrupt_id is None:
            return Resumed(
                Result.PARKED, "no_interrupt", "it answers a question asked while the graph waited"
            )
        async with self._thread(where.thread_id), self._session(wait=False):
            return await self._resume(outcome, where, where.interrupt_id)

    async def _resume(
        self, outcome: InteractionOutcome, where: LangGraphState, interrupt: str
    ) -> Resumed:
        thread = where.thread_id
        latest = await self.graph.aget_state(_config(thread))
        if latest.created_at is None:
            return Resumed(
                Result.PARKED, "unknown_thread", f"thread {thread!r} is not in the checkpointer"
            )
        if any(pending.id == interrupt for pending in latest.interrupts):
            config = _config(thread)
            config["metadata"] = {APPLIED: str(outcome.interaction_id)}
            resume: Command[Any] = Command(resume={interrupt: outcome.model_dump(mode="json")})
            await self.graph.ainvoke(resume, config)
            return Resumed(Result.RESUMED, published=tuple(await self.publish_pending(thread)))
        if await self._applied(thread, outcome.interaction_id):
            # A redelivery: the run it started committed; publish what it asked next, in
            # case the last attempt stopped before doing so (the same ids: no double asks).
            return Resumed(Result.DUPLICATE, published=tuple(await self.publish_pending(thread)))
        if where.checkpoint_id is not None:
            asked_at = await self.graph.aget_state(
                _config(thread, where.checkpoint_ns, where.checkpoint_id)
            )
            if asked_at.created_at is None:
                return Resumed(
                    Result.PARKED,
                    "unknown_checkpoint",
                    f"checkpoint {where.checkpoint_id} of thread {thread!r} is not in the "
                    "checkpointer",
                )
        return Resumed(
            Result.PARKED,
            "moved_on",
            f"thread {thread!r} no longer waits on interrupt {interrupt} (it moved on)",
        )

    async def _applied(self, thread_id: str, interaction: UUID) -> bool:
        found = self._saver.alist(_config(thread_id), filter={APPLIED: str(interaction)}, limit=1)
        async for _ in found:
            return True
        return False

    @asynccontextmanager
    async def _thread(self, thread_id: str) -> AsyncIterator[None]:
        """One run of a thread at a time in this process (two outcomes of parallel questions
        must not resume it at once)."""
        lock = self._locks.get(thread_id)
        if lock is None:  # kept while a run holds or awaits it (a weak map)
            self._locks[thread_id] = lock = asyncio.Lock()
        async with lock:
            yield

    @asynccontextmanager
    async def _session(self, wait: bool) -> AsyncIterator[None]:
        token = SESSION.set(Session(self.client, self.name, wait))
        try:
            yield
        finally:
            SESSION.reset(token)


def _config(thread_id: str, ns: str | None = None, checkpoint_id: str | None = None) -> Any:
    configurable: dict[str, Any] = {"thread_id": thread_id}
    if checkpoint_id is not None:
        configurable |= {"checkpoint_ns": ns or "", "checkpoint_id": checkpoint_id}
    return {"configurable": configurable}


def _node_of(state: StateSnapshot, pending: Interrupt) -> str | None:
    for task in state.tasks:
        if any(i.id == pending.id for i in task.interrupts):
            return task.name[:256]
    return None
