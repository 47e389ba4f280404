"""Only adapters/amqp/wire.py reaches below aio-pika: no other module under services/ imports
aiormq or pamqp, and the plain path (``fast=False``) works without importing wire.py at all, so
an upgrade that breaks wire.py leaves it usable."""

import ast
import subprocess
import sys
from pathlib import Path

SERVICES = Path(__file__).parents[2] / "services"
WIRE = SERVICES / "hitl" / "adapters" / "amqp" / "wire.py"
BELOW_AIO_PIKA = {"aiormq", "pamqp"}


def imported_packages(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):  # every import, at the top or inside a function
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_wire_imports_aiormq_or_pamqp() -> None:
    offenders = {
        str(path.relative_to(SERVICES)): sorted(below)
        for path in sorted(SERVICES.rglob("*.py"))
        if path != WIRE
        and (below := imported_packages(ast.parse(path.read_text(), str(path))) & BELOW_AIO_PIKA)
    }
    assert offenders == {}, f"only {WIRE.relative_to(SERVICES)} may import {BELOW_AIO_PIKA}"


def test_the_check_sees_the_imports_it_forbids() -> None:
    tree = ast.parse("import aiormq.abc\ndef f():\n    from pamqp.commands import Basic\n")
    assert imported_packages(tree) == BELOW_AIO_PIKA
    assert imported_packages(ast.parse(WIRE.read_text())) >= BELOW_AIO_PIKA


def test_the_plain_path_does_not_import_wire() -> None:
    script = """
import sys
sys.modules["hitl.adapters.amqp.wire"] = None  # importing it now fails, as after a bad upgrade
from hitl.adapters.amqp.acks import Acker
from hitl.adapters.amqp.consumer import Consumer
from hitl.adapters.amqp.publisher import Publisher
Publisher(None, fast=False)
Acker(fast=False)
Consumer(None, None, None, fast=False)
try:
    Acker()
except ImportError:
    print("plain ok, fast needs wire")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.stdout.strip() == "plain ok, fast needs wire", done.stderr
