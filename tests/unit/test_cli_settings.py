"""Settings are read only by the commands that use them: a bad HITL_* variable is reported by
those, with the setting it concerns, and never breaks ``hitl schemas``."""

import pytest

from hitl.cli.main import main


def test_a_bad_setting_does_not_break_schema_export(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HITL_PREFETCH", "many")
    assert main(["schemas", "export", "--check"]) == 0
    assert capsys.readouterr().err == ""


def test_a_command_that_needs_settings_names_the_bad_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HITL_PREFETCH", "many")
    assert main(["pending"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hitl: invalid settings:")
    assert "prefetch" in err
