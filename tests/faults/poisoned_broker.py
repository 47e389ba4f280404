"""``hitl broker`` with a poison pill, for the fault tests only: ``python -m
tests.faults.poisoned_broker`` runs the real broker (``hitl broker``, same settings), except
that its request handler fails on every request whose body contains ``$POISON_TEXT``:

- ``POISON_MODE=crash``: the process dies at once (SIGKILL to itself), as on a segfault or an
  out-of-memory kill; the delivery goes back to the queue, and RabbitMQ counts it;
- ``POISON_MODE=raise``: the handler raises, as a bug would.

The fault is injected here, around the handler, so the service's code carries no test hook.
"""

import os
import signal
import sys

from hitl.broker.handlers import Handlers
from hitl.cli.main import main
from hitl.ports import Delivery

POISON = os.environ["POISON_TEXT"].encode()
MODE = os.environ.get("POISON_MODE", "crash")
_handle = Handlers.on_request


async def on_request(self: Handlers, message: Delivery) -> None:
    if POISON in message.body:
        if MODE == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        raise RuntimeError("poisoned request: the handler fails on it every time")
    await _handle(self, message)


if __name__ == "__main__":
    Handlers.on_request = on_request  # type: ignore[method-assign]
    sys.exit(main(["broker"]))
