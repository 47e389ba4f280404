"""Which hitl source tree a broker runs: the one this process imports (the current tree), or
another one given with ``--baseline-tree DIR`` (``git archive <commit> services schemas bench |
tar -x -C DIR``), run as a process of its own with its ``services`` and ``schemas`` first on
PYTHONPATH. The producers, the responder and this harness are the current tree's in both
cases, so only the broker (and what it writes to Redis) differs."""

import contextlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

import hitl

AFTER = "hitl"  # the current tree: the system name of the end-to-end tables
BEFORE = "before"


@dataclass(frozen=True, slots=True)
class Tree:
    label: str
    root: Path | None  # None: the hitl this process imports

    @property
    def pythonpath(self) -> tuple[str, ...]:
        if self.root is None:
            return ()
        return (str(self.root / "services"), str(self.root / "schemas"))

    def describe(self) -> str:
        if self.root is None:
            return f"{self.label}: {_current_source()}"
        return f"{self.label}: {self.root}"


CURRENT = Tree(AFTER, None)


def baseline_tree(path: Path) -> Tree:
    """The tree at ``path``, checked to hold hitl's services and contract."""
    root = path.expanduser().resolve()
    for part in ("services/hitl/__init__.py", "schemas/hitl_contract/__init__.py"):
        if not (root / part).is_file():
            raise ValueError(
                f"--baseline-tree {path}: no {part} there; make one with "
                f"`git archive <commit> services schemas bench | tar -x -C {path}`"
            )
    return Tree(BEFORE, root)


def _current_source() -> str:
    """Where this process's hitl comes from, with the checkout's commit when it is one."""
    source = Path(hitl.__file__).resolve().parent.parent.parent
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(
            ["git", "-C", str(source), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if done.returncode == 0:
            return f"{source} (commit {done.stdout.strip()})"
    return str(source)
