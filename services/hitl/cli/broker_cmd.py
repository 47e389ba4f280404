"""``hitl broker``: run the broker service until SIGTERM or Ctrl-C."""

import argparse

from hitl.broker.service import BrokerService
from hitl.observability.logs import configure_logging
from hitl.settings import Settings


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("broker", help="run the broker service")
    p.set_defaults(handler=run)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging(settings.log_format, settings.log_level)
    await BrokerService(settings).run_until_signalled()
    return 0
