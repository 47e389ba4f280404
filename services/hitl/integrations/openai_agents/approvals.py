"""The OpenAI Agents SDK's tool approvals, answered by people through hitl.

A function tool declared with ``needs_approval=True`` interrupts the run before it executes:
``result.interruptions`` lists the calls waiting (``ToolApprovalItem``), and the run goes on
from ``result.to_state()`` once each is approved or rejected. ``approve_with_hitl`` asks one
hitl approval per waiting call (all at once), applies each outcome to the run state (a
rejection carries its reason to the model as the tool's output) and returns the state to run
again; ``run_with_hitl`` loops that until the run finishes.

    async with HitlClient.connect(url, service="support-agent") as hitl:
        result = await run_with_hitl(hitl, agent, "Refund order A-1", thread_id=conversation)
"""

import asyncio
import json
import logging
from typing import Any

from agents import (
    Agent,
    RunConfig,
    Runner,
    RunResult,
    RunResultStreaming,
    RunState,
    ToolApprovalItem,
)

from hitl.errors import AskTimeout
from hitl.integrations.openai_agents.decisions import (
    BestJudgement,
    Decision,
    arguments_of,
    decide,
    not_answered,
)
from hitl.sdk import HitlClient
from hitl_contract import InteractionRequest

log = logging.getLogger(__name__)


def approval_request(
    client: HitlClient, item: ToolApprovalItem, *, thread_id: str, **fields: Any
) -> InteractionRequest:
    """The hitl approval for one waiting tool call: the tool and its arguments in ``context``
    (and the prompt), the tool as ``node_name``; ``fields`` add to or replace any of it
    (``labels``, ``timeout_seconds``, ``responders``, ``prompt``...)."""
    tool = item.qualified_name or item.name or "tool"
    arguments = arguments_of(item.arguments)
    shown = json.dumps(arguments, ensure_ascii=False, sort_keys=True)
    agent = item.agent.name
    request: dict[str, Any] = {
        "prompt": f"{agent} wants to call {tool} with {shown}. Approve?",
        "node_name": tool[:256],
        "context": {"agent": agent, "tool": tool, "arguments": arguments, "call_id": item.call_id},
        "resume_state": {"call_id": item.call_id, "tool": tool},
    }
    request.update(fields)
    prompt = request.pop("prompt")
    return client.new_request("approval", thread_id=thread_id, prompt=prompt, **request)


async def ask_approval(
    client: HitlClient,
    item: ToolApprovalItem,
    *,
    thread_id: str,
    timeout: float | None = None,
    best_judgement: BestJudgement = "approve",
    **fields: Any,
) -> Decision:
    """Ask people to approve one tool call and wait. With ``timeout`` (seconds, this process
    waiting) an unanswered request is withdrawn (cancelled) and the call rejected; for a
    deadline people see, pass ``timeout_seconds`` (and ``on_timeout``) as fields instead."""
    request = approval_request(client, item, thread_id=thread_id, **fields)
    try:
        outcome = await client.ask(request, timeout=timeout)
    except AskTimeout:
        assert timeout is not None
        log.info("no answer to %s within %ss: withdrawn, call rejected", request.id, timeout)
        await client.cancel(request.id, reason=f"the agent went on after {timeout:g} s")
        return not_answered(timeout)
    return decide(outcome, best_judgement=best_judgement)


async def approve_with_hitl(
    client: HitlClient,
    result: RunResult | RunResultStreaming,
    *,
    thread_id: str,
    timeout: float | None = None,
    best_judgement: BestJudgement = "approve",
    **fields: Any,
) -> RunState[Any]:
    """Ask through hitl for every call in ``result.interruptions`` (of ``Runner.run`` or, once
    its events are consumed, ``Runner.run_streamed``), apply the decisions and return the state
    to pass to ``Runner.run`` (or ``run_streamed``) again."""
    state = result.to_state()
    items = list(result.interruptions)
    decisions = await asyncio.gather(
        *(
            ask_approval(
                client,
                item,
                thread_id=thread_id,
                timeout=timeout,
                best_judgement=best_judgement,
                **fields,
            )
            for item in items
        )
    )
    for item, decision in zip(items, decisions, strict=True):
        if decision.approved:
            state.approve(item)
        else:
            state.reject(item, rejection_message=decision.reason)
    return state


async def run_with_hitl(
    client: HitlClient,
    agent: Agent[Any],
    input: str,
    *,
    thread_id: str,
    run_config: RunConfig | None = None,
    timeout: float | None = None,
    best_judgement: BestJudgement = "approve",
    max_rounds: int = 20,
    **fields: Any,
) -> RunResult:
    """``Runner.run`` until the run finishes, each round of tool approvals asked through hitl.
    More than ``max_rounds`` rounds raise ``RuntimeError`` (a model that keeps asking)."""
    result = await Runner.run(agent, input, run_config=run_config)
    for _ in range(max_rounds):
        if not result.interruptions:
            return result
        state = await approve_with_hitl(
            client,
            result,
            thread_id=thread_id,
            timeout=timeout,
            best_judgement=best_judgement,
            **fields,
        )
        result = await Runner.run(agent, state, run_config=run_config)
    if result.interruptions:
        raise RuntimeError(f"the run still waits for approvals after {max_rounds} rounds")
    return result
