"""The email and Slack channels' other ends for the benchmarks, each in a process of its own
(``python -m hitl_bench.channel_standins smtp|slack``), so serving shares neither the
sender's event loop nor its core time:

- ``smtp``: aiosmtpd's SMTP server (no TLS, no AUTH: loopback), taking every mail;
- ``slack``: Slack's Web API as a stand-in, an asyncio HTTP/1.1 server answering each
  ``POST /api/<method>`` with ``{"ok": true, ...}`` on the kept-alive connection
  (chat.postMessage gets a ``ts`` of its own, chat.update names the one it edits).

Both count what arrives by interaction: a mail carries ``X-Hitl-Interaction`` (and a settled
one's Message-ID starts with ``settled.``); a Slack message names its interaction in its blocks,
and the ``ts`` it was given is how its chat.update is traced back to it. An arrival is
stamped with ``time.perf_counter()`` once whole (on Linux one clock for every process, so
the bench can subtract its own stamps).

It prints ``listening <port>`` once it listens, then obeys one command per line on stdin,
as ``hitl_bench.webhook_receiver`` does: ``mark`` (forget what came so far) and ``report``
(one JSON line: ``delivered`` and ``updated`` counts since the mark, ``connections``
opened, its CPU seconds so far, and ``arrivals`` / ``updates``: the time of each by
interaction id). It exits when stdin closes.
"""

import argparse
import asyncio
import re
import time
from typing import Any, cast

import orjson
from aiosmtpd.smtp import SMTP, Envelope, Session

from hitl_bench.driven import DrivenProcess, run, serve_commands

_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CHANNEL_ID = "C0BENCH001"


class Arrivals:
    """What came since the last mark, by interaction: first deliveries and updates."""

    def __init__(self) -> None:
        self.connections = 0
        self.delivered: dict[str, float] = {}
        self.updated: dict[str, float] = {}
        self.deliveries = 0  # every delivery, also the ones of interactions seen before
        self.updates = 0

    def mark(self) -> None:
        self.connections = self.deliveries = self.updates = 0
        self.delivered, self.updated = {}, {}

    def delivery(self, interaction: str) -> None:
        self.deliveries += 1
        self.delivered.setdefault(interaction, time.perf_counter())

    def update(self, interaction: str) -> None:
        self.updates += 1
        self.updated.setdefault(interaction, time.perf_counter())

    def report(self) -> dict[str, Any]:
        return {
            "delivered": self.deliveries,
            "updated": self.updates,
            "connections": self.connections,
            "cpu_seconds": time.process_time(),
            "arrivals": self.delivered,
            "updates": self.updated,
        }


# --- SMTP ---------------------------------------------------------------------------------


class Mails:
    """aiosmtpd's handler: reads the two headers it needs from each mail, nothing more."""

    def __init__(self, arrivals: Arrivals) -> None:
        self.arrivals = arrivals

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        head = raw.split(b"\r\n\r\n", 1)[0]
        found = re.search(rb"^X-Hitl-Interaction:\s*(\S+)", head, re.M | re.I)
        interaction = found[1].decode() if found else ""
        if re.search(rb"^Message-ID:\s*<settled\.", head, re.M | re.I):  # folded or not
            self.arrivals.update(interaction)
        else:
            self.arrivals.delivery(interaction)
        return "250 2.0.0 queued"


class CountedSMTP(SMTP):
    def __init__(self, handler: Mails) -> None:
        super().__init__(handler, hostname="bench-smtp")
        handler.arrivals.connections += 1


# --- Slack's Web API ----------------------------------------------------------------------


class SlackApi(asyncio.Protocol):
    """One connection: requests parsed from the bytes as they come, answered in order."""

    def __init__(self, arrivals: Arrivals, messages: dict[str, str]) -> None:
        self.arrivals = arrivals
        self.messages = messages  # ts -> interaction id, shared by the connections
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.arrivals.connections += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end]
            found = re.search(rb"(?im)^content-length: *(\d+)", head)
            length = int(found[1]) if found else 0
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            method = head.split(b" ", 2)[1].rsplit(b"/", 1)[-1].decode()
            answer = orjson.dumps(self.answer(method, body))
            assert self.transport is not None
            self.transport.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(answer), answer)
            )

    def answer(self, method: str, body: bytes) -> dict[str, Any]:
        if method == "chat.postMessage":
            ts = f"1700000000.{len(self.messages) + 1:06d}"
            found = _UUID.search(body)
            interaction = found[0].decode() if found else ""
            self.messages[ts] = interaction
            self.arrivals.delivery(interaction)
            return {"ok": True, "channel": CHANNEL_ID, "ts": ts}
        if method == "chat.update":
            ts = orjson.loads(body).get("ts", "")
            self.arrivals.update(self.messages.get(ts, ""))
            return {"ok": True, "channel": CHANNEL_ID, "ts": ts}
        return {"ok": True}


async def _serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    arrivals = Arrivals()
    if args.kind == "smtp":
        handler = Mails(arrivals)
        server = await loop.create_server(lambda: CountedSMTP(handler), args.host, 0, backlog=1024)
    else:
        messages: dict[str, str] = {}
        server = await loop.create_server(
            lambda: SlackApi(arrivals, messages), args.host, 0, backlog=1024
        )
    await serve_commands(server, arrivals)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m hitl_bench.channel_standins", description=__doc__
    )
    parser.add_argument("kind", choices=("smtp", "slack"))
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    run(lambda: _serve(args))


class StandIn(DrivenProcess):
    """A stand-in process, driven over its stdin and stdout from the bench's process."""

    def __init__(self, process: asyncio.subprocess.Process, kind: str, port: int) -> None:
        super().__init__(process)
        self.kind = kind
        self.port = port
        self.what = f"{kind} stand-in"

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def api_url(self) -> str:
        """The Slack stand-in's Web API base URL."""
        return f"http://127.0.0.1:{self.port}/api/"

    @classmethod
    async def start(cls, kind: str) -> "StandIn":
        process = await cls.spawn("-m", "hitl_bench.channel_standins", kind)
        standin = cls(process, kind, 0)
        line = await standin._line(timeout=30.0)
        if not line.startswith("listening "):
            await standin.stop()
            raise RuntimeError(f"the {kind} stand-in said {line!r}")
        standin.port = int(line.split()[1])
        return standin

    async def mark(self) -> None:
        await self.send("mark")

    async def until(self, field: str, count: int, timeout: float) -> dict[str, Any]:
        """Its report once ``field`` (``delivered``, ``updated``) reached ``count``, or
        ``timeout`` seconds passed."""
        deadline = time.perf_counter() + timeout
        while True:
            got = await self.report()
            if got[field] >= count or time.perf_counter() > deadline:
                return got
            await asyncio.sleep(0.05)


if __name__ == "__main__":
    main()
