"""What the webhook channel's tests send, and the receivers they send it to.

The receivers are HTTP/1.1 servers on loopback. Each records the requests it gets and answers
each one as it is told: a status, or misbehaviour a real HTTP server would not allow (hang,
close before answering, close mid-body, answer garbage); so it speaks just enough HTTP/1.1
over asyncio streams itself."""

import asyncio
import base64
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hitl_contract import (
    ApprovalRequest,
    DecidedBy,
    Identity,
    InteractionOutcome,
    Notification,
    NotifyReason,
    OutcomeStatus,
)

SECRET = "whsec_" + base64.b64encode(b"the first secret of 32 bytes....").decode()
NEXT_SECRET = "whsec_" + base64.b64encode(b"the secret that replaces it, 32b").decode()


def notification(reason: NotifyReason = NotifyReason.REQUESTED, attempt: int = 1) -> Notification:
    request = ApprovalRequest.model_validate(
        {
            "id": str(uuid.uuid4()),
            "thread_id": "deploy-42",
            "kind": "approval",
            "prompt": "Deploy api 1.4 to production?",
            "reply_to": "ci",
            "requester": {"id": "release-bot"},
            "labels": {"env": "production"},
        }
    )
    return Notification(
        interaction_id=request.id, reason=reason, route="deploy-webhook", attempt=attempt,
        request=request,
    )  # fmt: skip


def outcome(interaction_id: uuid.UUID) -> InteractionOutcome:
    now = datetime.now(UTC)
    return InteractionOutcome(
        interaction_id=interaction_id,
        thread_id="deploy-42",
        kind="approval",
        status=OutcomeStatus.RESOLVED,
        action="approve",
        decided_by=DecidedBy(type="person", identity=Identity(id="ana"), channel="slack"),
        requested_at=now,
        resolved_at=now,
    )


Answer = Callable[[asyncio.StreamWriter], Awaitable[bool]]  # True: keep the connection open


@dataclass(frozen=True)
class Received:
    method: str
    target: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    connection: int  # which TCP connection carried it, counted from 1
    local_address: str  # the address the client connected to


def status(code: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Answer:
    async def answer(writer: asyncio.StreamWriter) -> bool:
        lines = [f"HTTP/1.1 {code} X", f"content-length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()
        return True

    return answer


async def hang(writer: asyncio.StreamWriter) -> bool:
    """Never answers: waits until the client gives up (or the server closes)."""
    with contextlib.suppress(ConnectionError):
        while not writer.is_closing():
            writer.write(b"")  # notices a connection the client closed
            await asyncio.sleep(0.05)
    return False


async def close_before_answering(writer: asyncio.StreamWriter) -> bool:
    return False


async def garbage(writer: asyncio.StreamWriter) -> bool:
    writer.write(b"\x16\x03\x01 this is not HTTP at all\r\n\r\n")
    await writer.drain()
    return False


def cut_mid_body(code: int) -> Answer:
    """The status line and headers promise 100 bytes; 10 come, then the connection closes."""

    async def answer(writer: asyncio.StreamWriter) -> bool:
        writer.write(f"HTTP/1.1 {code} X\r\ncontent-length: 100\r\n\r\n0123456789".encode())
        await writer.drain()
        return False

    return answer


@dataclass
class RecordingServer:
    """Answers with ``answers`` in order, then with ``default``."""

    host: str = "127.0.0.1"
    port: int = 0
    answers: list[Answer] = field(default_factory=list)
    default: Answer = field(default_factory=lambda: status(204))
    received: list[Received] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _connections: int = 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()  # ends each handler's read or wait
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        self._connections += 1
        connection = self._connections
        local = writer.get_extra_info("sockname")[0]
        try:
            keep = True
            while keep:
                request = await _read_request(reader, connection, local)
                if request is None:
                    return
                self.received.append(request)
                answer = self.answers.pop(0) if self.answers else self.default
                keep = await answer(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._handlers.discard(task)
            self._writers.discard(writer)


async def _read_request(
    reader: asyncio.StreamReader, connection: int, local: str
) -> Received | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None  # the client closed its idle connection
    request_line, *header_lines = head.decode("latin-1").split("\r\n")[:-2]
    method, target, _ = request_line.split(" ", 2)
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Received(method, target, headers, body, connection, local)


@contextlib.asynccontextmanager
async def recording_server(
    *answers: Answer, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RecordingServer]:
    server = RecordingServer(host=host, port=port, answers=list(answers))
    await server.start()
    try:
        yield server
    finally:
        await server.close()
