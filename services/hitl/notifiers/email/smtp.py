"""Sending mails through a receiver's SMTP server (aiosmtplib), and what a failure means.

One connection per delivery carries every recipient's mail. Each step (connect, greeting,
STARTTLS, AUTH, each mail) waits at most the server's ``timeout``, and the whole exchange at
most that times the number of steps, so a server that hangs anywhere ends the attempt.

- temporary: a refused or dropped connection, a timeout, a 4xx reply (421 busy, 450/451
  try later, 452 full): ``Retryable``;
- permanent: a 5xx reply (refused sender or recipient, 535 bad credentials, 554), a server
  without STARTTLS or AUTH when the receiver needs them, a certificate that does not check
  out: ``Permanent``,
  naming the server and quoting its reply.
"""

import asyncio
import ssl
from collections.abc import Sequence
from email.message import EmailMessage

import aiosmtplib

from hitl.core.routing.config import SmtpServer
from hitl.errors import Permanent, Retryable
from hitl.notifiers.secrets import SecretResolver

_QUOTED = 200
_TRANSIENT = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError)


async def send_all(
    server: SmtpServer, mails: Sequence[tuple[str, EmailMessage]], secrets: SecretResolver
) -> str:
    """Sends each ``(recipient, mail)``; returns the last reply (``250 ...``) for the record."""
    where = f"{server.host}:{server.effective_port}"
    password = secrets(server.password) if server.password is not None else None
    client = aiosmtplib.SMTP(
        hostname=server.host,
        port=server.effective_port,
        use_tls=server.security == "tls",
        start_tls=server.security == "starttls",
        username=server.username,
        password=password,
        timeout=server.timeout,
        tls_context=_tls_context(server),
    )
    steps = 4 + len(mails)  # connect, greeting, STARTTLS, AUTH, then one per mail
    try:
        async with asyncio.timeout(server.timeout * steps):
            await client.connect()
            try:
                reply = "no mail to send"
                for recipient, mail in mails:
                    _, said = await client.send_message(
                        mail, sender=server.from_, recipients=[recipient]
                    )
                    reply = said
            finally:
                await _quit(client)
    except TimeoutError as exc:
        raise Retryable(f"SMTP server {where} did not finish within {server.timeout:g} s") from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise failure(exc, where) from exc
    return _quote(reply)


def failure(exc: BaseException, where: str) -> Retryable | Permanent:
    """What an SMTP failure means for the delivery."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        said = "; ".join(f"{r.recipient}: {r.code} {_quote(r.message)}" for r in exc.recipients)
        text = f"SMTP server {where} refused the recipient ({said})"
        return Retryable(text) if all(400 <= c < 500 for c in codes) else Permanent(text)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        what = _step(exc)
        text = f"SMTP server {where} refused {what}: {exc.code} {_quote(exc.message)}"
        return Retryable(text) if 400 <= exc.code < 500 else Permanent(text)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Permanent(f"SMTP server {where}: its certificate was refused ({exc.verify_message})")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return Retryable(f"SMTP server {where} did not answer in time ({_quote(str(exc))})")
    said = _quote(str(exc)) or type(exc).__name__
    if isinstance(exc, _TRANSIENT) or not isinstance(exc, aiosmtplib.SMTPException):
        return Retryable(f"SMTP server {where}: {said}")
    # What is left is the server lacking what the receiver needs (STARTTLS, AUTH): its config.
    return Permanent(f"SMTP server {where}: {said}; check the receiver's smtp security and auth")


def _step(exc: aiosmtplib.SMTPResponseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return "the credentials (AUTH)"
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return f"the sender {exc.sender}"
    if isinstance(exc, aiosmtplib.SMTPDataError):
        return "the mail"
    if isinstance(exc, aiosmtplib.SMTPConnectResponseError):
        return "the connection"
    return "the exchange"


def _tls_context(server: SmtpServer) -> ssl.SSLContext | None:
    if server.security == "none":
        return None
    try:
        return ssl.create_default_context(cafile=server.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise Permanent(f"SMTP ca_file {server.ca_file} cannot be read: {exc}") from exc


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        client.close()


def _quote(text: str) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _QUOTED else flat[: _QUOTED - 1] + "…"
