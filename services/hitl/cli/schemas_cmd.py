"""``hitl schemas export [--dir PATH] [--check]``: write the published contract from the models.

Writes ``json/<message>.schema.json`` (JSON Schema 2020-12), ``asyncapi.yaml`` (AsyncAPI 3.0),
``openapi.json`` (the gateway's REST API, OpenAPI 3.1) and
``json/routing-config.schema.json`` (the routing file, for editors) under ``--dir``. With
``--check`` nothing is written: the command exits 1 listing every file that is missing,
differs from what the models produce, or is no longer produced.
"""

import sys
from pathlib import Path

import click

from hitl.cli.common import examples, finish
from hitl.core.routing.config import routing_schema
from hitl_contract.export import dumps_json
from hitl_contract.files import JSON_DIR, render_files

OPENAPI_FILE = "openapi.json"
ROUTING_FILE = f"{JSON_DIR}/routing-config.schema.json"


def register(app: click.Group) -> None:
    app.add_command(schemas)


@click.group(
    help="The wire contract as JSON Schema, AsyncAPI and OpenAPI files.",
    epilog=examples("hitl schemas export --check"),
)
def schemas() -> None:
    pass


@schemas.command(
    "export",
    help="Write json/*.schema.json, asyncapi.yaml and openapi.json from the models (for the "
    "default namespace 'hitl'). With --check nothing is written: exit 1 listing every file "
    "that is missing, differs from what the models produce, or is no longer produced.",
    epilog=examples("hitl schemas export", "hitl schemas export --dir schemas --check"),
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("schemas"),
    show_default=True,
    help="Where to write (the repository's schemas folder).",
)
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Write nothing; exit 1 listing the files that differ.",
)
def export_command(directory: Path, check_only: bool) -> None:
    finish(check(directory) if check_only else export(directory))


def published_files() -> dict[str, str]:
    """Path relative to the schemas directory -> text: the wire contract and the REST API."""
    from hitl.gateway.app import openapi_document  # the gateway's app, only when exporting

    return {
        **render_files(),
        OPENAPI_FILE: dumps_json(openapi_document()),
        ROUTING_FILE: dumps_json(routing_schema()),
    }


def export(directory: Path) -> int:
    files = published_files()
    for relative, text in sorted(files.items()):
        path = directory / relative
        if _read(path) == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {path}")
    for path in _stale(directory, files):
        print(f"hitl: {path} is no longer produced by any model; delete it", file=sys.stderr)
    print(f"{len(files)} files in {directory} match the models")
    return 0


def check(directory: Path) -> int:
    problems = differences(directory, published_files())
    if not problems:
        print(f"the files in {directory} match the models")
        return 0
    for problem in problems:
        print(problem, file=sys.stderr)
    print(
        f"hitl: {len(problems)} file(s) under {directory} do not match the models; run "
        f"`hitl schemas export --dir {directory}` and commit the result",
        file=sys.stderr,
    )
    return 1


def differences(directory: Path, files: dict[str, str]) -> list[str]:
    """One line per file that is missing, differs, or is stale (no model produces it)."""
    problems: list[str] = []
    for relative, text in sorted(files.items()):
        current = _read(directory / relative)
        if current is None:
            problems.append(f"missing: {directory / relative}")
        elif current != text:
            problems.append(f"differs: {directory / relative}")
    problems.extend(f"stale: {path}" for path in _stale(directory, files))
    return problems


def _stale(directory: Path, files: dict[str, str]) -> list[Path]:
    produced = {directory / relative for relative in files}
    return [
        path
        for path in sorted((directory / JSON_DIR).glob("*.schema.json"))
        if path not in produced
    ]


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
