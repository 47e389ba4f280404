"""A RabbitMQ node of a test's own: its node name, ports, data directory and Erlang cookie, so
killing it never touches the shared node on 5672.

``RabbitNode(tmp_path).start()`` runs ``rabbitmq-server`` in the foreground (its process is the
Erlang VM itself, so ``kill`` is a real kill -9 of the node), with no plugins, listening on a
free loopback port; ``start`` again after a kill brings the same node back from its data
directory (durable queues and persistent messages included).
"""

import asyncio
import contextlib
import os
import shutil
import signal
import uuid
from pathlib import Path

import aio_pika
import pytest

from tests.faults.test_broker_processes import free_ports


def server_command() -> str:
    """The node's start script itself (the wrapper in /usr/sbin switches users)."""
    for candidate in ("/usr/lib/rabbitmq/bin/rabbitmq-server", shutil.which("rabbitmq-server")):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.skip("rabbitmq-server is not installed")


class RabbitNode:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.name = f"hitl-fault-{uuid.uuid4().hex[:8]}@localhost"
        self.port, self.dist_port = free_ports(2)
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        (d / "enabled_plugins").write_text("[].\n")
        (d / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "loopback_users.guest = true\n"
            "log.console = false\nlog.file.level = info\n"
        )
        (d / "rabbitmq-env.conf").write_text("")  # not the system's (it names the shared node)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            {
                "HOME": str(d),  # the Erlang cookie lives here: ours alone
                "RABBITMQ_NODENAME": self.name,
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
                "RABBITMQ_LOG_BASE": str(d / "log"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
                "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
                "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
                "RABBITMQ_PID_FILE": str(d / "node.pid"),
                "ERL_EPMD_ADDRESS": "127.0.0.1",
                "RUNNING_UNDER_SYSTEMD": "true",  # exec the VM: our process is the node
            }
        )
        return env

    async def start(self, timeout: float = 60.0) -> None:
        assert self.process is None or self.process.returncode is not None
        self.process = await asyncio.create_subprocess_exec(
            server_command(),
            env=self._env(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            with contextlib.suppress(Exception):
                connection = await aio_pika.connect(self.url, timeout=2)
                await connection.close()
                return
            if self.process.returncode is not None or loop.time() > deadline:
                pytest.fail(
                    f"RabbitMQ node {self.name} did not start (exit {self.process.returncode}); "
                    f"see {self.directory / 'log'}"
                )
            await asyncio.sleep(0.25)

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        assert await self.process.wait() == -signal.SIGKILL

    async def close(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
