"""``hitl notifier CHANNEL``: deliver the notifications of a routing file's receivers of one
type; ``hitl receivers disabled|enable``: the receivers a notifier stopped sending to (a
webhook that answered 410 Gone) and putting one back."""

import argparse
import sys

from hitl.adapters.redis.delivery_log import RedisDeliveryLog
from hitl.adapters.redis.keys import Keys
from hitl.notifiers.channels.webhook import WebhookChannel
from hitl.notifiers.port import Channel
from hitl.notifiers.service import NotifierService
from hitl.observability.logs import configure_logging
from hitl.runtime.startup import connect_redis
from hitl.settings import Settings

CHANNELS = ("webhook", "email", "slack", "terminal")
AVAILABLE = {"webhook": WebhookChannel}


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "notifier",
        help="deliver notifications to the receivers of one channel type",
        epilog="example: HITL_ROUTING_FILE=examples/routing.yaml hitl notifier webhook",
    )
    p.add_argument("channel", choices=CHANNELS, help="the receivers' type in the routing file")
    p.set_defaults(handler=run)
    r = sub.add_parser("receivers", help="receivers a notifier disabled (HTTP 410), and enabling")
    verbs = r.add_subparsers(dest="verb", required=True, metavar="VERB")
    verbs.add_parser("disabled", help="list disabled receivers and why").set_defaults(
        handler=disabled
    )
    enable = verbs.add_parser("enable", help="send to a disabled receiver again")
    enable.add_argument("name", help="receiver name")
    enable.set_defaults(handler=enable_receiver)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    factory = AVAILABLE.get(args.channel)
    if factory is None:
        print(f"hitl: the {args.channel} channel is not available yet (issue 15)", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    channel: Channel = factory()
    await NotifierService(settings, channel).run_until_signalled()
    return 0


async def disabled(args: argparse.Namespace, settings: Settings) -> int:
    redis = await connect_redis(settings.redis_url, settings.startup_attempts)
    try:
        found = await RedisDeliveryLog(
            redis, Keys(settings.namespace, settings.shards)
        ).all_disabled()
    finally:
        await redis.aclose()
    if not found:
        print("no receiver is disabled")
    for name, reason in sorted(found.items()):
        print(f"{name}\t{reason}")
    return 0


async def enable_receiver(args: argparse.Namespace, settings: Settings) -> int:
    redis = await connect_redis(settings.redis_url, settings.startup_attempts)
    try:
        log = RedisDeliveryLog(redis, Keys(settings.namespace, settings.shards))
        was = await log.enable(args.name)
    finally:
        await redis.aclose()
    print(f"{args.name}: enabled" if was else f"{args.name} was not disabled")
    return 0 if was else 1
