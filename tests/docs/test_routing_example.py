"""examples/routing.yaml is valid and its route tests pass, as `hitl routes check` says; and
`hitl routes test` prints the receivers of a request and exits as documented."""

import json
import re
import shlex
from pathlib import Path

import jsonschema
import pytest
import yaml

from hitl.cli.main import main

EXAMPLE = str(Path(__file__).parents[2] / "examples" / "routing.yaml")


def test_the_example_passes_routes_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", "check", EXAMPLE]) == 0
    out = capsys.readouterr().out
    assert "valid: 5 receivers, 5 routes, 1 time windows" in out
    assert "6 route tests: 6 passed, 0 failed" in out


def test_routes_test_prints_receivers_and_checks_expectations(
    capsys: pytest.CaptureFixture[str],
) -> None:
    deploy = ["kind=approval", "node_name=deploy", "env=production"]
    assert (
        main(["routes", "test", EXAMPLE, *deploy, "--expect", "oncall-slack,deploy-webhook"]) == 0
    )
    out = capsys.readouterr().out
    assert "deploy-webhook  (route production-deploys)" in out
    assert main(["routes", "test", EXAMPLE, *deploy, "--expect", "deploy-webhook"]) == 3
    assert "expected deploy-webhook, got deploy-webhook, oncall-slack" in capsys.readouterr().err
    saturday = ["--at", "2026-12-05T10:00:00+01:00"]
    finance = ["kind=approval", "labels.team=finance"]
    assert main(["routes", "test", EXAMPLE, *finance, *saturday, "--expect", "finance-email"]) == 3
    captured = capsys.readouterr()
    assert "held until 2026-12-07T07:00:00Z" in captured.out
    assert "(held: finance-email)" in captured.err
    assert main(["routes", "test", EXAMPLE, "kind"]) == 2
    assert "'kind' is not key=value" in capsys.readouterr().err


def test_a_failing_route_test_and_an_invalid_file_exit_differently(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = Path(EXAMPLE).read_text().replace("expect: [legal-webhook]", "expect: [ops-console]")
    (tmp_path / "failing.yaml").write_text(broken)
    assert main(["routes", "check", str(tmp_path / "failing.yaml")]) == 3
    err = capsys.readouterr().err
    assert "FAIL contracts go to legal: expected ops-console, got legal-webhook" in err
    (tmp_path / "invalid.yaml").write_text(broken.replace("type: email", "type: fax"))
    assert main(["routes", "check", str(tmp_path / "invalid.yaml")]) == 1
    assert "invalid.yaml:15:11: receivers[1].type" in capsys.readouterr().err
    assert main(["routes", "check", str(tmp_path / "missing.yaml")]) == 1
    assert "cannot be read" in capsys.readouterr().err


def _doc_commands() -> list[tuple[str, list[str]]]:
    """Each `uv run hitl ...` line of docs/routing.md's bash blocks, with the output lines
    written under it as comments."""
    text = (Path(EXAMPLE).parents[1] / "docs" / "routing.md").read_text()
    found: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("uv run hitl "):
                found.append((line, []))
            elif line.startswith("# ") and found:
                found[-1][1].append(line[2:])
    return found


@pytest.mark.parametrize(("command", "output"), _doc_commands())
def test_the_commands_in_docs_routing_print_what_it_shows(
    command: str, output: list[str], capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.chdir(Path(EXAMPLE).parents[1])
    main(shlex.split(command)[3:])
    captured = capsys.readouterr()
    printed = (captured.out + captured.err).splitlines()
    assert output and all(line in printed for line in output), printed


def test_the_example_fits_the_published_json_schema() -> None:
    root = Path(EXAMPLE).parents[1]
    schema = json.loads((root / "schemas" / "json" / "routing-config.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    document = yaml.safe_load(Path(EXAMPLE).read_text())
    assert list(validator.iter_errors(document)) == []
    for broken in (
        {**document, "route": {**document["route"], "reminder_every": "soon"}},
        {**document, "receivers": [{"name": "x", "type": "fax"}]},
        {**document, "colour": "red"},
    ):
        assert list(validator.iter_errors(broken)), broken
