"""The processes a bench run starts (hitl brokers, the peer's consumer) and what /proc says
about them and about the servers: CPU time and resident memory."""

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_kib(pid: int, field_name: str = "VmRSS") -> int:
    """Resident set size (or ``VmHWM``, its peak) in KiB, from /proc/<pid>/status."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def find_pids(command: str) -> list[int]:
    """Pids whose command name is ``command`` (for reading their CPU time only)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == command:
                    found.append(int(entry.name))
    return found


@dataclass
class CpuMeter:
    """CPU used by named groups of processes between ``start`` and ``stop``, as a percentage
    of one core (200% = both cores of this machine busy)."""

    groups: Mapping[str, Sequence[int]]
    _start: dict[str, float] = field(default_factory=dict)
    _wall: float = 0.0

    def start(self) -> None:
        self._wall = time.perf_counter()
        self._start = {name: self._cpu(pids) for name, pids in self.groups.items()}

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self._wall
        return {
            name: 100.0 * (self._cpu(pids) - self._start[name]) / wall
            for name, pids in self.groups.items()
        }

    @staticmethod
    def _cpu(pids: Sequence[int]) -> float:
        return sum(cpu_seconds(pid) for pid in pids)


def server_pids() -> dict[str, list[int]]:
    return {"rabbitmq": find_pids("beam.smp"), "redis": find_pids("redis-server")}


@dataclass
class Child:
    """A process this bench started, logging to a file; stopped with SIGTERM by its pid."""

    name: str
    process: asyncio.subprocess.Process
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def wait_for_line(self, marker: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(OSError):
                if marker in self.log_path.read_text(errors="replace"):
                    return
            if self.process.returncode is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode} before {marker!r}:\n"
                    + self.log_tail()
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.log_tail()}")
            await asyncio.sleep(0.05)

    async def stop(self, grace: float = 15.0) -> int:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        return self.process.returncode or 0


async def start_child(
    name: str,
    module_args: Sequence[str],
    env: Mapping[str, str],
    log_dir: Path,
    ready: str,
    *,
    wrapper: Sequence[str] = (),
    ready_timeout: float = 60.0,
) -> Child:
    """``python -m <module_args>`` with ``env``; returns once ``ready`` appears in its log.
    ``wrapper``: a command it runs under (``valgrind --tool=callgrind``, say)."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *wrapper,
            sys.executable,
            "-m",
            *module_args,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    child = Child(name, process, log_path)
    try:
        await child.wait_for_line(ready, timeout=ready_timeout)
    except BaseException:
        await child.stop(grace=5.0)
        raise
    return child
