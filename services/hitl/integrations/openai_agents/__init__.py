"""hitl for the OpenAI Agents SDK (``pip install hitl[openai-agents]``): tool calls that need
approval are asked through hitl, and each outcome approves the call or rejects it with the
reason the model reads."""

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
