"""``hitl broker``: run the broker service until SIGTERM or Ctrl-C."""

import click

from hitl.cli.common import examples, run
from hitl.cli.config import load_settings
from hitl.observability.logs import configure_logging
from hitl.settings import Settings

# Each command imports the service it runs when it runs: `hitl pending` starts fast.


def register(app: click.Group) -> None:
    app.add_command(broker)


@click.command(
    help="Run the broker service: consume requests and answers, keep state in Redis, publish "
    "notifications, outcomes and lifecycle events, fire timeouts. Stops on SIGTERM or Ctrl-C "
    "after draining in-flight work.",
    epilog=examples("hitl broker", "HITL_NAMESPACE=staging HITL_LOG_FORMAT=json hitl broker"),
)
def broker() -> None:
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    run(_run(settings))


async def _run(settings: Settings) -> int:
    from hitl.broker.service import BrokerService

    await BrokerService(settings).run_until_signalled()
    return 0
