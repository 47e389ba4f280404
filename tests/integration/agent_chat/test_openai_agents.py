"""examples/openai_agents: the OpenAI Agents SDK's tool approvals asked through hitl, with the
SDK's scripted model (offline), a real broker process, RabbitMQ and Redis. An approval runs the
tool; a rejection, a cancel or a timeout does not, and the model reads why."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from agents import Runner, RunResult
from agents.testing import ScriptedModel, assistant_message, function_call
from examples.openai_agents.refunds import OFFLINE, Ledger, scripted_model, support_agent

from hitl.core.listing import Query
from hitl.integrations.chat import ThreadGate
from hitl.integrations.openai_agents import approve_with_hitl, run_with_hitl
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


def tool_outputs(model: ScriptedModel) -> dict[str, str]:
    """What the model was given as each call's output on its last turn, by call id."""
    call = model.last_call
    assert call is not None
    assert isinstance(call.input, list)
    return {
        str(_get(item, "call_id")): str(_get(item, "output"))
        for item in call.input
        if _get(item, "type") == "function_call_output"
    }


def tool_output(model: ScriptedModel) -> str:
    """The refund call's output, the only one."""
    outputs = tool_outputs(model)
    assert list(outputs) == ["call-1"]
    return outputs["call-1"]


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


@pytest.mark.parametrize(
    ("action", "reason", "model_reads"),
    [
        ("reject", "over the refund limit",
         "Rejected by dana; the tool call was not run. Reason: over the refund limit"),
        ("cancel", "duplicate ticket",
         "The approval was cancelled by dana; the tool call was not run. Reason: duplicate ticket"),
    ],
)  # fmt: skip
async def test_a_rejected_or_cancelled_call_does_not_run_and_the_model_reads_why(
    broker_process: BrokerProcess,
    client: HitlClient,
    responder: Responder,
    gate: ThreadGate,
    action: str,
    reason: str,
    model_reads: str,
) -> None:
    ledger, model = Ledger(), scripted_model()
    running = await run(client, ledger, model)
    request = await asked(gate)
    await responder.respond(answer(request.id, action, {"reason": reason}, who="dana"))
    result = await asyncio.wait_for(running, 30)
    assert ledger.refunds == []
    assert tool_output(model) == model_reads
    assert result.final_output == "I have dealt with the refund."


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


async def test_calls_of_one_turn_are_asked_at_once_and_decided_each_on_its_own(
    broker_process: BrokerProcess, client: HitlClient, responder: Responder, gate: ThreadGate
) -> None:
    ledger = Ledger()
    model = ScriptedModel([
        [function_call("refund", {"order": "A-1", "amount": 10.0}, call_id="call-1"),
         function_call("refund", {"order": "B-2", "amount": 999.0}, call_id="call-2")],
        [assistant_message("Both handled.")],
    ])  # fmt: skip
    running = await run(client, ledger, model)
    found: list[InteractionRequest] = []

    async def both_asked() -> bool:
        found[:] = await gate.pending(THREAD)
        return len(found) == 2

    await eventually(both_asked)
    by_call = {request.context["call_id"]: request for request in found}
    await responder.respond(answer(by_call["call-2"].id, "reject", {"reason": "too much"}))
    await responder.respond(answer(by_call["call-1"].id, "approve"))
    await asyncio.wait_for(running, 30)
    assert ledger.refunds == [("A-1", 10.0)]
    outputs = tool_outputs(model)
    assert outputs["call-1"] == "refunded 10.00 EUR on A-1"
    assert outputs["call-2"].endswith("Reason: too much")


async def test_a_streamed_run_is_approved_the_same_way(
    broker_process: BrokerProcess, client: HitlClient, responder: Responder, gate: ThreadGate
) -> None:
    ledger, model = Ledger(), scripted_model()
    agent = support_agent(model, ledger)
    streamed = Runner.run_streamed(agent, "Refund order A-1042", run_config=OFFLINE)
    async for _ in streamed.stream_events():
        pass
    deciding = asyncio.create_task(approve_with_hitl(client, streamed, thread_id=THREAD))
    request = await asked(gate)
    await responder.respond(answer(request.id, "approve"))
    state = await asyncio.wait_for(deciding, 30)
    again = Runner.run_streamed(agent, state, run_config=OFFLINE)
    async for _ in again.stream_events():
        pass
    assert ledger.refunds == [("A-1042", 120.0)]
    assert again.final_output == "I have dealt with the refund."
