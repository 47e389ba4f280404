"""Real Redis deployments of a run's own (the tests', ``hitl bench --scale``'s), on loopback
ports the shared Redis (6379) never uses: a Redis Cluster of three primaries with a replica
each, and a primary with two replicas watched by three Sentinels. Each ``redis-server`` runs in
a temporary directory without persistence and is killed when the deployment stops; so does a
plain node (``LocalNode``), the Cluster's single-node counterpart for the bench.

``LocalCluster(base)`` takes ports ``base+1..base+6`` (cluster bus: +10000);
``LocalSentinels(base)`` takes ``base+1..base+3`` for the data nodes and ``base+11..base+13`` for
the Sentinels; ``LocalNode(port)`` that port. They start synchronously (``start()``), so a
session fixture can hold them. Without ``redis-server`` (or ``redis-cli`` for a Cluster),
``start`` raises ``Unavailable``.
"""

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis

from hitl_bench.clusters import Unavailable

SENTINEL_MASTER = "hitltest"
NODE_TIMEOUT_MS = 1000  # cluster-node-timeout and down-after-milliseconds: failover in ~2-4 s


def available(*, cluster: bool = False) -> str | None:
    """Why a deployment (a Cluster: ``cluster``) cannot run here, or None."""
    needed = ("redis-server", "redis-cli") if cluster else ("redis-server",)
    missing = [tool for tool in needed if shutil.which(tool) is None]
    return f"{' and '.join(missing)} not installed" if missing else None


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise Unavailable(f"{name} is not installed")
    return found


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as redis-server does
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def until(check: Callable[[], bool], timeout: float, why: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            if check():
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout}s: {why()}")
        time.sleep(0.05)


@dataclass
class Node:
    """One ``redis-server`` (or Sentinel) of a test deployment."""

    port: int
    directory: Path
    args: list[str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        if not _port_free(self.port):
            raise RuntimeError(f"port {self.port} is taken: stop whatever holds it")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [_tool("redis-server"), *self.args],
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        until(self.answers, 15, lambda: f"redis-server on {self.port} did not start")

    def client(self) -> Redis:
        return Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def answers(self) -> bool:
        with self.client() as redis:
            return bool(redis.ping())

    def kill(self) -> None:
        """SIGKILL, as an operator's worst day would."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def info(self, section: str) -> dict[str, object]:
        with self.client() as redis:
            return dict(redis.info(section))

    def run_id(self) -> str:
        return str(self.info("server")["run_id"])


_COMMON = ("--bind", "127.0.0.1", "--protected-mode", "no", "--save", "", "--appendonly", "no")


_REPLICATED = ("--cluster-replicas", "1", "--cluster-yes")


def _cluster_ok(node: Node) -> bool:
    with node.client() as redis:
        return "cluster_state:ok" in redis.execute_command("CLUSTER", "INFO").decode()


@dataclass
class LocalNode:
    """One plain ``redis-server`` on ``port``, no replica: a Cluster's single-node counterpart
    (``nodes``, ``url``, ``start``, ``stop`` as ``LocalCluster``'s)."""

    port: int
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hitl-redis-")))
    nodes: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "LocalNode":
        node = Node(self.port, self.root, ["--port", str(self.port), *_COMMON])
        self.nodes.append(node)
        node.start()
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class LocalCluster:
    """Three primaries with one replica each: ``redis-cli --cluster create``."""

    base: int
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hitl-cluster-")))
    nodes: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        seeds = ",".join(node.address for node in self.nodes[:3])
        return f"redis+cluster://{seeds}"

    def start(self) -> "LocalCluster":
        cli = _tool("redis-cli")
        for port in range(self.base + 1, self.base + 7):
            args = [
                *("--port", str(port), *_COMMON),
                *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
                *("--cluster-node-timeout", str(NODE_TIMEOUT_MS)),
            ]
            node = Node(port, self.root / str(port), args)
            self.nodes.append(node)
            node.start()
        subprocess.run(
            [cli, "--cluster", "create", *(n.address for n in self.nodes), *_REPLICATED],
            check=True,
            capture_output=True,
            timeout=60,
        )
        until(self.healthy, 30, lambda: f"cluster on {self.base + 1}.. never became healthy")
        return self

    def healthy(self) -> bool:
        """Every slot served, three primaries, each with a replica in sync."""
        if not all(_cluster_ok(n) for n in self.live()):
            return False
        primaries = self.primaries()
        return len(primaries) == 3 and all(
            any(
                r.info("replication").get("master_link_status") == "up" for r in self.replicas_of(p)
            )
            for p in primaries
        )

    def live(self) -> list[Node]:
        return [n for n in self.nodes if n.process is not None and n.process.poll() is None]

    def roles(self) -> dict[int, tuple[str, int | None]]:
        """port -> ("master", None) or ("slave", the primary's port), for the nodes alive."""
        found: dict[int, tuple[str, int | None]] = {}
        for node in self.live():
            info = node.info("replication")
            role = str(info["role"])
            found[node.port] = (role, int(str(info["master_port"])) if role == "slave" else None)
        return found

    def primaries(self) -> list[Node]:
        ports = [port for port, (role, _) in self.roles().items() if role == "master"]
        return [n for n in self.nodes if n.port in ports]

    def replicas_of(self, primary: Node) -> list[Node]:
        ports = [port for port, (_, of) in self.roles().items() if of == primary.port]
        return [n for n in self.nodes if n.port in ports]

    def primary_of(self, key: str) -> Node:
        """The primary that serves ``key``'s slot, as the live nodes' map says."""
        with self.live()[0].client() as redis:
            slot = int(redis.execute_command("CLUSTER", "KEYSLOT", key))
            ranges = redis.execute_command("CLUSTER", "SLOTS")
        port = next(int(owner[1]) for start, end, owner, *_ in ranges if start <= slot <= end)
        return next(n for n in self.nodes if n.port == port)

    def kill_primary(self, primary: Node) -> list[Node]:
        """SIGKILL ``primary``; its replicas (one of them takes over: ``promoted_after``)."""
        replicas = self.replicas_of(primary)
        primary.kill()
        return replicas

    def promoted_after(self, killed: Node, replicas: list[Node], timeout: float = 30) -> Node:
        """Wait until one of ``replicas`` (of ``killed``) is a primary and every live node
        says the cluster is whole; that replica."""
        until(
            lambda: len(self.primaries()) == 3 and all(_cluster_ok(n) for n in self.live()),
            timeout,
            lambda: f"no replica took over from {killed.port}",
        )
        return next(n for n in self.primaries() if n in replicas)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class LocalSentinels:
    """A primary, two replicas and three Sentinels watching them as ``SENTINEL_MASTER``."""

    base: int
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hitl-sentinel-")))
    data: list[Node] = field(default_factory=list)
    sentinels: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        hosts = ",".join(s.address for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{SENTINEL_MASTER}"

    def start(self) -> "LocalSentinels":
        primary = self.base + 1
        for port in range(primary, self.base + 4):
            follow = [] if port == primary else ["--replicaof", "127.0.0.1", str(primary)]
            node = Node(port, self.root / str(port), ["--port", str(port), *_COMMON, *follow])
            self.data.append(node)
            node.start()
        for port in range(self.base + 11, self.base + 14):
            directory = self.root / str(port)
            directory.mkdir(parents=True)
            (directory / "sentinel.conf").write_text(
                f"port {port}\nbind 127.0.0.1\nprotected-mode no\n"
                f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {primary} 2\n"
                f"sentinel down-after-milliseconds {SENTINEL_MASTER} {NODE_TIMEOUT_MS}\n"
                f"sentinel failover-timeout {SENTINEL_MASTER} 10000\n"
                f"sentinel parallel-syncs {SENTINEL_MASTER} 1\n"
            )
            node = Node(port, directory, ["sentinel.conf", "--sentinel"])
            self.sentinels.append(node)
            node.start()
        until(self.healthy, 30, lambda: "the Sentinel set never saw its replicas and peers")
        return self

    def healthy(self) -> bool:
        """Every Sentinel sees the primary, two replicas and the two other Sentinels."""
        for sentinel in self.sentinels:
            with sentinel.client() as redis:
                state = redis.sentinel_master(SENTINEL_MASTER)
            if int(state["num-slaves"]) != 2 or int(state["num-other-sentinels"]) != 2:
                return False
            if not state["is_master"] or state["is_sdown"] or state["is_odown"]:
                return False
        return all(n.info("replication").get("master_link_status") == "up" for n in self.replicas())

    def primary(self) -> Node:
        with self.sentinels[0].client() as redis:
            _, port = redis.sentinel_get_master_addr_by_name(SENTINEL_MASTER)
        return next(n for n in self.data if n.port == int(port))

    def replicas(self) -> list[Node]:
        primary = self.primary()
        return [n for n in self.data if n is not primary and n.process and n.process.poll() is None]

    def promoted_after(self, old: Node, replicas: object = None, timeout: float = 30) -> Node:
        """Wait until every Sentinel names another primary, and that one says it is."""

        def moved() -> bool:
            for sentinel in self.sentinels:
                with sentinel.client() as redis:
                    _, port = redis.sentinel_get_master_addr_by_name(SENTINEL_MASTER)
                if int(port) == old.port:
                    return False
            return self.primary().info("replication")["role"] == "master"

        until(moved, timeout, lambda: f"the Sentinels did not replace {old.port}")
        return self.primary()

    def stop(self) -> None:
        for node in self.sentinels + self.data:
            node.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running(deployment: "LocalCluster | LocalSentinels") -> Iterator[str]:
    """Start it, yield its ``HITL_REDIS_URL``, stop it (whatever happened)."""
    try:
        deployment.start()
        yield deployment.url
    finally:
        deployment.stop()
