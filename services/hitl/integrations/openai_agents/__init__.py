"""hitl for the OpenAI Agents SDK (``pip install hitl[openai-agents]``): tool calls that need
approval are asked through hitl, and each outcome approves the call or rejects it with the
reason the model reads."""

try:
    import agents  # noqa: F401
except ImportError as exc:  # pragma: no cover - only without the extra
    raise ImportError(
        "hitl.integrations.openai_agents needs the OpenAI Agents SDK: "
        "pip install 'hitl[openai-agents]'"
    ) from exc

from hitl.integrations.openai_agents.approvals import (
    approval_request,
    approve_with_hitl,
    ask_approval,
    run_with_hitl,
)
from hitl.integrations.openai_agents.decisions import Decision, decide

__all__ = [
    "Decision",
    "approval_request",
    "approve_with_hitl",
    "ask_approval",
    "decide",
    "run_with_hitl",
]
