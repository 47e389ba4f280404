"""``hitl notifier CHANNEL``: deliver the notifications of a routing file's receivers of one
type; ``hitl receivers disabled|enable``: the receivers a notifier stopped sending to (a
webhook that answered 410 Gone) and putting one back."""

from collections.abc import Callable

import click

from hitl.adapters.redis.delivery_log import RedisDeliveryLog
from hitl.adapters.redis.keys import Keys
from hitl.cli import connect
from hitl.cli.common import examples, finish, out, print_json, run
from hitl.cli.config import load_settings
from hitl.cli.errors import Usage
from hitl.notifiers.channels.email import EmailChannel
from hitl.notifiers.channels.slack import SlackChannel
from hitl.notifiers.channels.webhook import WebhookChannel
from hitl.notifiers.port import Channel
from hitl.notifiers.service import NotifierService
from hitl.observability.logs import configure_logging
from hitl.settings import Settings

CHANNELS = ("webhook", "email", "slack", "terminal")
# Each channel made from the settings (email signs its answer links with the gateway's secret).
AVAILABLE: dict[str, Callable[[Settings], Channel]] = {
    "webhook": lambda _: WebhookChannel(),
    "email": EmailChannel.from_settings,
    "slack": SlackChannel.from_settings,
}


def register(app: click.Group) -> None:
    app.add_command(notifier)
    app.add_command(receivers)


@click.command(
    help="Deliver notifications to the receivers of one channel type of the routing file "
    "(HITL_ROUTING_FILE), until SIGTERM or Ctrl-C. The terminal receivers are served by "
    "`hitl console`, at a terminal.",
    epilog=examples("HITL_ROUTING_FILE=examples/routing.yaml hitl notifier webhook"),
)
@click.argument("channel", type=click.Choice(CHANNELS))
def notifier(channel: str) -> None:
    if channel == "terminal":
        raise Usage(
            "the terminal channel's notifier is the operator console: run `hitl console` at a "
            "terminal (docs/channels.md, Terminal console)"
        )
    factory = AVAILABLE[channel]
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    run(_serve(settings, factory(settings)))


async def _serve(settings: Settings, channel: Channel) -> int:
    await NotifierService(settings, channel).run_until_signalled()
    return 0


@click.group(
    help="Receivers a notifier disabled (a webhook that answered HTTP 410), and enabling them.",
    epilog=examples("hitl receivers disabled", "hitl receivers enable finance-hook"),
)
def receivers() -> None:
    pass


@receivers.command(
    help="List disabled receivers and why.",
    epilog=examples("hitl receivers disabled", "hitl receivers disabled --json"),
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object: receiver -> reason.")
def disabled(as_json: bool) -> None:
    settings = load_settings(startup_attempts=1)
    found: dict[str, str] = {}

    async def read() -> int:
        async with connect.redis(settings) as redis:
            log = RedisDeliveryLog(redis, Keys(settings.namespace, settings.shards))
            found.update(await log.all_disabled())
        return 0

    run(read())
    if as_json:
        print_json(dict(sorted(found.items())))
        return
    if not found:
        out.print("no receiver is disabled")
    for name, reason in sorted(found.items()):
        out.print(f"{name}\t{reason}", markup=False)


@receivers.command(
    help="Send to a disabled receiver again. Exit 1 when it was not disabled.",
    epilog=examples("hitl receivers enable finance-hook"),
)
@click.argument("name")
def enable(name: str) -> None:
    settings = load_settings(startup_attempts=1)

    async def put_back() -> int:
        async with connect.redis(settings) as redis:
            log = RedisDeliveryLog(redis, Keys(settings.namespace, settings.shards))
            return 0 if await log.enable(name) else 1

    code = run(put_back())
    out.print(f"{name}: enabled" if code == 0 else f"{name} was not disabled", markup=False)
    finish(code)
