"""The bench's HTTP/1.1 client: keep-alive connections over asyncio streams, requests written
in one piece, responses with a Content-Length or chunked bodies, and a reader of chunked
server-sent-event streams.

Why not httpx: on this machine an httpx ``AsyncClient`` request costs about 0.65-0.7 ms of
client CPU against a server that answers at once, this client about 15 us (measure it with
``python -m hitl_bench.http``). The bench shares two cores with what it measures, and the
gateway's target is a p50 within 1 ms of the AMQP path: with httpx the client alone would take
most of that budget, and its CPU would be taken from the gateway and the broker. What the
gateway does per request is the same whichever client sends it.
"""

import argparse
import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson


class HttpError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> object:
        return orjson.loads(self.body)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


class HttpClient:
    """Requests to one server; up to ``limit`` connections, kept open between requests."""

    def __init__(self, base_url: str, headers: Mapping[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"expected an http:// URL, got {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self._prefix = parts.path.rstrip("/")
        fixed = {"host": f"{self.host}:{self.port}", **(headers or {})}
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items()).encode()
        self._idle: list[_Connection] = []

    async def _connect(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return _Connection(reader, writer)

    def head(self, method: str, path: str, extra: bytes = b"") -> bytes:
        return f"{method} {self._prefix}{path} HTTP/1.1\r\n".encode() + self._fixed + extra

    async def get(self, path: str) -> Response:
        return await self.request(self.head("GET", path) + b"\r\n")

    async def post_json(self, path: str, body: bytes) -> Response:
        extra = b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body)
        return await self.request(self.head("POST", path, extra) + b"\r\n" + body)

    async def request(self, raw: bytes) -> Response:
        """Send a whole request (head and body). When a kept-alive connection turns out to
        be closed by the server (uvicorn closes idle ones after 5 s) before any byte of the
        answer came, the idle connections are dropped and the request is sent once more on
        a new one: the bench's requests are reads, or answers with a response_id, so a
        repeat counts once."""
        for attempt in (1, 2):
            fresh = not self._idle
            connection = await self._connect() if fresh else self._idle.pop()
            try:
                connection.writer.write(raw)
                response = await read_response(connection.reader)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                connection.close()
                began = isinstance(exc, asyncio.IncompleteReadError) and bool(exc.partial)
                if fresh or attempt == 2 or began:
                    raise
                await self.close()
                continue
            except BaseException:
                connection.close()
                raise
            if response.headers.get("connection", "").lower() == "close":
                connection.close()
            else:
                self._idle.append(connection)
            return response
        raise AssertionError("unreachable")

    async def close(self) -> None:
        while self._idle:
            connection = self._idle.pop()
            connection.close()
            with contextlib.suppress(OSError):
                await connection.writer.wait_closed()


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head[:-4].decode("latin-1").split("\r\n")
    try:
        status = int(status_line.split(" ", 2)[1])
    except (IndexError, ValueError) as exc:
        raise HttpError(f"not an HTTP response: {status_line!r}") from exc
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


async def read_response(reader: asyncio.StreamReader) -> Response:
    status, headers = await read_head(reader)
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b"".join([chunk async for chunk in chunks(reader)])
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Response(status, headers, body)


async def chunks(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """The chunks of a chunked body, until its last (empty) one."""
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers are sent to the bench
            return
        chunk = await reader.readexactly(size + 2)
        yield chunk[:-2]


async def open_stream(client: HttpClient, path: str) -> AsyncIterator[bytes]:
    """GET ``path`` on a connection of its own and yield the body's bytes as they come
    (a server-sent-event stream), first ``b""`` once the response head arrived; ends when
    the server ends the response."""
    connection = await client._connect()
    try:
        connection.writer.write(
            client.head("GET", path, b"accept: text/event-stream\r\n") + b"\r\n"
        )
        status, headers = await read_head(connection.reader)
        if status != 200:
            raise HttpError(f"GET {path}: HTTP {status}")
        yield b""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            async for chunk in chunks(connection.reader):
                yield chunk
        else:
            while data := await connection.reader.read(1 << 16):
                yield data
    finally:
        connection.close()


async def _compare(requests: int) -> None:
    """This client against httpx, each sending the bench's answer to a server that replies
    at once with ``{}``: wall time and this process's CPU per request."""
    import httpx  # the test group's; only this comparison uses it

    reply = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).lower()
                length = head.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0]
                await reader.readexactly(int(length))
                writer.write(reply)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    body = orjson.dumps({"action": "approve", "data": {"reason": "within budget"}})
    path = "/v1/interactions/00000000-0000-4000-8000-000000000000/responses"
    auth = {"authorization": "Bearer hitl_0123456789ab_secret"}

    async def send_raw(count: int) -> None:
        for _ in range(count):
            await raw.post_json(path, body)

    async def send_httpx(count: int) -> None:
        for _ in range(count):
            await h.post(path, content=body, headers={"content-type": "application/json"})

    async def timed(name: str, send: Callable[[int], Awaitable[None]]) -> None:
        await send(200)  # warm-up
        wall, cpu = time.perf_counter(), time.process_time()
        await send(requests)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        per = 1e6 / requests
        print(f"{name:>15}: {wall * per:6.1f} us wall, {cpu * per:6.1f} us CPU per request")

    raw = HttpClient(url, auth)
    async with httpx.AsyncClient(base_url=url, headers=auth) as h:
        await timed("httpx", send_httpx)
        await timed("hitl_bench.http", send_raw)
    await raw.close()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m hitl_bench.http",
        description="Compare this client's cost per request with httpx's (why the bench "
        "does not use httpx).",
    )
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    asyncio.run(_compare(args.requests))


if __name__ == "__main__":
    main()
