"""A three-node RabbitMQ cluster on this machine, for the fault tests and ``hitl bench --scale``.

By default nodes ``hitl-a@localhost``, ``hitl-b@localhost``, ``hitl-c@localhost`` listen for
AMQP on 127.0.0.1:5701-5703 (Erlang distribution on 25701-25703, no plugins: management is off)
and keep their data, logs and config in a temporary directory of their own, with an Erlang
cookie of their own (``HOME`` holds ``.erlang.cookie`` for the server and for ``rabbitmqctl``);
``create(prefix=..., first_port=...)`` gives another cluster names and ports of its own (the
bench's is ``hitl-bench-{a,b,c}`` on 5711-5713, so it can run beside the fault tests'). The
system's RabbitMQ (``rabbit@localhost`` on 5672) shares nothing with them but epmd, and nothing
here ever addresses it: every command names one of our nodes, a process is killed only by the
OS pid our node reports itself (``os:getpid()``) or by the process group we started.

Quorum queues get their leader on the node the declaring client is connected to (RabbitMQ's
``client-local``, which the fault tests rely on) unless ``leader_locator="balanced"`` spreads
them over the nodes.

The server is started through ``/usr/lib/rabbitmq/bin/rabbitmq-server`` itself, not Debian's
wrapper in ``/usr/sbin`` (which switches to the ``rabbitmq`` user and its ``HOME``, and so to the
system node's cookie), with ``RABBITMQ_CONF_ENV_FILE`` pointing at an empty file (Debian's
``/etc/rabbitmq/rabbitmq-env.conf`` names the system node).
"""

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hitl_bench.clusters import Unavailable

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
CTL = Path("/usr/lib/rabbitmq/bin/rabbitmqctl")
QUEUES = Path("/usr/lib/rabbitmq/bin/rabbitmq-queues")
FIRST_PORT = 5701
DIST_OFFSET = 20000
BOOT_SECONDS = 90


def available() -> str | None:
    """Why the cluster cannot run here, or None."""
    missing = [str(p) for p in (SERVER, CTL, QUEUES) if not p.exists()]
    return f"RabbitMQ is not installed ({', '.join(missing)})" if missing else None


def require() -> None:
    """``Unavailable`` unless the cluster can run here."""
    why = available()
    if why:
        raise Unavailable(why)


@dataclass
class Node:
    letter: str
    port: int
    base: Path
    prefix: str = "hitl"
    process: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return f"{self.prefix}-{self.letter}@localhost"

    @property
    def dist_port(self) -> int:
        return self.port + DIST_OFFSET

    def url(self, user: str = "guest", password: str = "guest") -> str:
        return f"amqp://{user}:{password}@127.0.0.1:{self.port}/"


@dataclass
class RabbitCluster:
    root: Path
    nodes: list[Node] = field(default_factory=list)

    @classmethod
    def create(
        cls,
        letters: str = "abc",
        first_port: int = FIRST_PORT,
        *,
        prefix: str = "hitl",
        leader_locator: str | None = None,
    ) -> "RabbitCluster":
        """The cluster's directory and config (nothing runs until ``start``); node names
        ``<prefix>-<letter>@localhost``; ``leader_locator``: ``queue_leader_locator``."""
        require()
        root = Path(tempfile.mkdtemp(prefix=f"{prefix}-rabbit-cluster-"))
        cluster = cls(root)
        cluster.nodes = [
            Node(letter, first_port + i, root / letter, prefix) for i, letter in enumerate(letters)
        ]
        (root / ".erlang.cookie").write_text(f"HITLTESTCLUSTER{os.getpid()}")
        (root / ".erlang.cookie").chmod(0o600)
        (root / "rabbitmq-env.conf").write_text("")
        (root / "enabled_plugins").write_text("[].\n")
        locator = f"queue_leader_locator = {leader_locator}\n" if leader_locator else ""
        for node in cluster.nodes:
            node.base.mkdir()
            (node.base / "rabbitmq.conf").write_text(
                f"listeners.tcp.local = 127.0.0.1:{node.port}\n{locator}"
            )
        return cluster

    @property
    def urls(self) -> str:
        """``HITL_AMQP_URL`` for the whole cluster, node a first."""
        return self.urls_from(0)

    def urls_from(self, first: int) -> str:
        """``HITL_AMQP_URL`` for the whole cluster, node ``first`` (mod the count) first and
        the others in turn: processes given different ``first`` connect to different nodes."""
        count = len(self.nodes)
        return ",".join(self.nodes[(first + i) % count].url() for i in range(count))

    def env(self, node: Node | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            HOME=str(self.root),
            RABBITMQ_CONF_ENV_FILE=str(self.root / "rabbitmq-env.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.root / "enabled_plugins"),
        )
        if node is not None:
            env.update(
                RABBITMQ_NODENAME=node.name,
                RABBITMQ_NODE_PORT=str(node.port),
                RABBITMQ_DIST_PORT=str(node.dist_port),
                RABBITMQ_MNESIA_BASE=str(node.base / "mnesia"),
                RABBITMQ_LOG_BASE=str(node.base / "log"),
                RABBITMQ_CONFIG_FILE=str(node.base / "rabbitmq.conf"),
                RABBITMQ_ADVANCED_CONFIG_FILE=str(node.base / "advanced.config"),
                RABBITMQ_PID_FILE=str(node.base / "pid"),
            )
        return env

    # --- synchronous: building and tearing down, outside the tests' event loops -------------

    def start(self) -> None:
        """Boot the three nodes, join b and c to a; fails with the nodes' output if not."""
        busy = [n.port for n in self.nodes if listening(n.port)]
        busy += [n.dist_port for n in self.nodes if listening(n.dist_port)]
        if busy:
            raise RuntimeError(f"ports {busy} are taken: a cluster of an earlier run left over?")
        for node in self.nodes:
            self._spawn(node)
        for node in self.nodes:
            self.ctl_sync(node, *_wait(node))
        first = self.nodes[0]
        for node in self.nodes[1:]:
            self.ctl_sync(node, "stop_app")
            self.ctl_sync(node, "join_cluster", first.name)
            self.ctl_sync(node, "start_app")
        status = json.loads(self.ctl_sync(first, "cluster_status", "--formatter", "json"))
        running = status["running_nodes"]
        missing = [n.name for n in self.nodes if n.name not in running]
        if missing:
            raise RuntimeError(f"{missing} did not join {first.name}: {running}")

    def stop(self) -> None:
        """Stop every node (or kill it), then delete the cluster's directory."""
        try:
            for node in self.nodes:
                if node.process is not None and node.process.poll() is None:
                    with contextlib.suppress(subprocess.SubprocessError, RuntimeError):
                        self.ctl_sync(node, "stop", timeout=30)
                self._reap(node)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def ctl_sync(self, node: Node, *args: str, timeout: float = BOOT_SECONDS + 30) -> str:
        done = subprocess.run(
            [str(CTL), "-n", node.name, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"rabbitmqctl -n {node.name} {' '.join(args)} failed ({done.returncode}): "
                f"{done.stdout}{done.stderr}\n{self.output(node)}"
            )
        return done.stdout

    def output(self, node: Node) -> str:
        """The tail of what the node wrote, for a failure message."""
        out = node.base / "server.out"
        return out.read_text(errors="replace")[-3000:] if out.exists() else ""

    def _spawn(self, node: Node) -> None:
        (node.base / "pid").unlink(missing_ok=True)  # the killed VM's: ``wait`` reads it
        with (node.base / "server.out").open("ab") as out:
            node.process = subprocess.Popen(
                [str(SERVER)],
                env=self.env(node),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: ours to kill, nothing else
            )

    def _reap(self, node: Node) -> None:
        process = node.process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
        node.process = None

    # --- asynchronous: faults injected while a test's load runs -----------------------------

    async def ctl(self, node: Node, *args: str, tool: Path = CTL, timeout: float = 60) -> str:
        process = await asyncio.create_subprocess_exec(
            str(tool),
            "-n",
            node.name,
            *args,
            env=self.env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        if process.returncode != 0:
            raise RuntimeError(f"{tool.name} -n {node.name} {' '.join(args)}: {out.decode()}")
        return out.decode()

    async def beam_pid(self, node: Node) -> int:
        """The OS pid of the node's Erlang VM (where its CPU time is counted)."""
        return int((await self.ctl(node, "eval", "os:getpid().")).strip().strip('"'))

    async def kill(self, node: Node, pid: int | None = None) -> float:
        """kill -9 the node's Erlang VM (by the OS pid it reports, ``beam_pid``); when."""
        os.kill(pid or await self.beam_pid(node), signal.SIGKILL)
        killed = time.monotonic()
        assert node.process is not None
        await asyncio.to_thread(node.process.wait, 30)  # the start script exits with it
        node.process = None
        return killed

    async def restart(self, node: Node) -> None:
        """Start a killed node again; it rejoins the cluster from its own data."""
        self._spawn(node)
        await self.ctl(node, *_wait(node), timeout=BOOT_SECONDS + 30)

    async def queues(self, via: Node) -> dict[str, dict[str, Any]]:
        """Every queue by name: its type, members (the nodes holding a replica) and leader."""
        listed = await self.ctl(
            via, "list_queues", "name", "type", "members", "leader", "--formatter", "json"
        )
        start = listed.index("[")  # after rabbitmqctl's own notices, if any
        return {q["name"]: q for q in json.loads(listed[start:])}


def _wait(node: Node) -> tuple[str, ...]:
    """rabbitmqctl's wait: for the pid file the node writes, then for its app to run."""
    return ("wait", str(node.base / "pid"), "--timeout", str(BOOT_SECONDS))


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
