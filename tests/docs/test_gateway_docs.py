"""The gateway's docs, run: the README tour's gateway step and the sessions of docs/gateway.md
start a real ``hitl gateway`` (the documented command, on a fresh namespace and port, beside a
broker), run every documented command (curl included) and check each prints what the page shows
under it (``tests.docs.sessions`` says how ids and times that vary are matched). Also: every
problem type the gateway's code can send has its entry in docs/gateway.md#problems."""

import ast
import asyncio
import contextlib
import os
import re
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from hitl.broker.service import BrokerService
from hitl.gateway import problems
from hitl.settings import Settings
from tests.docs.sessions import Shell, Step, mismatch, session
from tests.helpers import eventually

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
GATEWAY_DOC = ROOT / "docs" / "gateway.md"
GATEWAY_CODE = ROOT / "services" / "hitl" / "gateway"
DOC_BASE = "http://127.0.0.1:8080"
START = "uv run hitl gateway"


def _environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}
    for name, value in settings.model_dump(mode="json").items():
        if value is not None and not isinstance(value, list | dict):
            env[f"HITL_{name.upper()}"] = str(value)
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def shell(settings: Settings) -> Shell:
    if shutil.which("curl") is None:
        pytest.fail("the docs' examples use curl, which is not installed: apt-get install curl")
    port = _free_port()
    env = _environment(settings) | {"HITL_GATEWAY_PORT": str(port)}
    return Shell(env, {DOC_BASE: f"http://127.0.0.1:{port}"})


@contextlib.asynccontextmanager
async def started(shell: Shell, step: Step) -> AsyncIterator[None]:
    """The documented ``uv run hitl gateway`` as a process, until it is ready; SIGTERM after."""
    assert step.command.startswith(START), f"{step.where}: the session starts with {START}"
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        f"exec {shell.prepare(step.command)}",
        env=shell.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    base = shell.replace[DOC_BASE]
    try:
        async with httpx.AsyncClient(base_url=base) as http:

            async def ready() -> bool:
                if process.returncode is not None:
                    output = await process.stdout.read() if process.stdout else b""
                    raise AssertionError(f"hitl gateway exited: {output.decode()}")
                try:
                    return (await http.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, timeout=30)
        yield
    finally:
        if process.returncode is None:
            process.terminate()
            output, _ = await asyncio.wait_for(process.communicate(), 30)
            assert process.returncode == 0, output.decode()


async def _demo(shell: Shell) -> tuple[asyncio.subprocess.Process, str]:
    """README step 2: `uv run hitl demo`, asking and waiting; (the process, the id it asked)."""
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        f"exec {shell.prepare('uv run hitl demo ')}",
        env=shell.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    first = await asyncio.wait_for(process.stdout.readline(), 30)
    asked = re.fullmatch(r"asked: approval ([0-9a-f-]{36})\n", first.decode())
    assert asked, first
    return process, asked.group(1)


async def test_the_readme_tour_answers_over_http(
    broker: BrokerService, settings: Settings, shell: Shell
) -> None:
    start, *steps = session(README, marker="gateway-tour")
    assert [s.command.split(" ")[:2] for s in steps] == [
        ["export", "HITL_KEY=$(uv"],
        ["curl", "-s"],
        ["curl", "-s"],
        ["curl", "-s"],
    ]
    async with started(shell, start):
        demo, interaction_id = await _demo(shell)
        try:
            shell.replace = {**shell.replace, "0b6e...": interaction_id}
            for step in steps:
                await shell.check(step)
            out, _ = await asyncio.wait_for(demo.communicate(), 30)
        finally:
            if demo.returncode is None:
                demo.kill()
                await demo.wait()
    assert demo.returncode == 0
    assert "outcome: resolved (approve) decided by person" in out.decode()
    assert '"id": "alice@example.com"' in out.decode()


async def test_the_gateway_doc_session_prints_what_it_shows(
    broker: BrokerService, settings: Settings, shell: Shell
) -> None:
    start, *steps = session(GATEWAY_DOC)
    assert len(steps) >= 20, [s.command for s in steps]
    async with started(shell, start):
        for step in steps:
            await shell.check(step)


def test_the_session_checks_can_fail() -> None:
    """The matching is not vacuous: values, members, order and placeholders all count."""
    assert mismatch(['{"a":1,...}'], '{"a":1,"b":2}') is None
    assert mismatch(['{"a":1}'], '{"a":1,"b":2}') is not None  # no bare ...: exactly these
    assert mismatch(['{"a":2,...}'], '{"a":1,"b":2}') is not None
    assert mismatch(['{"id":"3f9c..."}'], '{"id":"77aa"}') is None
    assert mismatch(['{"id":"demo-..."}'], '{"id":"test-1"}') is not None
    assert mismatch(["[1,...]"], "[1,2,3]") is None
    assert mismatch(["[1]"], "[1,2]") is not None
    assert mismatch(["key 3f9c... for alice"], "key 0a1b2c for alice\n") is None
    assert mismatch(["key 3f9c... for alice"], "key 0a1b2c for bob\n") is not None
    assert mismatch(["b", "a"], "a\nb\n") is not None
    assert mismatch(['{"a":', "  [1, 2]}"], 'x\n{"a":[1,2]}') is None


# --- problem types ----------------------------------------------------------------------------


def problem_kinds_in_code() -> dict[str, str]:
    """Every problem kind the gateway's code can send: the ``kind`` argument of each
    ``Problem(...)`` and ``from_detail(...)``, with where it is. A kind passed through from a
    parameter of the function around the call (``from_detail`` itself) is its callers'."""
    found: dict[str, str] = {}
    for path in sorted(GATEWAY_CODE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for function, call in _problem_calls(tree):
            kind = next((k.value for k in call.keywords if k.arg == "kind"), None)
            if kind is None and len(call.args) >= 2:
                kind = call.args[1]
            if kind is None:
                continue
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            if isinstance(kind, ast.Name) and function is not None:
                arguments = (
                    function.args.posonlyargs + function.args.args + function.args.kwonlyargs
                )
                if kind.id in {a.arg for a in arguments}:
                    continue
            literals = [
                n.value
                for n in ast.walk(kind)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            ]
            assert literals, f"{where}: a problem kind that is not written out: {ast.unparse(kind)}"
            for literal in literals:
                found.setdefault(literal, where)
    return found


Function = ast.FunctionDef | ast.AsyncFunctionDef


def _problem_calls(tree: ast.AST) -> list[tuple[Function | None, ast.Call]]:
    """(the innermost function around it, the call) for each Problem(...) and from_detail(...)."""
    calls: list[tuple[Function | None, ast.Call]] = []

    def visit(node: ast.AST, function: Function | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, Function) else function
            if isinstance(child, ast.Call):
                name = getattr(child.func, "id", getattr(child.func, "attr", None))
                if name in ("Problem", "from_detail"):
                    calls.append((function, child))
            visit(child, inner)

    visit(tree, None)
    return calls


def problem_kinds_documented() -> list[str]:
    text = GATEWAY_DOC.read_text()
    section = re.search(r"^## Problems\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    assert section, "docs/gateway.md has no '## Problems' section"
    return re.findall(r"^### ([a-z]+(?:-[a-z]+)*)$", section.group(1), flags=re.M)


def test_every_problem_type_has_an_entry_in_the_docs() -> None:
    assert problems.TYPE_BASE == "https://hitl.dev/problems/"
    in_code = problem_kinds_in_code()
    assert len(in_code) >= 15, in_code  # the scan finds them (not vacuously empty)
    documented = problem_kinds_documented()
    missing = {kind: where for kind, where in in_code.items() if kind not in documented}
    assert not missing, f"docs/gateway.md#problems has no entry for {missing}"
    stale = sorted(set(documented) - set(in_code))
    assert not stale, f"docs/gateway.md#problems documents kinds the code never sends: {stale}"
    assert len(documented) == len(set(documented)), "a problem kind is documented twice"


def test_the_problem_scan_sees_computed_kinds() -> None:
    """Kinds chosen by an expression (a mapping, a default) are all found."""
    found = problem_kinds_in_code()
    assert {"not-found", "method-not-allowed", "http-error"} <= set(found)
