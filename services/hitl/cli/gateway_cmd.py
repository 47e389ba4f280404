"""``hitl gateway``: run the HTTP gateway until SIGTERM or Ctrl-C."""

import argparse

from hitl.gateway.service import GatewayService
from hitl.observability.logs import configure_logging
from hitl.settings import Settings


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "gateway",
        help="run the HTTP gateway (REST API, API keys, event streams)",
        description="Serve the REST API on HITL_GATEWAY_HOST:HITL_GATEWAY_PORT "
        "(default 127.0.0.1:8080). Example: HITL_GATEWAY_PORT=8080 hitl gateway",
    )
    p.set_defaults(handler=run)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging(settings.log_format, settings.log_level)
    await GatewayService(settings).run_until_signalled()
    return 0
