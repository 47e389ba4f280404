"""The README tour's routing step, run: the documented broker, gateway, webhook notifier and
bot (docs/examples/webhook_bot.py) as processes with the documented routing file, on a fresh
namespace and free ports; every documented command checked against what the README shows
under it, and the bot printing what the README says it prints."""

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

from hitl.settings import Settings
from tests.docs.sessions import Shell, Step, session
from tests.docs.test_gateway_docs import DOC_BASE, _environment
from tests.helpers import eventually

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SERVICES = {  # a documented long-running command -> what it logs once it is ready
    "uv run hitl broker": "broker ready",
    "uv run hitl gateway": "gateway ready",
    "uv run hitl notifier webhook": "notifier webhook ready",
    "uv run python docs/examples/webhook_bot.py serve": "listening on",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Running:
    """A documented service as a process, its output collected as it comes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            self.lines.append(line.decode())

    def printed(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), 20)
            if self.process.returncode is None:
                self.process.kill()
        await self.process.wait()
        await self._reader


@contextlib.asynccontextmanager
async def services(
    shell: Shell, steps: list[Step], ready_when: dict[str, str] = SERVICES
) -> AsyncIterator[dict[str, Running]]:
    """Each documented service started in turn, once the one before said ``ready_when`` of it."""
    running: dict[str, Running] = {}
    try:
        for step in steps:
            command = step.command.split("  #")[0].strip()
            ready = ready_when[command]
            process = await asyncio.create_subprocess_exec(
                "bash", "-c", f"exec {shell.prepare(command)}", env=shell.env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            service = running[command] = Running(process)

            async def up(
                service: Running = service, ready: str = ready, what: str = command
            ) -> bool:
                if service.process.returncode is not None:
                    raise AssertionError(f"{what} exited:\n{''.join(service.lines)}")
                return service.printed(ready)

            await eventually(up, timeout=40)
        yield running
    finally:
        for service in reversed(running.values()):
            await service.stop()


async def test_the_readme_routes_a_request_to_the_bot_and_takes_its_answer(
    settings: Settings, tmp_path: Path
) -> None:
    exports, check, *rest = session(README, marker="routing-tour")
    started, asked = rest[:4], rest[4:]
    assert [s.command.split("  #")[0].strip() for s in started] == list(SERVICES)
    bot_port, gateway_port = _free_port(), _free_port()
    routing = tmp_path / "tour-routing.yaml"
    routing.write_text(
        (ROOT / "examples" / "tour-routing.yaml").read_text().replace("8090", str(bot_port))
    )
    shell = Shell(
        _environment(settings) | {"HITL_GATEWAY_PORT": str(gateway_port), "HITL_METRICS_PORT": "0"},
        {DOC_BASE: f"http://127.0.0.1:{gateway_port}", "serve": f"serve --port {bot_port}",
         "webhook_bot.py answer": f"webhook_bot.py answer --gateway http://127.0.0.1:{gateway_port}"},
    )  # fmt: skip
    names = re.fullmatch(r"export (\S+)=(\S+) (\S+)=(\S+)", exports.command)
    assert names is not None, exports.command
    shell.env |= {names[1]: str(routing), names[3]: names[4]}
    shell.env["PYTHONPATH"] = ":".join(filter(None, [str(ROOT), shell.env.get("PYTHONPATH")]))
    await shell.check(check)
    async with services(shell, started) as running:
        key, create, answer_, history = asked
        await shell.run(key)
        created = await shell.check(create)
        iid = re.search(r'"id":"([0-9a-f-]{36})"', created)
        assert iid is not None, created
        shell.replace = {**shell.replace, "7d41...": iid[1]}
        bot = running["uv run python docs/examples/webhook_bot.py serve"]
        await eventually(
            lambda: bot.printed(f"requested {iid[1]}: Pay 1200 EUR to ACME? (approve, reject)")
        )
        await shell.check(answer_)
        await eventually(
            lambda: bot.printed(f"settled {iid[1]}: resolved approve by dana@example.com")
        )
        await shell.check(history)
