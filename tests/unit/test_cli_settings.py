"""Settings are read only by the commands that use them: a bad HITL_* variable is reported by
those, as the variable a person set (its name, what was given, what is allowed), and never
breaks ``hitl schemas``, ``--help`` or a command that goes through the gateway."""

from pathlib import Path

import pytest

from hitl.cli.main import main


def test_a_bad_setting_does_not_break_schema_export(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HITL_PREFETCH", "many")
    assert main(["schemas", "export", "--check"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["pending", "--help"]) == 0


def test_a_command_that_needs_settings_names_the_bad_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HITL_PREFETCH", "many")
    monkeypatch.setenv("HITL_LOG_LEVEL", "LOUD")
    assert main(["pending"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("hitl: invalid settings: HITL_PREFETCH='many' is not valid (")
    assert "allowed: an integer, at least 1, at most 65535" in line
    assert "HITL_LOG_LEVEL='LOUD' is not valid" in line
    assert "allowed: DEBUG, INFO, WARNING, ERROR" in line


def test_a_value_from_the_config_file_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "hitl.toml"
    config.write_text("shards = 0\n")
    monkeypatch.setenv("HITL_CONFIG", str(config))
    assert main(["show", "thread-1"]) == 2
    err = capsys.readouterr().err
    assert f"HITL_SHARDS=0 (from {config}) is not valid" in err and "at least 1" in err


def test_commands_through_the_gateway_do_not_read_the_servers_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HITL_PREFETCH", "many")
    monkeypatch.setenv("HITL_GATEWAY_URL", "http://127.0.0.1:9")  # discard: nothing listens
    monkeypatch.setenv("HITL_GATEWAY_KEY", "hitl_x_y")
    assert main(["pending"]) == 7
    [line] = capsys.readouterr().err.splitlines()
    assert "cannot reach the gateway at http://127.0.0.1:9" in line
    assert "check HITL_GATEWAY_URL" in line and "PREFETCH" not in line
