"""examples/openai_agents: the OpenAI Agents SDK's tool approvals asked through hitl, with the
SDK's scripted model (offline), a real broker process, RabbitMQ and Redis. An approval runs the
tool; a rejection, a cancel or a timeout does not, and the model reads why."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from agents import RunResult
from agents.testing import ScriptedModel
from examples.openai_agents.refunds import OFFLINE, Ledger, scripted_model, support_agent

from hitl.core.listing import Query
from hitl.integrations.chat import ThreadGate
from hitl.integrations.openai_agents import run_with_hitl
from hitl.ports import InteractionReads
from hitl.runtime.stores import open_reads
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from hitl_contract import InteractionRequest
from tests.faults.test_broker_processes import BrokerProcess
from tests.helpers import answer, eventually

THREAD = "refunds-A-1042"


@pytest.fixture
async def reads(settings: Settings) -> AsyncIterator[InteractionReads]:
    async with open_reads(settings) as store:
        yield store


@pytest.fixture
def gate(reads: InteractionReads) -> ThreadGate:
    return ThreadGate(reads)


async def asked(gate: ThreadGate) -> InteractionRequest:
    """The approval the run waits for, as the store holds it."""
    found: list[InteractionRequest] = []

    async def one_pending() -> bool:
        found[:] = await gate.pending(THREAD)
        return len(found) == 1

    await eventually(one_pending)
    return found[0]


def tool_output(model: ScriptedModel) -> str:
    """What the model was given as the refund call's output on its last turn."""
    call = model.last_call
    assert call is not None
    assert isinstance(call.input, list)
    outputs = [item for item in call.input if _get(item, "type") == "function_call_output"]
    assert [_get(item, "call_id") for item in outputs] == ["call-1"]
    return str(_get(outputs[0], "output"))


def _get(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


async def run(
    client: HitlClient, ledger: Ledger, model: ScriptedModel, **options: Any
) -> "asyncio.Task[RunResult]":
    agent = support_agent(model, ledger)
    return asyncio.create_task(
        run_with_hitl(
            client, agent, "Refund order A-1042", thread_id=THREAD, run_config=OFFLINE, **options
        )
    )


async def test_an_approved_call_runs_the_tool(
    broker_process: BrokerProcess, client: HitlClient, responder: Responder, gate: ThreadGate
) -> None:
    ledger, model = Ledger(), scripted_model()
    running = await run(client, ledger, model)
    request = await asked(gate)
    assert request.kind == "approval"
    assert request.node_name == "refund"
    assert request.context == {
        "agent": "support",
        "tool": "refund",
        "arguments": {"order": "A-1042", "amount": 120.0},
        "call_id": "call-1",
    }
    assert 'refund with {"amount": 120.0, "order": "A-1042"}' in request.prompt
    assert ledger.refunds == []  # nothing runs before a person approved

    receipt = await responder.respond(answer(request.id, "approve", {"reason": "fine"}))
    assert receipt is not None and receipt.result == "accepted"
    result = await asyncio.wait_for(running, 30)
    assert ledger.refunds == [("A-1042", 120.0)]
    assert tool_output(model) == "refunded 120.00 EUR on A-1042"
    assert result.final_output == "I have dealt with the refund."


async def test_a_rejected_call_does_not_run_and_the_model_reads_the_reason(
    broker_process: BrokerProcess, client: HitlClient, responder: Responder, gate: ThreadGate
) -> None:
    ledger, model = Ledger(), scripted_model()
    running = await run(client, ledger, model)
    request = await asked(gate)
    rejected = answer(request.id, "reject", {"reason": "over the refund limit"}, who="dana")
    await responder.respond(rejected)
    result = await asyncio.wait_for(running, 30)
    assert ledger.refunds == []
    assert tool_output(model) == (
        "Rejected by dana; the tool call was not run. Reason: over the refund limit"
    )
    assert result.final_output == "I have dealt with the refund."


async def test_a_cancelled_approval_rejects_the_call(
    broker_process: BrokerProcess, client: HitlClient, responder: Responder, gate: ThreadGate
) -> None:
    ledger, model = Ledger(), scripted_model()
    running = await run(client, ledger, model)
    request = await asked(gate)
    await responder.respond(answer(request.id, "cancel", {"reason": "duplicate ticket"}))
    await asyncio.wait_for(running, 30)
    assert ledger.refunds == []
    assert tool_output(model) == (
        "The approval was cancelled by alice; the tool call was not run. Reason: duplicate ticket"
    )


async def test_nobody_answering_in_time_rejects_the_call(
    broker_process: BrokerProcess, client: HitlClient, gate: ThreadGate
) -> None:
    """The request's own deadline (the broker times it out): the run goes on, rejected."""
    ledger, model = Ledger(), scripted_model()
    running = await run(client, ledger, model, timeout_seconds=0.5)
    await asyncio.wait_for(running, 30)
    assert ledger.refunds == []
    assert tool_output(model) == "Nobody approved this tool call in time; it was not run."
    assert await gate.pending(THREAD) == []


async def test_a_run_that_stops_waiting_withdraws_its_request(
    broker_process: BrokerProcess, client: HitlClient, reads: InteractionReads
) -> None:
    """``timeout`` is this process's wait: past it the request is cancelled, not left pending."""
    ledger, model = Ledger(), scripted_model()
    result = await asyncio.wait_for(await run(client, ledger, model, timeout=0.5), 30)
    assert ledger.refunds == []
    assert tool_output(model) == "No answer within 0.5 s; the tool call was not run."
    assert result.final_output == "I have dealt with the refund."

    async def withdrawn() -> bool:
        page = await reads.query(Query(thread_id=THREAD))
        return [state.status for state in page.items] == ["cancelled"]

    await eventually(withdrawn)
