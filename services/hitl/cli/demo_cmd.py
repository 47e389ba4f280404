"""``hitl demo``: a producer asks a person, waits, and prints the outcome.

Without a broker consuming the namespace, the demo runs one in-process so it works on a bare
machine. ``--auto`` answers itself the way a notifier bot would: it reads the notification off
the notifications exchange and publishes an answer, so the run exercises the whole path.
"""

import argparse
import asyncio
import contextlib
import logging
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import AbstractIncomingMessage

from hitl.broker.service import BrokerService
from hitl.cli.samples import SAMPLES
from hitl.observability.logs import configure_logging
from hitl.runtime.startup import connect_amqp
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from hitl_contract import HumanResponse, Identity, InteractionOutcome, Notification
from hitl_contract.wire import Names


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("demo", help="ask a person (an approval, or any --kind) and wait")
    p.add_argument("--auto", action="store_true", help="answer automatically (unattended run)")
    p.add_argument("--kind", choices=sorted(SAMPLES), default="approval")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the outcome")
    p.add_argument(
        "--broker-wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for a starting broker before running one in-process",
    )
    p.set_defaults(handler=run)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging(settings.log_format, "WARNING")
    fields, action, data = SAMPLES[args.kind]
    async with (
        _broker_if_missing(settings, args.broker_wait),
        HitlClient.connect(
            settings.amqp_url,
            service="hitl-demo",
            namespace=settings.namespace,
            queue_type=settings.queue_type,
            delivery_limit=settings.delivery_limit,
            fast=settings.amqp_fast_path,
        ) as hitl,
    ):
        request = hitl.new_request(
            args.kind, thread_id=f"demo-{uuid.uuid4().hex[:8]}", node_name="demo", **fields
        )
        print(f"asked: {request.kind} {request.id}\n  {request.prompt}")
        if args.auto:
            async with _auto_responder(settings, request.id, action, data):
                outcome = await hitl.ask(request, timeout=args.timeout)
        else:
            await hitl.submit(request)
            hint = f" --data '{orjson.dumps(data).decode()}'" if data else ""
            print(
                f"waiting for a person; answer it from another terminal with:\n"
                f"  hitl respond {request.id} {action}{hint}\n"
                f"  (see it with: hitl pending / hitl show {request.id})"
            )
            outcome = await hitl.wait(request.id, timeout=args.timeout)
    _print_outcome(outcome)
    return 0


def _print_outcome(outcome: InteractionOutcome) -> None:
    print(f"outcome: {outcome.status} ({outcome.action}) decided by {outcome.decided_by.type}")
    sys.stdout.write(
        orjson.dumps(outcome.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode() + "\n"
    )


@contextlib.asynccontextmanager
async def _broker_if_missing(settings: Settings, wait: float) -> AsyncIterator[None]:
    if await _wait_for_broker(settings, wait):
        yield
        return
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
    connection = await connect_amqp(settings.amqp_url, settings.startup_attempts, name="hitl-demo")
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
    connection = await connect_amqp(
        settings.amqp_url, settings.startup_attempts, name="hitl-demo-auto"
    )
    async with Responder.connect(
        settings.amqp_url, namespace=settings.namespace, fast=settings.amqp_fast_path
    ) as responder:
        try:
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
