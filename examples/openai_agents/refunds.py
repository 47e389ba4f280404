"""A support agent of the OpenAI Agents SDK that refunds orders, each refund approved by a
person through hitl (``hitl.integrations.openai_agents``).

The model here is scripted (the SDK's ``agents.testing.ScriptedModel``: canned responses, no
network, no API key): it calls ``refund`` once, then says it is done. With a real model, pass
``Agent(model="gpt-...")`` instead; nothing else changes.

Run it beside ``hitl broker`` and answer from another terminal (``hitl pending``, then
``hitl resume refunds-A-1042 approve`` or ``reject --data '{"reason": "..."}'``)::

    uv run python -m examples.openai_agents.refunds
"""

import asyncio
from dataclasses import dataclass, field

from agents import Agent, FunctionTool, RunConfig, function_tool
from agents.models.interface import Model
from agents.testing import ScriptedModel, assistant_message, function_call

from hitl.integrations.openai_agents import run_with_hitl
from hitl.sdk import HitlClient
from hitl.settings import Settings

OFFLINE = RunConfig(tracing_disabled=True)  # no traces sent to OpenAI either


@dataclass
class Ledger:
    """What the refund tool did: only an approved call gets here."""

    refunds: list[tuple[str, float]] = field(default_factory=list)

    def tool(self) -> FunctionTool:
        @function_tool(needs_approval=True)
        def refund(order: str, amount: float) -> str:
            """Refund an order to the customer's card."""
            self.refunds.append((order, amount))
            return f"refunded {amount:.2f} EUR on {order}"

        return refund


def scripted_model(order: str = "A-1042", amount: float = 120.0) -> ScriptedModel:
    """Calls ``refund`` for ``order``, then answers whatever the tool said."""
    return ScriptedModel(
        [
            [function_call("refund", {"order": order, "amount": amount}, call_id="call-1")],
            [assistant_message("I have dealt with the refund.")],
        ]
    )


def support_agent(model: Model, ledger: Ledger) -> Agent[None]:
    return Agent(name="support", model=model, tools=[ledger.tool()])


async def main() -> None:
    settings, ledger = Settings(), Ledger()
    agent = support_agent(scripted_model(), ledger)
    async with HitlClient.connect(
        settings.amqp_url, service="support-agent", namespace=settings.namespace
    ) as hitl:
        result = await run_with_hitl(
            hitl, agent, "Refund order A-1042", thread_id="refunds-A-1042", run_config=OFFLINE
        )
    print(result.final_output, "refunds made:", ledger.refunds)


if __name__ == "__main__":
    asyncio.run(main())
