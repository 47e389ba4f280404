"""The operator console (``hitl console``, the terminal channel's notifier) in a real terminal
(tmux), beside a real ``hitl broker`` process, on the real RabbitMQ and Redis: a request shows
up with the panels of ``hitl respond``, the operator answers it in place (an approval; a form
whose refused field is asked again with the broker's message) and the producer gets the
outcome, straight on the servers or through the gateway as the key's identity; one decided
elsewhere is marked settled and the half-typed answer for it is dropped, never sent; a
restarted console shows what still waits; a request arriving while the operator answers another
waits its turn, a reminder is one line; Ctrl-C drops an answer, then ends it with 130;
SIGTERM drops an answer being typed and ends it with 0."""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import aio_pika
import pytest
from redis.asyncio import Redis

from hitl.adapters.amqp.teardown import delete_queues_and_exchanges
from hitl.gateway.service import GatewayService
from hitl.runtime.stores import redis_store
from hitl.sdk import HitlClient
from hitl.settings import Settings
from hitl_contract import InteractionRequest
from hitl_contract.wire import Names
from tests.helpers import eventually
from tests.integration.cli.conftest import mint_key
from tests.integration.gateway.conftest import gateway_settings
from tests.servers import AMQP_URL
from tests.tmux import Tmux

pytestmark = pytest.mark.slow
HITL = (sys.executable, "-m", "hitl.cli.main")
RECEIVER, THROUGH_GATEWAY = "ops-console", "gw-console"
ROUTING = f"""\
receivers:
  - name: {RECEIVER}
    type: terminal
  - name: {THROUGH_GATEWAY}
    type: terminal
route:
  receivers: [{RECEIVER}]
  routes:
    - matchers: [team=gw]
      receivers: [{THROUGH_GATEWAY}]
    - matchers: [team=remind]
      receivers: [{RECEIVER}]
      reminder_every: 1s
      max_reminders: 1
"""


def process_env(settings: Settings, routing: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}
    env |= {
        "HITL_AMQP_URL": settings.amqp_url,
        "HITL_REDIS_URL": settings.redis_url,
        "HITL_NAMESPACE": settings.namespace,
        "HITL_ROUTING_FILE": str(routing),
        "HITL_METRICS_PORT": "0",
        "HITL_POLL_INTERVAL_SECONDS": "0.05",
        "HITL_OUTBOX_LEASE_SECONDS": "1",
        "HITL_LOG_FORMAT": "text",
        "USER": "alice",
        "LOGNAME": "alice",
    }
    return env | more


@dataclass
class Console:
    term: Tmux
    client: HitlClient
    settings: Settings
    redis: Redis

    async def ask(self, kind: str = "approval", **fields: Any) -> InteractionRequest:
        fields.setdefault("prompt", "Pay 500 EUR to ACME?")
        request = self.client.new_request(kind, thread_id="invoice-7", **fields)
        await self.client.submit(request)
        return request

    async def events(self, iid: UUID) -> list[tuple[str, str | None]]:
        history = await redis_store(self.redis, self.settings).history(iid)
        return [(h.event.value, h.channel) for h in history]


@pytest.fixture
async def console(
    settings: Settings, client: HitlClient, redis: Redis, tmp_path: Path
) -> AsyncIterator[Console]:
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING)
    env = process_env(settings, routing)
    broker = await asyncio.create_subprocess_exec(
        *HITL, "broker", env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    term = Tmux(env)
    try:
        term.start([*HITL, "console", "--receiver", RECEIVER])
        await term.wait_for(
            r"serving ops-console; answers go to RabbitMQ and Redis \(namespace test-\w+\)\. "
            "0 waiting"
        )
        yield Console(term, client, settings, redis)
    finally:
        term.close()
        broker.terminate()
        await broker.wait()
        connection = await aio_pika.connect(AMQP_URL)
        names = Names(settings.namespace)
        queues = [names.notifier_queue(r) for r in (RECEIVER, THROUGH_GATEWAY)]
        await delete_queues_and_exchanges(connection, queues, [])
        await connection.close()


async def test_a_request_shows_up_with_its_panel_and_is_approved_in_place(
    console: Console,
) -> None:
    request = await console.ask(context={"amount": 500})
    at = await console.term.wait_for(r"#1 new: approval for ops-console")
    await console.term.wait_for(r"Pay 500 EUR to ACME\?", after=at)
    await console.term.wait_for(r'"amount": 500', after=at)  # the panel of `hitl respond`
    console.term.keys("1", "Enter")
    at = await console.term.wait_for("Your decision:", after=at)
    console.term.keys("Enter")  # approve
    await console.term.wait_for("Reason", after=at)
    console.term.type("Within budget")
    console.term.keys("Enter")
    await console.term.wait_for(
        r"#1 accepted: resolved \(approve\) by person alice via terminal", after=at
    )

    outcome = await console.client.wait(request.id, timeout=15)
    assert (outcome.action, outcome.data) == ("approve", {"reason": "Within budget"})
    assert outcome.decided_by.identity is not None
    assert outcome.decided_by.identity.id == "alice"
    assert outcome.decided_by.channel == "terminal"
    # The framework recorded the delivery and, once decided, the update of the console.
    await eventually(lambda: _has(console, request.id, ("updated", "terminal")))
    assert ("delivered", "terminal") in await console.events(request.id)


async def test_a_refused_form_field_is_asked_again_with_the_brokers_message(
    console: Console,
) -> None:
    request = await console.ask(
        "form",
        prompt="Register the new service.",
        fields=[
            {"name": "service", "type": "string", "required": True},
            {"name": "replicas", "type": "integer", "minimum": 1, "maximum": 20, "default": 2},
        ],
    )
    at = await console.term.wait_for("#1 new: form for ops-console")
    console.term.keys("1", "Enter")
    at = await console.term.wait_for(r"service \(string\)", after=at)
    console.term.type("payments")
    console.term.keys("Enter")
    at = await console.term.wait_for(r"replicas \(integer, 1-20, optional\) \[2\]", after=at)
    console.term.type("50")
    console.term.keys("Enter")
    at = await console.term.wait_for(
        r"the broker refused it: refused at data\.answers\.replicas: must be at most 20",
        after=at,
    )
    at = await console.term.wait_for(r"replicas \(integer, 1-20, optional\) \[50\]", after=at)
    console.term.keys("BSpace", "BSpace")
    console.term.type("3")
    console.term.keys("Enter")
    await console.term.wait_for(r"#1 accepted: resolved \(submit\)", after=at)

    outcome = await console.client.wait(request.id, timeout=15)
    assert outcome.data == {"answers": {"service": "payments", "replicas": 3}}


async def test_what_arrives_while_answering_waits_its_turn_and_reminders_are_one_line(
    console: Console,
) -> None:
    first = await console.ask(prompt="Restart the api?", labels={"team": "remind"})
    at = await console.term.wait_for("answer: type 1")
    await console.term.wait_for(r"#1 reminder: still waits \(approval on invoice-7", after=at)
    console.term.keys("1", "Enter")
    answering = await console.term.wait_for("answering #1", after=at)
    at = await console.term.wait_for("Your decision:", after=answering)
    await console.ask(prompt="Rotate the keys?")
    await console.term.wait_for(  # written above the question
        r"#2 new approval on invoice-7: Rotate the keys\? \(shown once you are done\)",
        after=answering,
    )
    console.term.keys("Enter")  # approve #1
    at = await console.term.wait_for("Reason", after=at)
    console.term.keys("Enter")
    at = await console.term.wait_for(r"#1 accepted: resolved \(approve\)", after=at)
    at = await console.term.wait_for("#2 new: approval for ops-console", after=at)
    await console.term.wait_for("answer: type 2", after=at)
    assert (await console.client.wait(first.id, timeout=15)).action == "approve"
    assert console.term.screen().count("#1 new:") == 1  # the reminder was not a new request


async def test_decided_elsewhere_the_half_typed_answer_is_dropped(
    console: Console, tmp_path: Path
) -> None:
    waiting = await console.ask(prompt="Restart the api?")
    typing = await console.ask(prompt="Deploy v2.4 to production?")
    at = await console.term.wait_for("answer: type 2")
    console.term.keys("2", "Enter")
    # What arrives during a question is written above it: looked for from here on.
    answering = await console.term.wait_for("answering #2", after=at)
    at = await console.term.wait_for("Your decision:", after=answering)
    console.term.keys("Enter")  # approve...
    at = await console.term.wait_for("Reason", after=at)
    console.term.type("looks fine to m")  # ...and never finished

    # bob decides both from another terminal, with the CLI.
    env = console.term.env | {"USER": "bob", "LOGNAME": "bob"}
    for request in (typing, waiting):
        done = await asyncio.to_thread(
            subprocess.run, [*HITL, "resume", str(request.id), "reject"],
            env=env, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    await console.term.wait_for(r"#2 settled: rejected by bob via cli at", after=answering)
    at = await console.term.wait_for(
        r"#2: your answer was abandoned, nothing sent \(decided elsewhere\)", after=answering
    )
    await console.term.wait_for(r"#1 settled: rejected by bob via cli", after=answering)
    await console.term.wait_for("console>", after=at)
    console.term.keys("l", "Enter")  # the list: nothing waits any more
    await console.term.wait_for("nothing waits", after=at)
    console.term.keys("2", "Enter")
    await console.term.wait_for(r"#2 is settled: rejected by bob", after=at)

    outcome = await console.client.wait(typing.id, timeout=15)
    assert outcome.decided_by.identity is not None
    assert (outcome.action, outcome.decided_by.identity.id) == ("reject", "bob")
    responses = [e for e in await console.events(typing.id) if e[0] == "responded"]
    assert responses == [("responded", "cli")]  # the console sent nothing


async def test_a_console_started_again_shows_what_still_waits(console: Console) -> None:
    request = await console.ask(prompt="Rotate the database password?")
    await console.term.wait_for("#1 new: approval")
    console.term.keys("q", "Enter")
    await console.term.wait_for(r"\[exited 0\]")

    again = Tmux(console.term.env)
    try:
        again.start([*HITL, "console", "--receiver", RECEIVER])
        at = await again.wait_for(r"#1 waiting for \S+: approval for ops-console")
        await again.wait_for("Rotate the database password", after=at)
        await again.wait_for("1 waiting", after=at)
    finally:
        again.close()
    state = await redis_store(console.redis, console.settings).load(request.id)
    assert state is not None and state.is_pending  # shown twice, answered by nobody


async def test_through_the_gateway_the_operator_answers_as_the_keys_identity(
    console: Console,
) -> None:
    gateway = GatewayService(gateway_settings(console.settings.namespace))
    await gateway.start()
    term = Tmux(
        console.term.env
        | {
            "HITL_GATEWAY_URL": f"http://127.0.0.1:{gateway.port}",
            "HITL_GATEWAY_KEY": await mint_key(
                console.settings, console.redis, "dana@example.com", "read", "respond"
            ),
        }
    )
    try:
        term.start([*HITL, "console", "--receiver", THROUGH_GATEWAY])
        await term.wait_for(
            r"serving gw-console; answers go to the gateway at http://127\.0\.0\.1:\d+\. 0 waiting"
        )
        request = await console.ask(labels={"team": "gw"})
        at = await term.wait_for("#1 new: approval for gw-console")
        term.keys("1", "Enter")
        at = await term.wait_for("Your decision:", after=at)
        term.keys("Down", "Enter")  # reject
        at = await term.wait_for("Reason", after=at)
        term.keys("Enter")
        await term.wait_for(
            r"#1 accepted: resolved \(reject\) by person dana@example.com via http", after=at
        )
    finally:
        term.close()
        await gateway.stop()
    outcome = await console.client.wait(request.id, timeout=15)
    assert outcome.decided_by.identity is not None
    assert outcome.decided_by.identity.id == "dana@example.com"


async def test_a_receiver_not_in_the_routing_file_is_refused(console: Console) -> None:
    term = Tmux(console.term.env)
    try:
        term.start([*HITL, "console", "--receiver", "nobody"])
        await term.wait_for(
            "the routing file has no terminal receiver named nobody; its terminal receivers: "
            "gw-console, ops-console"
        )
        await term.wait_for(r"\[exited 1\]")
    finally:
        term.close()


async def test_ctrl_c_drops_the_answer_then_ends_the_console_with_130(console: Console) -> None:
    request = await console.ask()
    at = await console.term.wait_for("#1 new: approval")
    console.term.keys("1", "Enter")
    at = await console.term.wait_for("Your decision:", after=at)
    console.term.keys("C-c")
    at = await console.term.wait_for("#1: nothing sent; it still waits", after=at)
    await console.term.wait_for("console>", after=at)
    console.term.keys("C-c")
    await console.term.wait_for(r"\[exited 130\]")
    state = await redis_store(console.redis, console.settings).load(request.id)
    assert state is not None and state.is_pending


async def test_sigterm_drops_the_answer_being_typed_and_stops_with_0(console: Console) -> None:
    request = await console.ask()
    at = await console.term.wait_for("answer: type 1")
    console.term.keys("1", "Enter")
    at = await console.term.wait_for("Your decision:", after=at)
    os.kill(console.term.command_pid(), signal.SIGTERM)
    at = await console.term.wait_for(
        r"#1: your answer was abandoned, nothing sent \(the console is stopping\)", after=at
    )
    await console.term.wait_for(r"\[exited 0\]", after=at)
    state = await redis_store(console.redis, console.settings).load(request.id)
    assert state is not None and state.is_pending


async def _has(console: Console, iid: UUID, event: tuple[str, str]) -> bool:
    return event in await console.events(iid)
