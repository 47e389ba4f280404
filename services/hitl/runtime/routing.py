"""The routing config in force in this process (a broker, a notifier), and its reloads.

Loaded from ``HITL_ROUTING_FILE`` at start (an invalid file stops the start, with every
error's file, line and path); loaded again on SIGHUP and whenever the file changes (checked
every ``routing_watch_seconds``). A reload that fails is reported (log, metric, a ``rejected``
lifecycle event with source ``routing``) and changes nothing: the previous config stays in
force. Several replicas reading the same file decide alike, since evaluation is pure.
"""

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any

from hitl.adapters.config.routing import RoutingConfigError, load_routing
from hitl.core.routing.config import RoutingConfig
from hitl.core.routing.recipients import Recipients, recipients
from hitl.core.routing.tree import compiled
from hitl.observability.metrics import RoutingMetrics
from hitl_contract import ErrorCode, ErrorDetail, InteractionRequest

log = logging.getLogger(__name__)
# (error, key) -> publish a rejected event
Report = Callable[[ErrorDetail, str], Coroutine[Any, Any, None]]


class Router:
    def __init__(
        self,
        path: str | None,
        default_route: str,
        metrics: RoutingMetrics,
        report: Report | None = None,
    ) -> None:
        self.path = path
        self._default_route = default_route
        self._metrics = metrics
        self._report = report
        self._signature: tuple[int, int, int] | None = None
        self._reporting: set[asyncio.Task[None]] = set()
        self._listeners: list[Callable[[RoutingConfig], None]] = []
        self.config: RoutingConfig | None = None
        if path is not None:
            self.config = load_routing(path)  # raises, with every error, at start
            compiled(self.config)  # now, not on the first request
            self._signature = _signature(path)
            log.info("routing config loaded from %s", path)

    def to(self, request: InteractionRequest, now: float) -> Recipients | None:
        """Who to notify, from the config in force; None without a config (the request's
        route alone)."""
        if self.config is None:
            return None
        return recipients(self.config, request, self._default_route, now)

    def on_reload(self, listener: Callable[[RoutingConfig], None]) -> None:
        """Call ``listener`` with each new config put in force by a reload."""
        self._listeners.append(listener)

    def reload(self, reason: str) -> bool:
        """Load the file again; True when a new config is in force."""
        if self.path is None:
            return False
        self._signature = _signature(self.path)
        try:
            config = load_routing(self.path)
        except RoutingConfigError as exc:
            self._refused(exc)
            return False
        compiled(config)
        self.config = config
        self._metrics.reloads.labels("applied").inc()
        self._metrics.ok.set(1)
        log.info("routing config reloaded from %s (%s)", self.path, reason)
        for listener in self._listeners:
            listener(config)
        return True

    async def watch(self, stop: asyncio.Event, every: float) -> None:
        """Reload when the file's size, modification time or inode changes (an editor's
        save, or a Kubernetes ConfigMap's symlink swap)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
            if self.path is not None and _signature(self.path) != self._signature:
                self.reload("the file changed")

    def _refused(self, exc: RoutingConfigError) -> None:
        self._metrics.reloads.labels("refused").inc()
        self._metrics.ok.set(0)
        log.error("routing config refused; the previous one stays in force:\n%s", exc)
        if self._report is None:
            return
        text = "\n".join(exc.problems)
        detail = ErrorDetail(
            code=ErrorCode.INVALID_CONFIG,
            message=f"routing config refused, the previous one stays in force: {text}"[:4000],
            path=self.path,
        )
        key = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
        task = asyncio.get_running_loop().create_task(self._report(detail, key))
        self._reporting.add(task)
        task.add_done_callback(self._reporting.discard)


def _signature(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)
