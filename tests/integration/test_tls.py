"""TLS to RabbitMQ (amqps://) and Redis (rediss://) with the CA and client certificate files of
the settings, against local TLS endpoints with certificates this test makes (openssl): a Redis
of its own started with only a TLS port that asks for client certificates, and a TLS-terminating
proxy in front of the shared RabbitMQ (which is not restarted to turn TLS on). A broker runs an
interaction over both; a server certificate that does not verify stops the start naming the
setting."""

import asyncio
import contextlib
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hitl.broker.service import BrokerService
from hitl.errors import ConfigError
from hitl.sdk import HitlClient, Responder
from hitl.settings import Settings
from hitl_contract import ReceiptResult
from tests.helpers import answer
from tests.servers import AMQP_URL

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Certs:
    ca: Path
    server: tuple[Path, Path]  # certificate, key
    client: tuple[Path, Path]


def _openssl(*args: str | Path, cwd: Path) -> None:
    done = subprocess.run(
        ["openssl", *map(str, args)], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"openssl {args[0]}: {done.stderr}"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """A CA of the test's own, and a server (localhost, 127.0.0.1) and a client certificate
    it signed."""
    assert shutil.which("openssl"), "these tests make their certificates with openssl"
    where = tmp_path_factory.mktemp("tls")
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=hitl test CA", cwd=where,
    )  # fmt: skip
    (where / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name in ("server", "client"):
        _openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=where,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "1", "-out", f"{name}.pem", "-extfile", "san.ext",
            cwd=where,
        )  # fmt: skip
    return Certs(
        where / "ca.pem",
        (where / "server.pem", where / "server.key"),
        (where / "client.pem", where / "client.key"),
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_context(certs: Certs) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=certs.ca)
    context.load_cert_chain(*certs.server)
    context.verify_mode = ssl.CERT_REQUIRED  # a client certificate, signed by our CA
    return context


@pytest.fixture
def tls_redis(certs: Certs, tmp_path: Path) -> Iterator[int]:
    """A Redis of this test's own, listening on a TLS port only, asking for client
    certificates; its port."""
    port = _free_port()
    process = subprocess.Popen(
        [
            "redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
            "--tls-cert-file", str(certs.server[0]), "--tls-key-file", str(certs.server[1]),
            "--tls-ca-cert-file", str(certs.ca), "--tls-auth-clients", "yes",
            "--save", "", "--appendonly", "no", "--dir", str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        for _ in range(200):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert process.poll() is None, "redis-server did not start (built without TLS?)"
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(10)


@dataclass
class Proxy:
    port: int
    accepted: int = 0


@pytest.fixture
async def tls_rabbitmq(certs: Certs) -> AsyncIterator[Proxy]:
    """amqps:// on a port of its own: TLS ended here (client certificate required), the bytes
    passed on to the shared RabbitMQ's plain port."""
    proxy = Proxy(0)
    pipes: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        proxy.accepted += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 5672)
        for task in (pipe(reader, up_writer), pipe(up_reader, writer)):
            pipes.add(asyncio.create_task(task))

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=_server_context(certs))
    proxy.port = server.sockets[0].getsockname()[1]
    try:
        yield proxy
    finally:
        server.close()
        for task in pipes:
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)
        await server.wait_closed()


def _tls_settings(
    settings: Settings, certs: Certs, amqp_port: int, redis_port: int, **overrides: object
) -> Settings:
    client_cert, client_key = (str(p) for p in certs.client)
    values: dict[str, object] = {
        "amqp_url": f"amqps://guest:guest@localhost:{amqp_port}/",
        "amqp_ca_file": str(certs.ca),
        "amqp_cert_file": client_cert,
        "amqp_key_file": client_key,
        "redis_url": f"rediss://localhost:{redis_port}/0",
        "redis_ca_file": str(certs.ca),
        "redis_cert_file": client_cert,
        "redis_key_file": client_key,
        **overrides,
    }
    return Settings(**(settings.model_dump() | values))  # validated again, TLS checks too


async def test_a_broker_runs_over_tls_to_rabbitmq_and_redis(
    settings: Settings, certs: Certs, tls_redis: int, tls_rabbitmq: Proxy
) -> None:
    s = _tls_settings(settings, certs, tls_rabbitmq.port, tls_redis)
    broker = BrokerService(s)
    await broker.start()
    try:
        assert tls_rabbitmq.accepted == 1  # the broker's one connection came through TLS
        async with (
            HitlClient.connect(AMQP_URL, service="producer", namespace=s.namespace) as client,
            Responder.connect(AMQP_URL, namespace=s.namespace) as responder,
        ):
            request = client.new_request("approval", thread_id="tls", prompt="Encrypted?")
            asked = asyncio.create_task(client.ask(request, timeout=20))
            for _ in range(200):
                assert broker.store is not None
                if await broker.store.load(request.id) is not None:  # in the TLS Redis
                    break
                await asyncio.sleep(0.05)
            receipt = await responder.respond(answer(request.id, "approve"))
            assert receipt is not None and receipt.result == ReceiptResult.ACCEPTED
            outcome = await asked
        assert outcome.status == "resolved" and outcome.action == "approve"
        assert not await broker.not_ready()
    finally:
        await broker.stop()


async def test_a_server_certificate_that_does_not_verify_fails_the_start_naming_the_setting(
    settings: Settings, certs: Certs, tls_redis: int, tls_rabbitmq: Proxy
) -> None:
    # the system's CAs, which never signed the test's certificates
    s = _tls_settings(settings, certs, tls_rabbitmq.port, tls_redis, amqp_ca_file=None)
    with pytest.raises(
        ConfigError, match=r"^HITL_AMQP_URL: RabbitMQ at amqps://.* failed the TLS handshake"
    ):
        await BrokerService(s.model_copy(update={"startup_attempts": 30})).start()
    s = _tls_settings(settings, certs, tls_rabbitmq.port, tls_redis, redis_ca_file=None)
    with pytest.raises(
        ConfigError, match=r"^HITL_REDIS_URL: Redis at rediss://.* failed the TLS handshake"
    ):
        await BrokerService(s.model_copy(update={"startup_attempts": 30})).start()
