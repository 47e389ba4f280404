"""Running the console: the notifier framework (``NotifierService``) serving the routing
file's ``terminal`` receivers through the terminal channel, whose screen is the operator's.
The framework consumes each receiver's queue, records every delivery and updates the screen
when an interaction is settled; this module only starts it beside the screen, recalls what
was shown to the receivers before and still waits, and stops both on q, Ctrl-D, Ctrl-C or
SIGTERM."""

import asyncio
import contextlib
import signal
from collections.abc import Collection

from prompt_toolkit.patch_stdout import patch_stdout

from hitl.cli.backends.port import Backend, Listing
from hitl.cli.console.screen import ConsoleScreen, Key
from hitl.cli.errors import Exit
from hitl.errors import ConfigError
from hitl.notifiers.channels.terminal import TerminalChannel
from hitl.notifiers.service import NotifierService
from hitl.observability.logs import configure_logging
from hitl.settings import Settings
from hitl_contract import HistoryEvent, Notification, NotifyReason

RECALLED = 200  # pending interactions looked at for what this console's receivers were shown


async def serve(settings: Settings, backend: Backend, receivers: Collection[str]) -> int:
    """The console until the operator quits (0), Ctrl-C or SIGINT (130), or SIGTERM (0)."""
    screen = ConsoleScreen(backend)
    service = NotifierService(
        settings, TerminalChannel(screen), receivers=receivers or None, own_updates=True
    )
    stopping = asyncio.Event()
    signalled: list[signal.Signals] = []
    loop = asyncio.get_running_loop()

    def stop(sig: signal.Signals) -> None:
        signalled.append(sig)
        stopping.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop, sig)
    with patch_stdout(raw=True):
        # Logs go above the prompt too; only what an operator should act on.
        configure_logging(settings.log_format, "WARNING")
        try:
            await service.start()
            if not service.receivers:
                raise ConfigError(
                    f"the routing file ({settings.routing_file}) has no terminal receiver for "
                    "the console to serve (docs/channels.md, Terminal console)"
                )
            await recall(screen, backend, service.receivers)
            key = await screen.run(stopping, service.receivers)
        finally:
            screen.close()
            await service.stop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
    if key == Key.INTERRUPTED or signal.SIGINT in signalled:
        return Exit.INTERRUPTED
    return Exit.OK


async def recall(screen: ConsoleScreen, backend: Backend, receivers: Collection[str]) -> None:
    """Show again what a console showed ``receivers`` before this one started and still
    waits: the deliveries recorded in each pending interaction's history."""
    page = await backend.page(Listing(status="pending", limit=RECALLED))
    for summary in page.items:
        with contextlib.suppress(Exception):  # one that cannot be read is not worth stopping
            detail = await backend.detail(summary.id)
            if detail is None or detail.outcome is not None:
                continue
            shown = [
                h.receiver
                for h in detail.history
                if h.event == HistoryEvent.DELIVERED
                and h.channel == TerminalChannel.type
                and h.receiver is not None
                and h.receiver in receivers
            ]
            if shown:
                note = Notification(
                    interaction_id=detail.id,
                    reason=NotifyReason.REQUESTED,
                    route=detail.route,
                    attempt=1,
                    deadline=detail.deadline,
                    request=detail.request,
                )
                screen.recall(shown[0], note, detail.requested_at)
