"""The contract package stands alone: nothing under schemas/hitl_contract imports the service
package ``hitl`` or pydantic-settings, and the SDK does not reach into the broker (services/hitl/sdk
imports no ``hitl.broker``), so a producer needs the contract and the SDK, not the broker."""

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).parents[2]
CONTRACT = ROOT / "schemas" / "hitl_contract"
SDK = ROOT / "services" / "hitl" / "sdk"


def imported_modules(tree: ast.AST) -> Iterator[str]:
    """Every absolute module an import names, at the top or inside a function; for
    ``from a import b`` both ``a`` and ``a.b`` (``b`` may be a submodule)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def offenders(folder: Path, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        modules = imported_modules(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        bad = sorted({m for m in modules if any(within(m, f) for f in forbidden)})
        if bad:
            found[str(path.relative_to(ROOT))] = bad
    return found


def test_the_contract_imports_neither_the_service_nor_its_settings() -> None:
    assert offenders(CONTRACT, ("hitl", "pydantic_settings")) == {}


def test_the_sdk_does_not_import_the_broker() -> None:
    assert offenders(SDK, ("hitl.broker",)) == {}


def test_the_check_sees_the_imports_it_forbids() -> None:
    source = (
        "import hitl\n"
        "import hitl_contract.wire\n"
        "from hitl import broker\n"
        "from hitl_contract import wire\n"
        "from .kinds import KIND_NAMES\n"
        "def f():\n"
        "    from hitl.broker.outbound import render\n"
        "    import pydantic_settings.sources\n"
    )
    modules = set(imported_modules(ast.parse(source)))
    assert {m for m in modules if within(m, "hitl")} == {
        "hitl",
        "hitl.broker",
        "hitl.broker.outbound",
        "hitl.broker.outbound.render",
    }
    assert {m for m in modules if within(m, "hitl.broker")} == {
        "hitl.broker",
        "hitl.broker.outbound",
        "hitl.broker.outbound.render",
    }
    assert "pydantic_settings.sources" in modules
    assert offenders(CONTRACT, ("hitl_contract",))  # the walk does read the contract's files


def test_importing_the_contract_loads_no_service_module() -> None:
    script = (
        "import sys\n"
        "import hitl_contract, hitl_contract.wire, hitl_contract.files\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('hitl', 'pydantic_settings', 'aio_pika', 'redis')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
