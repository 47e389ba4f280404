"""Ask people through hitl from LangGraph nodes (``pip install hitl[langgraph]``).

``ask_human`` in a node; ``HitlGraph`` runs the graph (waiting in place, or stopping at each
question and publishing it as an hitl request); ``Resumer`` (``python -m
hitl.integrations.langgraph.resumer``) resumes stopped threads as outcomes arrive. See
docs/integrations.md.
"""

try:
    import langgraph.types  # noqa: F401
except ImportError as exc:  # pragma: no cover - where the extra is not installed
    raise ImportError(
        f"hitl.integrations.langgraph needs LangGraph ({exc}): pip install 'hitl[langgraph]'"
    ) from exc

from hitl.integrations.langgraph.asking import ask_human
from hitl.integrations.langgraph.graph import HitlGraph, LangGraphState, Result, Resumed
from hitl.integrations.langgraph.resumer import Resumer, parked_queue

__all__ = [
    "HitlGraph",
    "LangGraphState",
    "Result",
    "Resumed",
    "Resumer",
    "ask_human",
    "parked_queue",
]
