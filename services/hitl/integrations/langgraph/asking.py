"""``ask_human``: a LangGraph node asks a person through hitl.

Two ways, chosen by how the graph is run (``HitlGraph.ainvoke(..., wait=...)``):

- **waiting** (``wait=True``): the node publishes the request with the in-process
  ``HitlClient`` and awaits its outcome, the graph running all along;
- **resume later** (the default, and whenever the graph is run without ``HitlGraph``): the node
  calls LangGraph's ``interrupt()`` with the question, so the graph pauses in its checkpointer;
  ``HitlGraph`` then publishes the pending interrupt as an hitl request whose ``resume_state``
  names the graph, thread, checkpoint and interrupt, and a resumer turns its outcome into
  ``Command(resume=...)`` on that thread, in whatever process runs then.

Either way the node gets the ``InteractionOutcome``. Interaction ids are derived from the graph,
the thread and the interrupt (or the task), so a node run again after a crash asks the same
question under the same id, which the broker takes as the same request, not a second one.
"""

import contextvars
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from langgraph.config import get_config
from langgraph.types import interrupt

from hitl.core.decoding import REQUEST_ADAPTER
from hitl.sdk.client import HitlClient
from hitl_contract import InteractionOutcome, InteractionRequest

# The key of an interrupt value that ask_human made; other interrupts are the user's own.
MARK = "hitl"
_IDS = uuid.UUID("5b0f7f0e-9a57-4c42-9d0a-6f1b4d2e8c31")
_RESERVED = ("id", "thread_id", "reply_to", "requester", "resume_state", "node_name")


@dataclass
class Session:
    """How the graph is run now: the client, the graph's name, and whether nodes wait."""

    client: HitlClient
    graph: str
    wait: bool
    asked: Counter[str] = field(default_factory=Counter)  # per task, for the waiting ids


SESSION: contextvars.ContextVar[Session | None] = contextvars.ContextVar(
    "hitl_langgraph_session", default=None
)


async def ask_human(
    kind: str, prompt: str, *, timeout: float | None = None, **fields: Any
) -> InteractionOutcome:
    """Ask a person from inside a node; returns the outcome (``.action``, ``.data``, ...).

    ``kind``, ``prompt`` and ``fields`` are those of an hitl request (``context``, ``options``,
    ``timeout_seconds``, ``on_timeout``, ``responders``, ``labels``...); the thread, ids,
    ``reply_to`` and ``resume_state`` are filled in here. ``timeout`` bounds the wait of a
    waiting run only (``AskTimeout``; the interaction stays pending).
    """
    spec = question(kind, prompt, **fields)
    session = SESSION.get()
    if session is None or not session.wait:
        answer = interrupt({MARK: spec})
        return InteractionOutcome.model_validate(answer)
    configurable = get_config().get("configurable", {})
    thread_id = str(configurable.get("thread_id") or "")
    if not thread_id:
        raise ValueError("ask_human needs a thread: run the graph with a thread_id")
    task = str(configurable.get("checkpoint_ns", ""))
    n = session.asked[task]
    session.asked[task] += 1
    request = build_request(
        session.client,
        spec,
        interaction_id=interaction_id(session.graph, thread_id, f"{task}#{n}"),
        thread_id=thread_id,
        node_name=_node(configurable, task),
        resume_state={"langgraph": {"graph": session.graph, "thread_id": thread_id}},
    )
    await session.client.submit(request)  # the same id again after a crash: the same request
    return await session.client.wait(request.id, timeout=timeout)


def question(kind: str, prompt: str, **fields: Any) -> dict[str, Any]:
    """The request's own part, as the interrupt value keeps it; checked now, in the node, so a
    mistake is an error where it was made rather than a dead letter later."""
    taken = sorted(set(fields) & set(_RESERVED))
    if taken:
        raise ValueError(f"ask_human fills in {taken} itself; leave them out")
    spec = {"kind": kind, "prompt": prompt, **fields}
    REQUEST_ADAPTER.validate_python(
        {**spec, "id": uuid.uuid4(), "thread_id": "t", "reply_to": "r", "requester": {"id": "r"}}
    )
    return spec


def build_request(
    client: HitlClient,
    spec: dict[str, Any],
    *,
    interaction_id: uuid.UUID,
    thread_id: str,
    node_name: str | None,
    resume_state: dict[str, Any],
) -> InteractionRequest:
    return client.new_request(
        **spec,
        id=interaction_id,
        thread_id=thread_id,
        node_name=node_name,
        resume_state=resume_state,
    )


def interaction_id(graph: str, thread_id: str, key: str) -> uuid.UUID:
    """The same question of the same run of a node always has the same id."""
    return uuid.uuid5(_IDS, f"{graph}\n{thread_id}\n{key}")


def _node(configurable: dict[str, Any], task: str) -> str | None:
    name = task.split(":", 1)[0] if task else configurable.get("langgraph_node")
    return str(name)[:256] if name else None
