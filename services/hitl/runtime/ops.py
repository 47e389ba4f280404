"""The operators' HTTP endpoint of every hitl process: /metrics (Prometheus), /healthz (the
process is up), /readyz (every component it needs works right now).

Readiness is a list of named checks, each saying ``ok`` or what is wrong; the body lists them
all, and any failure makes it a 503. Checks confirm rather than assume (a consumer still
attached, a task still running, Redis answering a PING), since aio-pika's auto-reconnect has
known gaps.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)
# None when the component is fine, else what is wrong with it; may be a coroutine function.
Check = Callable[[], str | Awaitable[str | None] | None]
_CHECK_TIMEOUT = 2.0


class Readiness:
    def __init__(self) -> None:
        self._checks: list[tuple[str, Check]] = []

    def add(self, name: str, check: Check) -> None:
        self._checks.append((name, check))

    async def report(self) -> list[tuple[str, str | None]]:
        """(component, problem or None) for every check, in the order they were added."""
        return [(name, await _run(check)) for name, check in self._checks]


async def _run(check: Check) -> str | None:
    try:
        result = check()
        if isinstance(result, Awaitable):
            async with asyncio.timeout(_CHECK_TIMEOUT):
                return await result
        return result
    except TimeoutError:
        return f"no answer within {_CHECK_TIMEOUT:.0f}s"
    except Exception as exc:  # noqa: BLE001 - a failing check is a reason, not a crash
        return repr(exc)


class OpsServer:
    def __init__(
        self,
        registry: CollectorRegistry,
        readiness: Readiness,
        *,
        before_scrape: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``before_scrape`` runs before each /metrics answer, to set gauges measured then."""
        self._registry = registry
        self._readiness = readiness
        self._before_scrape = before_scrape
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._handle, host, port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request_line.decode("latin-1").split()
            path = parts[1] if len(parts) > 1 else "/"
            status, ctype, body = await self._route(path)
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _route(self, path: str) -> tuple[str, str, bytes]:
        path = path.split("?", 1)[0]
        if path == "/metrics":
            if self._before_scrape is not None:
                await self._before_scrape()
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest(self._registry)
        if path == "/healthz":
            return "200 OK", "text/plain", b"ok\n"
        if path == "/readyz":
            report = await self._readiness.report()
            failing = [(name, problem) for name, problem in report if problem is not None]
            lines = [f"{name}: {problem or 'ok'}" for name, problem in report]
            if failing:
                log.info("not ready: %s", "; ".join(f"{n}: {p}" for n, p in failing))
                body = "not ready\n" + "\n".join(lines) + "\n"
                return "503 Service Unavailable", "text/plain", body.encode()
            return "200 OK", "text/plain", ("ready\n" + "\n".join(lines) + "\n").encode()
        return "404 Not Found", "text/plain", b"not found\n"
