"""`hitl notifier CHANNEL` makes each channel from the settings, and says plainly what is
missing, and where the terminal channel is served (no servers needed: it stops before connecting)."""

import pytest

from hitl.cli.main import main
from hitl.cli.notifier_cmd import AVAILABLE, CHANNELS


def test_every_available_channel_is_known_to_the_command() -> None:
    assert set(AVAILABLE) == {"webhook", "email", "slack"} <= set(CHANNELS)


def test_email_without_the_gateways_link_settings_says_which(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HITL_ROUTING_FILE", "examples/routing.yaml")
    monkeypatch.delenv("HITL_GATEWAY_PUBLIC_URL", raising=False)
    monkeypatch.delenv("HITL_LINK_SECRET", raising=False)
    assert main(["notifier", "email"]) == 1
    assert "HITL_GATEWAY_PUBLIC_URL and HITL_LINK_SECRET" in capsys.readouterr().err


def test_the_terminal_channel_is_served_by_the_console(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["notifier", "terminal"]) == 2
    assert "run `hitl console` at a terminal" in capsys.readouterr().err
