"""docs/cli.md is what the commands say about themselves (their --help, generated), every
command's help has an example, and the version and shell completion work as documented."""

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from hitl.cli import reference
from hitl.cli.errors import EXIT_MEANINGS, Exit
from hitl.cli.main import cli, main

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "cli.md"


def test_the_cli_doc_is_generated_from_the_commands() -> None:
    assert DOC.read_text() == reference.render(), (
        "docs/cli.md differs from the commands' help: run "
        "`uv run python -m hitl.cli.reference docs/cli.md` and commit it"
    )


def test_the_drift_check_sees_a_changed_help() -> None:
    command = cli.commands["pending"]
    was = command.help
    command.help = (was or "") + " Changed."
    try:
        assert DOC.read_text() != reference.render()
    finally:
        command.help = was


def commands(group: click.Group, path: str = "hitl") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in group.commands.items():
        found.append((f"{path} {name}", command))
        if isinstance(command, click.Group):
            found += commands(command, f"{path} {name}")
    return found


def test_every_command_has_help_with_an_example() -> None:
    every = commands(cli)
    assert len(every) >= 25, [name for name, _ in every]
    missing = [name for name, c in every if "Examples:" not in (c.epilog or "") or not c.help]
    assert not missing, f"commands without help or an example: {missing}"


def test_exit_codes_are_distinct_and_documented() -> None:
    assert len({int(code) for code in Exit}) == len(Exit)
    assert set(EXIT_MEANINGS) == set(Exit)
    text = DOC.read_text()
    for code, meaning in EXIT_MEANINGS.items():
        assert f"| {code.value} | {meaning} |" in text


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"hitl {importlib.metadata.version('hitl')}\n"


def test_shell_completion_completes_commands_and_choices() -> None:
    script = subprocess.run(
        [sys.executable, "-m", "hitl.cli.main", "completion", "bash"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "_HITL_COMPLETE=bash_complete" in script.stdout

    def complete(words: str) -> list[str]:
        env = {
            **os.environ,
            "_HITL_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
        }
        done = subprocess.run(
            [sys.executable, "-m", "hitl.cli.main"], env=env, capture_output=True, text=True
        )
        return [line.split(",", 1)[1] for line in done.stdout.splitlines()]

    assert complete("hitl re") == ["resume", "respond", "release", "receivers"]
    assert complete("hitl pending --kind cl") == ["clarify"]
