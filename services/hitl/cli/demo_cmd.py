"""``hitl demo``: a producer asks a person, waits, and prints the outcome.

Without a broker consuming the namespace, the demo runs one in-process so it works on a bare
machine. ``--auto`` answers itself the way a notifier bot would: it reads the notification off
the notifications exchange and publishes an answer, so the run exercises the whole path.
"""

import asyncio
import contextlib
import logging
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import click
import orjson
from aio_pika.abc import AbstractIncomingMessage

from hitl.cli import connect
from hitl.cli.common import examples, run
from hitl.cli.config import load_settings
from hitl.cli.samples import SAMPLES
from hitl.observability.logs import configure_logging
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from hitl_contract import HumanResponse, Identity, InteractionOutcome, Notification
from hitl_contract.wire import Names


def register(app: click.Group) -> None:
    app.add_command(demo)


@click.command(
    help="Ask a person (an approval, or any --kind) and wait for the outcome. Without a broker "
    "consuming the namespace, one runs inside the demo (and stops with it); --with-broker "
    "always runs one inside, so nothing is left running afterwards.",
    epilog=examples(
        "hitl demo --auto --with-broker      everything in one process, answered by itself",
        "hitl demo --kind form               then answer it: hitl respond <id>",
    ),
)
@click.option("--auto", is_flag=True, help="Answer automatically (an unattended run).")
@click.option("--kind", type=click.Choice(sorted(SAMPLES)), default="approval", show_default=True)
@click.option(
    "--timeout",
    type=float,
    default=600.0,
    show_default=True,
    help="Seconds to wait for the outcome.",
)
@click.option(
    "--broker-wait",
    type=float,
    default=0.0,
    metavar="SECONDS",
    help="Wait this long for a starting broker before running one in-process.",
)
@click.option(
    "--with-broker", is_flag=True, help="Run a broker inside the demo, stopped when it ends."
)
def demo(auto: bool, kind: str, timeout: float, broker_wait: float, with_broker: bool) -> None:
    settings = load_settings(startup_attempts=1)
    configure_logging(settings.log_format, "WARNING")
    run(_demo(settings, kind, auto=auto, timeout=timeout, wait=broker_wait, own=with_broker))


async def _demo(
    settings: Settings, kind: str, *, auto: bool, timeout: float, wait: float, own: bool
) -> int:
    fields, action, data = SAMPLES[kind]
    async with (
        _broker(settings, wait, own),
        HitlClient.connect(
            settings.amqp_url,
            service="hitl-demo",
            namespace=settings.namespace,
            queue_type=settings.queue_type,
            delivery_limit=settings.delivery_limit,
            fast=settings.amqp_fast_path,
            startup_attempts=settings.startup_attempts,
        ) as hitl,
    ):
        request = hitl.new_request(
            kind, thread_id=f"demo-{uuid.uuid4().hex[:8]}", node_name="demo", **fields
        )
        print(f"asked: {request.kind} {request.id}\n  {request.prompt}", flush=True)
        if auto:
            async with _auto_responder(settings, request.id, action, data):
                outcome = await hitl.ask(request, timeout=timeout)
        else:
            await hitl.submit(request)
            hint = f" --data '{orjson.dumps(data).decode()}'" if data else ""
            print(
                f"waiting for a person; answer it from another terminal with:\n"
                f"  hitl resume {request.thread_id} {action}{hint}\n"
                f"  or interactively: hitl respond {request.id}\n"
                f"  (see it with: hitl pending / hitl show {request.id})",
                flush=True,
            )
            outcome = await hitl.wait(request.id, timeout=timeout)
    _print_outcome(outcome)
    return 0


def _print_outcome(outcome: InteractionOutcome) -> None:
    print(f"outcome: {outcome.status} ({outcome.action}) decided by {outcome.decided_by.type}")
    sys.stdout.write(
        orjson.dumps(outcome.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode() + "\n"
    )


@contextlib.asynccontextmanager
async def _broker(settings: Settings, wait: float, own: bool) -> AsyncIterator[None]:
    from hitl.broker.service import BrokerService  # only when the demo runs

    if not own and await _wait_for_broker(settings, wait):
        yield
        return
    if not own:
        print("no broker is consuming this namespace; running one inside the demo")
    broker = BrokerService(settings.model_copy(update={"metrics_port": 0}))
    await broker.start()
    try:
        yield
    finally:
        await broker.stop()


async def _wait_for_broker(settings: Settings, wait: float) -> bool:
    deadline = asyncio.get_running_loop().time() + wait
    while not await _broker_running(settings):
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(0.25)
    return True


async def _broker_running(settings: Settings) -> bool:
    connection = await connect.amqp(settings, "hitl-demo")
    try:
        channel = await connection.channel()
        try:
            queue = await channel.declare_queue(
                Names(settings.namespace).requests_queue, passive=True
            )
        except aio_pika.exceptions.ChannelClosed:
            return False
        result = queue.declaration_result
        return bool(result.consumer_count)
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def _auto_responder(
    settings: Settings, interaction_id: uuid.UUID, action: str, data: dict[str, Any]
) -> AsyncIterator[None]:
    """Answer like a notifier bot: on the notification for this interaction, respond."""
    names = Names(settings.namespace)
    connection = await connect.amqp(settings, "hitl-demo-auto")
    try:
        responder = await Responder.attach(
            connection, namespace=settings.namespace, fast=settings.amqp_fast_path
        )
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(names.notifications, "#")

        async def on_notification(message: AbstractIncomingMessage) -> None:
            note = Notification.model_validate_json(message.body)
            if note.interaction_id != interaction_id:
                return
            receipt = await responder.respond(
                HumanResponse(
                    interaction_id=interaction_id,
                    action=action,
                    data=data,
                    responder=Identity(id="demo-auto", display_name="hitl demo --auto"),
                    channel="demo",
                )
            )
            logging.getLogger(__name__).info("auto-answer receipt: %s", receipt)

        await queue.consume(on_notification, no_ack=True)
        yield
    finally:
        await connection.close()
