"""``hitl gateway``: run the HTTP gateway until SIGTERM or Ctrl-C."""

import click

from hitl.cli.common import examples, run
from hitl.cli.config import load_settings
from hitl.observability.logs import configure_logging
from hitl.settings import Settings


def register(app: click.Group) -> None:
    app.add_command(gateway)


@click.command(
    help="Run the HTTP gateway (REST API, API keys, event streams, web inbox) on "
    "HITL_GATEWAY_HOST:HITL_GATEWAY_PORT (default 127.0.0.1:8080); see docs/gateway.md.",
    epilog=examples(
        "hitl gateway", "HITL_GATEWAY_HOST=0.0.0.0 HITL_GATEWAY_PORT=8080 hitl gateway"
    ),
)
def gateway() -> None:
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    run(_run(settings))


async def _run(settings: Settings) -> int:
    from hitl.gateway.service import GatewayService

    await GatewayService(settings).run_until_signalled()
    return 0
