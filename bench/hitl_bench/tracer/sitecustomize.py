"""The tracer of ``python -m hitl_bench.trace``: every Python process that starts with this
directory on its path (the bench, the hitl broker, the peer's consumer) records
``(time.perf_counter(), step)`` at the steps of one interaction and writes them to
``$HITL_TRACE_DIR/<role>-<pid>.txt`` when it exits. ``perf_counter`` is ``CLOCK_MONOTONIC`` on
Linux, one clock for all processes, so their steps merge into one timeline.

The steps are marked by wrapping functions of hitl, aiormq, redis-py and asyncio at start-up
(a measuring tool only: it depends on those libraries' internals). Without ``HITL_TRACE_DIR``
this module does nothing.
"""

import atexit
import functools
import os
import sys
import time
from collections.abc import Callable
from typing import Any

_marks: list[tuple[float, str]] = []
_clock = time.perf_counter


def mark(step: str) -> None:
    _marks.append((_clock(), step))


def _role() -> str:
    if "broker" in sys.argv:
        return "K"  # the hitl broker
    if any("peer_consumer" in arg for arg in sys.argv):
        return "P"  # the peer's consumer
    return "B"  # the bench: producers, SDK, auto-responder


def _dump(directory: str) -> None:
    if not _marks:
        return
    role = _role()
    with open(os.path.join(directory, f"{role}-{os.getpid()}.txt"), "w") as out:
        out.writelines(f"{t:.7f} {role}.{step}\n" for t, step in _marks)


def _around(owner: Any, name: str, before: str, after: str | None = None) -> None:
    """Mark ``before`` when ``owner.name`` is called and ``after`` when it returns."""
    fn: Callable[..., Any] = getattr(owner, name)
    if _is_async(fn):

        @functools.wraps(fn)
        async def traced_async(*args: Any, **kwargs: Any) -> Any:
            mark(before)
            try:
                return await fn(*args, **kwargs)
            finally:
                if after:
                    mark(after)

        setattr(owner, name, traced_async)
        return

    @functools.wraps(fn)
    def traced(*args: Any, **kwargs: Any) -> Any:
        mark(before)
        try:
            return fn(*args, **kwargs)
        finally:
            if after:
                mark(after)

    setattr(owner, name, traced)


def _is_async(fn: Callable[..., Any]) -> bool:
    import inspect

    return inspect.iscoroutinefunction(fn)


def _install() -> None:
    import asyncio

    import aiormq.connection
    import redis.asyncio.connection

    def port(writer: asyncio.StreamWriter) -> int:
        peer = writer.transport.get_extra_info("peername")
        return int(peer[1]) if peer else 0

    write, writelines = asyncio.StreamWriter.write, asyncio.StreamWriter.writelines

    def traced_write(self: asyncio.StreamWriter, data: Any) -> None:
        mark(f"write:{port(self)}")
        write(self, data)

    def traced_writelines(self: asyncio.StreamWriter, data: Any) -> None:
        mark(f"write:{port(self)}")
        writelines(self, data)

    asyncio.StreamWriter.write = traced_write  # type: ignore[method-assign]
    asyncio.StreamWriter.writelines = traced_writelines  # type: ignore[method-assign]

    receiver = aiormq.connection.FrameReceiver
    get_frame = receiver.get_frame

    async def traced_get_frame(self: Any) -> Any:
        frame = await get_frame(self)
        mark(f"amqp:{type(frame[2]).__name__}")
        return frame

    receiver.get_frame = traced_get_frame  # type: ignore[method-assign]
    _around(
        redis.asyncio.connection.AbstractConnection, "read_response", "redis:read", "redis:reply"
    )

    from hitl.adapters.amqp import acks, wire
    from hitl.adapters.redis import store
    from hitl.broker import answers, committer, handlers
    from hitl.sdk import client
    from hitl_bench import peer, peer_consumer, scenario

    _around(handlers.Handlers, "on_request", "on_request")
    _around(handlers.Handlers, "on_response", "on_response")
    _around(handlers, "decode_request", "decode", "decoded")
    _around(handlers, "decode_response", "decode", "decoded")
    _around(handlers, "open_interaction", "core", "core:done")
    _around(answers, "answer", "core", "core:done")
    _around(committer, "render", "render", "render:done")
    _around(committer.Committer, "_dispatch", "dispatch", "dispatch:done")
    _around(store.RedisStore, "_evalsha_all", "scripts", "scripts:done")
    _around(wire, "write_publishes", "publish", "publish:queued")
    _around(acks.Acker, "ack", "ack")
    _around(client.HitlClient, "ask", "ask", "ask:done")
    _around(client.HitlClient, "_receive", "outcome")
    _around(peer.PeerRig, "ask_one", "ask", "ask:done")
    _around(peer.PeerRig, "_on_outcome", "outcome")
    _around(scenario.AutoResponder, "on_notification", "notified")
    _around(peer_consumer.Consumer, "on_request", "on_request")
    _around(peer_consumer.Consumer, "on_response", "on_response")


if os.environ.get("HITL_TRACE_DIR"):
    _install()
    atexit.register(_dump, os.environ["HITL_TRACE_DIR"])
