"""A TCP proxy the fault tests control, between a hitl process and RabbitMQ or Redis.

    async with TcpProxy("127.0.0.1", 5672) as proxy:   # listens on 127.0.0.1:proxy.port
        ...                                             # point the service at proxy.port
        await proxy.cut()        # every connection through it is closed, new ones refused
        await proxy.restore()    # it listens again, on the same port
        proxy.delay = 0.05       # each chunk forwarded 50 ms late, in order

``cut`` closes the listening socket too, so a client sees what it sees when a link or a server
goes away: its connections reset, and a new one refused at once (no SYN left to time out).
``accepted`` counts the connections it ever took: a reconnect shows there.
"""

import asyncio
import contextlib
import logging
from types import TracebackType

log = logging.getLogger(__name__)
_CHUNK = 65536


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, *, port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.port = port  # 0: a free one, kept across cut/restore once bound
        self.delay = 0.0
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def is_cut(self) -> bool:
        return self._server is None

    async def start(self) -> "TcpProxy":
        assert self._server is None, "already listening"
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def cut(self) -> None:
        """Refuse new connections and reset every open one."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            transport = writer.transport
            if not transport.is_closing():
                transport.abort()  # an RST, not a polite FIN: as a link that went away
        links = list(self._links)
        for link in links:
            link.cancel()
        await asyncio.gather(*links, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def restore(self) -> None:
        """Listen again on the same port."""
        await self.start()

    async def close(self) -> None:
        await self.cut()

    async def __aenter__(self) -> "TcpProxy":
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.add(client_w)
        task = asyncio.current_task()
        assert task is not None
        self._links.add(task)
        server_w: asyncio.StreamWriter | None = None
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
            self._writers.add(server_w)
            pumps = [
                asyncio.create_task(self._pump(client_r, server_w)),
                asyncio.create_task(self._pump(server_r, client_w)),
            ]
            try:
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pump in pumps:
                    pump.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._links.discard(task)
            for writer in (client_w, server_w):
                if writer is not None:
                    self._writers.discard(writer)
                    writer.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while chunk := await reader.read(_CHUNK):
                if self.delay:
                    await asyncio.sleep(self.delay)
                writer.write(chunk)
                await writer.drain()
