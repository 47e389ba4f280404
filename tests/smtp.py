"""Real SMTP servers for the email channel's tests, on loopback in the test's own event loop:
aiosmtpd's server (STARTTLS with a certificate made for the run, AUTH, replies chosen per test)
and a server that takes the connection and never greets (hangs)."""

import asyncio
import contextlib
import email
import email.policy
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

USER, PASSWORD = "hitl", "the smtp password"


@dataclass(frozen=True)
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    def body(self, subtype: str) -> str:
        part = self.message.get_body(preferencelist=(subtype,))
        assert part is not None, f"no text/{subtype} part"
        return str(part.get_content())  # type: ignore[attr-defined]


@dataclass
class Handler:
    """Records each mail; ``rcpt_reply`` (e.g. ``451 4.3.0 try later``) refuses recipients."""

    mails: list[Mail] = field(default_factory=list)
    rcpt_reply: str | None = None
    refused: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook names
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.rcpt_reply is not None:
            self.refused += 1
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mails.append(Mail(str(envelope.mail_from), list(envelope.rcpt_tos), parsed))
        self.arrived.set()
        return "250 2.0.0 queued as test"


@dataclass
class Running:
    host: str
    port: int
    handler: Handler

    @property
    def mails(self) -> list[Mail]:
        return self.handler.mails


def certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (cert, key)."""
    cert, key = directory / "smtp.crt", directory / "smtp.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # aiosmtpd then answers 535 itself


@contextlib.asynccontextmanager
async def smtp_server(
    *, tls: tuple[Path, Path] | None = None, rcpt_reply: str | None = None
) -> AsyncIterator[Running]:
    """aiosmtpd on 127.0.0.1 and a free port. With ``tls`` (cert, key): STARTTLS required,
    and AUTH (``USER``, ``PASSWORD``) required after it."""
    handler = Handler(rcpt_reply=rcpt_reply)
    context = None
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(tls[0]), str(tls[1]))

    def protocol() -> SMTP:
        if context is None:
            return SMTP(handler, hostname="hitl-test")
        return SMTP(
            handler, hostname="hitl-test", tls_context=context, require_starttls=True,
            authenticator=_authenticator, auth_required=True,
        )  # fmt: skip

    server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield Running("127.0.0.1", port, handler)
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)


@contextlib.asynccontextmanager
async def hanging_server() -> AsyncIterator[tuple[int, list[int]]]:
    """Takes connections and never says a word: (port, connections taken so far)."""
    taken: list[int] = []
    writers: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        taken.append(len(taken) + 1)
        writers.append(writer)
        with contextlib.suppress(Exception):
            await reader.read()  # until the client gives up

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], taken
    finally:
        for writer in writers:
            writer.close()
        server.close()
