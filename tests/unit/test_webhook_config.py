"""A webhook receiver's settings: one secret or several (a key rotation), headers hitl does not
write itself, and secrets read from where their references point, never quoted."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from hitl.core.routing.config import SecretRef, WebhookReceiver
from hitl.errors import ConfigError
from hitl.notifiers.secrets import EnvOrFileSecrets


def receiver(**settings: object) -> WebhookReceiver:
    return WebhookReceiver.model_validate(
        {"type": "webhook", "name": "bot", "url": "https://bot.example.com/hook", **settings}
    )


def test_secret_and_secrets_both_give_the_signing_secrets() -> None:
    assert receiver().signing_secrets == ()
    assert receiver(secret={"env": "A"}).signing_secrets == (SecretRef(env="A"),)
    rotating = receiver(secrets=[{"env": "NEW"}, {"file": "/run/old"}])
    assert rotating.signing_secrets == (SecretRef(env="NEW"), SecretRef(file="/run/old"))


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ({"secret": {"env": "A"}, "secrets": [{"env": "B"}]}, "give secret or secrets, not both"),
        ({"secrets": []}, "at least 1 item"),
        ({"headers": {"Webhook-Signature": "x"}}, "Webhook-Signature is set by hitl itself"),
        ({"headers": {"content-type": "text/plain"}}, "content-type is set by hitl itself"),
        ({"headers": {"Host": "elsewhere"}}, "Host is set by hitl itself"),
        ({"headers": {"X Token": "x"}}, "'X Token' is not a header name"),
        ({"headers": {"X-Token": "a\r\nInjected: yes"}}, "holds a line break"),
        ({"headers": {"X-Team": "Zürich"}}, "holds a line break, a control character or non-ASCII"),
    ],
)
def test_what_a_receiver_may_not_say(settings: dict[str, object], said: str) -> None:
    with pytest.raises(ValidationError, match=said):
        receiver(**settings)


def test_extra_headers_are_kept_as_written() -> None:
    assert receiver(headers={"Authorization": "Bearer t"}).headers == {"Authorization": "Bearer t"}


def test_secrets_come_from_the_environment_or_a_file_stripped(tmp_path: Path) -> None:
    (tmp_path / "s").write_text("  whsec_abc\n")
    secrets = EnvOrFileSecrets({"HOOK": " whsec_xyz \n"})
    assert secrets(SecretRef(env="HOOK")) == "whsec_xyz"
    assert secrets(SecretRef(file=str(tmp_path / "s"))) == "whsec_abc"


def test_a_missing_secret_names_where_it_was_looked_for_and_nothing_else(tmp_path: Path) -> None:
    secrets = EnvOrFileSecrets({"EMPTY": "  "})
    with pytest.raises(ConfigError, match="environment variable MISSING is unset or empty"):
        secrets(SecretRef(env="MISSING"))
    with pytest.raises(ConfigError, match="environment variable EMPTY is unset or empty"):
        secrets(SecretRef(env="EMPTY"))
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError, match=f"file {missing} cannot be read: No such file"):
        secrets(SecretRef(file=str(missing)))
    (tmp_path / "binary").write_bytes(b"\xffwhsec_secret-bytes")
    with pytest.raises(ConfigError, match="is not UTF-8 text") as caught:
        secrets(SecretRef(file=str(tmp_path / "binary")))
    assert caught.value.__cause__ is None and "secret-bytes" not in str(caught.value)
